/**
 * Where canary analysis gets its numbers: per subset, per interval, through the telemetry reader
 * (server/telemetry/telemetryReader.ts). The built-in store is the one SDK clients and the
 * gateway report to (one replica): its 5 s buckets are diffed between measures. The Prometheus
 * store answers each interval directly with `increase(...[interval])` (any number of replicas).
 */
import type { Service } from '../../protocol/model';
import type { SubsetMetrics } from '../../protocol/rollout';
import { drainId, inSubset } from '../../protocol/traffic';
import type { SeriesPoint, TelemetryReader } from '../telemetry/telemetryReader';
import { BUCKET_MS } from '../telemetry/telemetryStore';

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
 * From the telemetry reader. With a store that answers arbitrary windows (`totals`, Prometheus):
 * requests, errors and p99 to each subset's instances between `begin` (or the last measure) and
 * now. Otherwise (the built-in store's 5 s buckets per instance): each measure takes what every
 * bucket gained since the previous snapshot, so an interval shorter than a bucket counts only
 * its own requests. Known limitation there: the store keeps quantiles, not histograms, per
 * bucket, so a subset's p99 is the worst p99 among the buckets (of its instances) that gained
 * requests in the interval — conservative for the canary, and for the stable side it only
 * loosens the relative check.
 */
export class TelemetryRolloutMetrics implements RolloutMetrics {
  private readonly snapshots = new Map<string, Counts>();
  private readonly since = new Map<string, number>();
  /** Points read for the last snapshot, by service name: the measure that follows reuses them. */
  constructor(private readonly telemetry: TelemetryReader) {}

  begin(key: string, service: Service, _subsets: RolloutSubsets, now: number): void {
    this.since.set(key, now);
    if (this.telemetry.totals) return;
    // Snapshot asynchronously; a measure that comes first finds none and counts from zero.
    void this.points(service, now)
      .then((points) => this.snapshots.set(key, counts(points)))
      .catch(() => undefined);
  }

  async measure(key: string, service: Service, subsets: RolloutSubsets, now: number): Promise<{ canary: SubsetMetrics; stable: SubsetMetrics }> {
    const from = this.since.get(key) ?? now;
    this.since.set(key, now);
    const totals = this.telemetry.totals?.bind(this.telemetry);
    if (totals) {
      const side = async (subset: Subset): Promise<SubsetMetrics> => {
        const ids = service.instances.filter((i) => inSubset(i, subset)).map((i) => drainId(i.id));
        const t = await totals(service.name, ids, from, now);
        return { requests: t.requests, errorRate: t.requests > 0 ? Math.min(1, t.errors / t.requests) : 0, p99Ms: t.requests > 0 ? t.p99Ms : null };
      };
      const [canary, stable] = await Promise.all([side(subsets.canary), side(subsets.stable)]);
      return { canary, stable };
    }
    const before = this.snapshots.get(key) ?? new Map();
    const points = await this.points(service, now);
    const after = counts(points);
    this.snapshots.set(key, after);
    const side = (subset: Subset): SubsetMetrics => {
      let requests = 0;
      let errors = 0;
      let p99: number | null = null;
      for (const inst of service.instances) {
        if (!inSubset(inst, subset)) continue;
        for (const point of points.get(drainId(inst.id)) ?? []) {
          const k = `${drainId(inst.id)}@${point.t}`;
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
    this.since.delete(key);
  }

  /** Per registry instance id: its points now. */
  private async points(service: Service, now: number): Promise<Map<string, SeriesPoint[]>> {
    const ids = service.instances.map((i) => drainId(i.id));
    const series = await this.telemetry.series(service.name, ids, now);
    return new Map(ids.map((id) => [id, series.instances[id] ?? []]));
  }
}

function counts(points: Map<string, SeriesPoint[]>): Counts {
  const out: Counts = new Map();
  for (const [id, list] of points) {
    for (const p of list) {
      const requests = Math.round((p.rps * BUCKET_MS) / 1000);
      out.set(`${id}@${p.t}`, { requests, errors: Math.round((p.errorRate ?? 0) * requests) });
    }
  }
  return out;
}
