/**
 * Exponential backoff with jitter: the n-th retry (n >= 1) waits between half and all of min(cap, base * 2^(n-1)),
 * so that instances throttled together do not come back together.
 */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
