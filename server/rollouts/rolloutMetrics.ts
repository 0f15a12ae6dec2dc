/**
 * Where canary analysis gets its numbers: per subset, per interval. The built-in store is the
 * telemetry store SDK clients and the gateway report to (one replica); a Prometheus-backed
 * implementation answers the same interface from `increase(...[interval])` for several replicas.
 */
import type { Service } from '../../protocol/model';
import type { SubsetMetrics } from '../../protocol/rollout';
import { drainId, inSubset } from '../../protocol/traffic';
import { BUCKET_MS, type TelemetryStore } from '../telemetry/telemetryStore';

export interface RolloutSubsets {
  canary: Subset;
  stable: Subset;
}

export interface RolloutMetrics {
  /** Starts an interval for `key` (one per rollout) at `now`; the next measure covers from here. */
  begin(key: string, service: Service, subsets: RolloutSubsets, now: number): void;
  /** Canary and stable over the interval since `begin` (or the last measure); starts the next one. */
  measure(key: string, service: Service, subsets: RolloutSubsets, now: number): Promise<{ canary: SubsetMetrics; stable: SubsetMetrics }>;
  forget(key: string): void;
}

type Subset = { tags: string[] };
type Counts = Map<string, { requests: number; errors: number }>;

/**
 * From the built-in telemetry store's 5 s buckets per instance: each measure takes what every
 * bucket gained since the previous snapshot, so an interval shorter than a bucket counts only
 * its own requests. Known limitation: the store keeps quantiles, not histograms, per bucket, so
 * a subset's p99 is the worst p99 among the buckets (of its instances) that gained requests in
 * the interval — conservative for the canary, and for the stable side it only loosens the
 * relative check.
 */
export class TelemetryRolloutMetrics implements RolloutMetrics {
  private readonly snapshots = new Map<string, Counts>();
  constructor(private readonly telemetry: TelemetryStore) {}

  begin(key: string, service: Service, _subsets: RolloutSubsets, now: number): void {
    this.snapshots.set(key, this.counts(service, now));
  }

  async measure(key: string, service: Service, subsets: RolloutSubsets, now: number): Promise<{ canary: SubsetMetrics; stable: SubsetMetrics }> {
    const before = this.snapshots.get(key) ?? new Map();
    const after = this.counts(service, now);
    this.snapshots.set(key, after);
    const side = (subset: Subset): SubsetMetrics => {
      let requests = 0;
      let errors = 0;
      let p99: number | null = null;
      for (const inst of service.instances) {
        if (!inSubset(inst, subset)) continue;
        for (const point of this.telemetry.points(service.name, drainId(inst.id), now)) {
          const k = `${inst.id}@${point.t}`;
          const now_ = after.get(k);
          const then = before.get(k) ?? { requests: 0, errors: 0 };
          if (!now_ || now_.requests <= then.requests) continue;
          requests += now_.requests - then.requests;
          errors += Math.max(0, now_.errors - then.errors);
          if (point.p99 !== null) p99 = Math.max(p99 ?? 0, point.p99);
        }
      }
      return { requests, errorRate: requests > 0 ? Math.min(1, errors / requests) : 0, p99Ms: requests > 0 ? p99 : null };
    };
    return { canary: side(subsets.canary), stable: side(subsets.stable) };
  }

  forget(key: string): void {
    this.snapshots.delete(key);
  }

  private counts(service: Service, now: number): Counts {
    const out: Counts = new Map();
    for (const inst of service.instances) {
      for (const p of this.telemetry.points(service.name, drainId(inst.id), now)) {
        const requests = Math.round((p.rps * BUCKET_MS) / 1000);
        out.set(`${inst.id}@${p.t}`, { requests, errors: Math.round((p.errorRate ?? 0) * requests) });
      }
    }
    return out;
  }
}
