/** Up to ±20% of a delay, so that deliveries failed together do not all retry together. */
const JITTER = 0.2;

const jittered = (ms: number, random: () => number) => Math.round(ms * (1 + (random() * 2 - 1) * JITTER));

/**
 * The wait before retrying a webhook whose `attempt`-th attempt failed: the schedule's next delay with jitter, or a
 * receiver's Retry-After (429, 503) when sooner, since the schedule's delay is the most it may ask. Undefined once the
 * schedule is spent: the delivery has failed.
 */
export function webhookRetryDelay(
  schedule: readonly number[],
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number | undefined {
  const next = schedule[attempt - 1];
  if (next === undefined) return undefined;
  const delay = jittered(next, random);
  return retryAfterMs === undefined ? delay : Math.min(retryAfterMs, delay);
}

const HOST_RETRY_BASE_MS = 1000;
const HOST_RETRY_MAX_MS = 300000;

/**
 * The wait before calling the host's handlers again after their `attempt`-th call threw: doubling from 1 s up to
 * 5 min, with jitter. Host handlers are retried without end: the host's own code can be fixed and redeployed, and the
 * event is kept (not pruned) until it is handled.
 */
export function hostRetryDelay(attempt: number, random: () => number = Math.random): number {
  return jittered(Math.min(HOST_RETRY_MAX_MS, HOST_RETRY_BASE_MS * 2 ** Math.min(attempt - 1, 20)), random);
}
