import { hostRetryDelay, webhookRetryDelay } from './delivery-schedule';

const lowest = () => 0;
const highest = () => 1 - Number.EPSILON;
const middle = () => 0.5;

describe('webhookRetryDelay', () => {
  const schedule = [5000, 300000];

  it("takes the schedule's delay for the attempt that failed, within ±20%", () => {
    expect(webhookRetryDelay(schedule, 1, undefined, middle)).toBe(5000);
    expect(webhookRetryDelay(schedule, 1, undefined, lowest)).toBe(4000);
    expect(webhookRetryDelay(schedule, 2, undefined, highest)).toBe(360000);
  });

  it('is spent after the last delay: the delivery has failed', () => {
    expect(webhookRetryDelay(schedule, 3, undefined, middle)).toBeUndefined();
  });

  it("honours Retry-After when sooner, never beyond the schedule's delay", () => {
    expect(webhookRetryDelay(schedule, 2, 7000, middle)).toBe(7000);
    expect(webhookRetryDelay(schedule, 1, 3600000, middle)).toBe(5000);
    expect(webhookRetryDelay(schedule, 1, 0, middle)).toBe(0);
  });
});

describe('hostRetryDelay', () => {
  it('doubles from 1 s up to 5 min, with jitter', () => {
    expect([1, 2, 3, 9, 10, 50].map((attempt) => hostRetryDelay(attempt, middle))).toEqual([1000, 2000, 4000, 256000, 300000, 300000]);
    expect(hostRetryDelay(1, lowest)).toBe(800);
  });
});
