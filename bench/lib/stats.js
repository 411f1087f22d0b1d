'use strict';
// Percentile math for the benchmarks: nearest-rank percentiles over the raw samples (no histogram buckets),
// so p99 of 2,000 samples is the 1,980th smallest.

/** Nearest-rank percentile of an ascending array (p in 0..100). */
function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  if (p <= 0) return sorted[0];
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** n, min, p50, p90, p99, max and mean of a list of numbers (milliseconds, usually). */
function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { n: 0, min: null, p50: null, p90: null, p99: null, max: null, mean: null };
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    n,
    min: sorted[0],
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[n - 1],
    mean: sum / n,
  };
}

const median = (values) => summarize(values).p50;

/** a / b, or null when either is missing or b is 0. */
function ratio(a, b) {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}

/**
 * The most events inside any window of `windowMs` (by time), and the share of `budget` it is; plus, over every
 * full window from the first event to the last, the mean number of events per window (how much of the budget was
 * used on average). Times in ms, any order.
 */
function slidingWindowUse(times, windowMs, budget) {
  const sorted = [...times].sort((a, b) => a - b);
  let busiest = 0;
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while (sorted[end] - sorted[start] >= windowMs) start++;
    busiest = Math.max(busiest, end - start + 1);
  }
  // Windows ending at each event after the first full window: how many events each held.
  const perWindow = [];
  if (sorted.length > 0) {
    const first = sorted[0];
    for (let start = 0, end = 0; end < sorted.length; end++) {
      while (sorted[end] - sorted[start] >= windowMs) start++;
      if (sorted[end] - first >= windowMs) perWindow.push(end - start + 1);
    }
  }
  const spanMs = sorted.length > 1 ? sorted[sorted.length - 1] - sorted[0] : 0;
  return {
    events: sorted.length,
    busiestWindow: busiest,
    busiestShare: ratio(busiest, budget),
    spanMs,
    /**
     * The mean rate over the whole span as a share of the budget: a perfect sliding-window user sends `budget` at
     * once and then `budget` per window, so after the first `budget` events the rest take (n - budget) / budget
     * windows. 1.0 means the budget was used fully from the first event to the last.
     */
    meanShare: spanMs > 0 && sorted.length > budget ? ratio(((sorted.length - budget) * windowMs) / spanMs, budget) : null,
    /** Windows (ending at an event, at least one window after the first event) holding fewer than the budget. */
    windowsBelowBudget: perWindow.filter((count) => count < budget).length,
    windowsMeasured: perWindow.length,
    minWindow: perWindow.length > 0 ? Math.min(...perWindow) : null,
  };
}

module.exports = { percentile, summarize, median, ratio, slidingWindowUse };
