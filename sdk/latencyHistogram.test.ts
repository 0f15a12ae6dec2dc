import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS_MS, newHistogram, quantile, recordLatency, toCurrentLayout } from './latencyHistogram';

const filled = (samples: number[]) => {
  const h = newHistogram();
  for (const ms of samples) recordLatency(h, ms);
  return h;
};

describe('latency histogram', () => {
  it('fits the wire (at most 32 counts) and keeps every bound of the first layout', () => {
    expect(newHistogram().length).toBeLessThanOrEqual(32);
    for (const old of [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]) expect(LATENCY_BUCKETS_MS).toContain(old);
    expect([...LATENCY_BUCKETS_MS]).toEqual([...LATENCY_BUCKETS_MS].sort((a, b) => a - b));
  });

  it('reads sub-millisecond and low-millisecond latencies true, not as the next coarse bound', () => {
    expect(quantile(filled(Array(100).fill(0.3)), 0.5)).toBeGreaterThan(0.25);
    expect(quantile(filled(Array(100).fill(0.3)), 0.5)).toBeLessThanOrEqual(0.5);
    // 99 samples at 3 ms and one slow one: p50 inside (2, 3], p99 at most 3, not 5.
    const h = filled([...Array(99).fill(3), 400]);
    expect(quantile(h, 0.5)).toBeCloseTo(2.51, 2);
    expect(quantile(h, 0.99)).toBe(3);
    expect(quantile(h, 1)).toBe(500);
  });

  it('interpolates linearly across a bucket', () => {
    // 10 samples in (5, 7.5]: the median is halfway through.
    expect(quantile(filled(Array(10).fill(6)), 0.5)).toBe(6.25);
    expect(quantile(filled(Array(10).fill(6)), 0)).toBe(5);
  });

  it('answers "more than 10 s" with the last bound, and null without samples', () => {
    expect(quantile(filled([60_000]), 0.99)).toBe(10_000);
    expect(quantile(newHistogram(), 0.5)).toBeNull();
  });
});

describe('toCurrentLayout', () => {
  it('moves counts of the first, coarser layout under the same upper bound, and drops unknown layouts', () => {
    const legacy = [3, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]; // ≤1 ms: 3, ≤5 ms: 5, >10 s: 1
    const now = toCurrentLayout(legacy);
    expect(now).toHaveLength(LATENCY_BUCKETS_MS.length + 1);
    expect(now[LATENCY_BUCKETS_MS.indexOf(1)]).toBe(3);
    expect(now[LATENCY_BUCKETS_MS.indexOf(5)]).toBe(5);
    expect(now.at(-1)).toBe(1);
    expect(now.reduce((a, b) => a + b, 0)).toBe(9);
    expect(toCurrentLayout([1, 2, 3]).every((n) => n === 0)).toBe(true);
    expect(toCurrentLayout(now)).toEqual(now);
  });
});
