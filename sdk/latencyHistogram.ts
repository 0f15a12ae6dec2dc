/**
 * Fixed-bucket latency histogram: cheap to record, cheap to send (a dozen counters), and
 * mergeable across clients, so the control plane can compute p50/p99 over any set of them.
 */
/** Upper bounds in ms; the last bucket is everything above 10 s. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export function newHistogram(): number[] {
  return new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
}

export function recordLatency(histogram: number[], ms: number): void {
  let i = 0;
  while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
  histogram[i]!++;
}

/** The bucket upper bound under which `q` (0–1) of the samples fall; null without samples. */
export function quantile(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i]! : LATENCY_BUCKETS_MS.at(-1)! * 2;
  }
  return null;
}
