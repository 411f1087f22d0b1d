import { performance } from 'node:perf_hooks';
import { isTransientDatabaseError } from '../persistence/database-errors';
import { backoffMs } from './backoff';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;

/**
 * Runs `write` until it succeeds, retrying with backoff while the database is briefly unreachable, and only until
 * `deadline` (a performance.now() instant: a span measured on the monotonic clock, which no clock skew can move).
 * A refusal of the data, or the deadline, ends the retries with the last error.
 */
export async function retryWhileTransient<T>(write: () => Promise<T>, deadline: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      const pause = backoffMs(attempt, FIRST_RETRY_MS, MAX_RETRY_MS);
      if (!isTransientDatabaseError(error) || performance.now() + pause >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
