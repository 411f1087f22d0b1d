import { FailedAuthLimiter } from './failed-auth-limiter';

describe('FailedAuthLimiter', () => {
  it('blocks an address after `limit` failures within the window, until the oldest leaves it', () => {
    const limiter = new FailedAuthLimiter(3, 1000);
    limiter.recordFailure('a', 0);
    limiter.recordFailure('a', 100);
    expect(limiter.blockedForMs('a', 150)).toBe(0);
    limiter.recordFailure('a', 200);
    expect(limiter.blockedForMs('a', 250)).toBe(750);
    expect(limiter.blockedForMs('b', 250)).toBe(0);
    expect(limiter.blockedForMs('a', 1000)).toBe(0);
  });

  it('keeps at most maxAddresses addresses, dropping the stalest', () => {
    const limiter = new FailedAuthLimiter(1, 1000, 2);
    limiter.recordFailure('a', 0);
    limiter.recordFailure('b', 1);
    limiter.recordFailure('c', 2);
    expect(limiter.blockedForMs('a', 3)).toBe(0);
    expect(limiter.blockedForMs('b', 3)).toBeGreaterThan(0);
    expect(limiter.blockedForMs('c', 3)).toBeGreaterThan(0);
  });
});
