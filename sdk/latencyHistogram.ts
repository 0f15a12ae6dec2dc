/**
 * Fixed-bucket latency histogram: cheap to record, cheap to send (under 32 counters), and
 * mergeable across clients, so the control plane can compute p50/p99 over any set of them.
 *
 * The bounds are dense where services on one network live (0.25–10 ms) and every bound of the
 * first, coarser layout (1, 2, 5, 10, 25, … ms) is still a bound, so counts from an older client
 * still fall under the right upper bound. Quantiles interpolate linearly within a bucket
 * (as Prometheus' `histogram_quantile` does): a p50 of 2.4 ms reads 2.4, not "≤ 3".
 */
/** Upper bounds in ms; the last bucket is everything above 10 s. At most 31 (the wire carries ≤ 32 counts). */
export const LATENCY_BUCKETS_MS = [
  0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 25, 35, 50, 75, 100, 150, 250, 350, 500, 750, 1000, 1500, 2500, 5000, 10000,
] as const;

/** The first layout (SDKs before the finer buckets): 13 bounds, 14 counts. */
const LEGACY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

/**
 * Counts from any SDK version in the current layout. A report carries no layout name, but the
 * two layouts differ in length; every legacy bound is a current bound, so legacy counts move to
 * the bucket with the same upper bound. An unknown length carries no usable latency: zeros.
 */
export function toCurrentLayout(counts: readonly number[]): number[] {
  if (counts.length === LATENCY_BUCKETS_MS.length + 1) return [...counts];
  const out = newHistogram();
  if (counts.length !== LEGACY_BUCKETS_MS.length + 1) return out;
  counts.forEach((n, i) => {
    const bound = LEGACY_BUCKETS_MS[i];
    const at = bound === undefined ? LATENCY_BUCKETS_MS.length : LATENCY_BUCKETS_MS.indexOf(bound);
    out[at] = (out[at] ?? 0) + n;
  });
  return out;
}

export function newHistogram(): number[] {
  return new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
}

export function recordLatency(histogram: number[], ms: number): void {
  let i = 0;
  while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
  histogram[i]!++;
}

/**
 * The latency under which `q` (0–1) of the samples fall, in ms rounded to 0.01, interpolated
 * within its bucket on the assumption that samples spread evenly over it; null without samples.
 * Above the last bound nothing is known but "more than 10 s": that bucket answers its lower bound.
 */
export function quantile(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    const count = histogram[i]!;
    if (count === 0 || seen + count < rank) {
      seen += count;
      continue;
    }
    const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!;
    if (i >= LATENCY_BUCKETS_MS.length) return lower;
    const upper = LATENCY_BUCKETS_MS[i]!;
    return Math.round((lower + ((upper - lower) * (rank - seen)) / count) * 100) / 100;
  }
  return null;
}
