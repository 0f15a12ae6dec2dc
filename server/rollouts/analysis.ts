/**
 * One analysis interval, canary against stable (DESIGN.md "Rollouts"): pure, no clock, no I/O.
 * Too few canary requests is "inconclusive" (ok: null) — never a pass. Relative checks need the
 * stable side to have `minRequests` of its own; an error-free stable compares against a floor of
 * 0.1 % so one canary error in a thousand is not "infinitely worse", and a stable p99 under 50 ms
 * compares as 50 ms: a few dozen canary requests on a busy host easily show a p99 several times
 * a fast stable one's (seen in bench:rollout), which is noise, not a slow release.
 */
import type { Analysis, SubsetMetrics } from '../../protocol/rollout';

export const RELATIVE_ERROR_FLOOR = 0.001;
export const RELATIVE_P99_FLOOR_MS = 50;

export interface Verdict {
  ok: boolean | null;
  /** Failed or inconclusive: which metric, its value and the threshold, e.g. "canary error rate 21.4 % > 1 %". */
  why?: string;
}

export function analyse(canary: SubsetMetrics, stable: SubsetMetrics, a: Analysis): Verdict {
  if (canary.requests < a.minRequests) return { ok: null, why: `inconclusive: ${canary.requests} canary requests < ${a.minRequests}` };
  const failed: string[] = [];
  if (canary.errorRate > a.maxErrorRate) failed.push(`canary error rate ${pct(canary.errorRate)} > ${pct(a.maxErrorRate)}`);
  const comparable = stable.requests >= a.minRequests;
  if (comparable && a.maxErrorRateVsStable !== null) {
    const base = Math.max(stable.errorRate, RELATIVE_ERROR_FLOOR);
    if (canary.errorRate > base * a.maxErrorRateVsStable) failed.push(`canary error rate ${pct(canary.errorRate)} > ${num(a.maxErrorRateVsStable)}× stable ${pct(stable.errorRate)}`);
  }
  if (a.maxP99Ms !== null && canary.p99Ms !== null && canary.p99Ms > a.maxP99Ms) failed.push(`canary p99 ${num(canary.p99Ms)} ms > ${num(a.maxP99Ms)} ms`);
  if (comparable && a.maxP99VsStable !== null && canary.p99Ms !== null && stable.p99Ms !== null && canary.p99Ms > Math.max(stable.p99Ms, RELATIVE_P99_FLOOR_MS) * a.maxP99VsStable) {
    failed.push(`canary p99 ${num(canary.p99Ms)} ms > ${num(a.maxP99VsStable)}× stable ${num(stable.p99Ms)} ms`);
  }
  return failed.length ? { ok: false, why: failed.join('; ') } : { ok: true };
}

/** 0.214 → "21.4 %", 0.01 → "1 %". */
export function pct(rate: number): string {
  return `${num(Math.round(rate * 1000) / 10)} %`;
}

function num(n: number): string {
  return String(Math.round(n * 100) / 100);
}
