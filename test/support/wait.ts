import { waitUntil } from '../../bench/lib/wait-until';

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs` (15 s for tests)
 * with the description and the last error. Tests wait on conditions, never on fixed sleeps. The one polling loop is
 * the benchmarks' (bench/lib/wait-until.ts), which the fault scenario shares with the suite.
 */
export function waitFor<T>(
  description: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 15000, intervalMs = 50 } = {},
): Promise<T> {
  return waitUntil(description, probe, { timeoutMs, intervalMs });
}
