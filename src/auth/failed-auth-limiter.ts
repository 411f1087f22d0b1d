import { performance } from 'node:perf_hooks';

/**
 * Counts failed client authentications per address in a sliding window: past `limit` failures, the address is
 * refused (429) until its oldest counted failure leaves the window, before any key is compared, so keys cannot be
 * guessed at request speed. In memory per instance, like the request throttle: a brake on guessing, not state.
 */
export class FailedAuthLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    /** Addresses tracked at most; beyond, the stalest are dropped (a flood of addresses must not grow memory). */
    private readonly maxAddresses = 10_000,
  ) {}

  /** Milliseconds until the address may try again, or 0 when it may try now. */
  blockedForMs(address: string, now = performance.now()): number {
    const recent = this.recent(address, now);
    return recent.length >= this.limit ? recent[0] + this.windowMs - now : 0;
  }

  recordFailure(address: string, now = performance.now()): void {
    const recent = this.recent(address, now);
    recent.push(now);
    if (recent.length > this.limit) recent.shift();
    this.failures.delete(address);
    this.failures.set(address, recent);
    if (this.failures.size > this.maxAddresses) this.failures.delete(this.failures.keys().next().value!);
  }

  private recent(address: string, now: number): number[] {
    const kept = (this.failures.get(address) ?? []).filter((at) => at > now - this.windowMs);
    if (kept.length === 0) this.failures.delete(address);
    return kept;
  }
}
