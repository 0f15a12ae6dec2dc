/**
 * What SDK clients report, kept for the dashboard: the breaker state each live client sees per
 * instance (a client that stops reporting ages out), and 15 minutes of request rate, error
 * rate and latency per service and per instance in 5-second buckets. Reports carry cumulative
 * counters; the store turns them into per-bucket deltas (a counter going backwards means the
 * client restarted). Pure: the clock is passed in.
 *
 * Bounded: series whose newest bucket left the 15-minute window are deleted when clients are
 * pruned, and at most `maxSeries` series and as many clients are held; past that, reports for
 * new series or new clients are dropped (and counted) rather than growing memory.
 */
import type { BreakerView, InstanceReport, SeriesPoint, TelemetryReport } from '../../protocol/telemetry';

export type { SeriesPoint };
import { newHistogram, quantile, toCurrentLayout } from '../../sdk/latencyHistogram';

export const BUCKET_MS = 5_000;
const KEEP_BUCKETS = (15 * 60_000) / BUCKET_MS;

interface Bucket {
  t: number;
  requests: number;
  errors: number;
  latency: number[];
}

interface ClientState {
  caller: string;
  guardHolds: number;
  service: string;
  lastSeen: number;
  instances: Map<string, InstanceReport>;
}

export interface TelemetryStoreOptions {
  /** A client silent this long no longer counts. @default 15 s */
  ageOutMs?: number;
  /** Series (per service and per instance) held at once; also the bound on reporting clients. @default 50000 (config `limits.telemetrySeries`) */
  maxSeries?: number;
}

export class TelemetryStore {
  private readonly clients = new Map<string, ClientState>();
  /** `service` or `service/instanceId` → buckets, oldest first. */
  private readonly series = new Map<string, Bucket[]>();
  private readonly ageOutMs: number;
  private readonly maxSeries: number;
  /** Reports (or parts of them) dropped because a bound was reached. */
  dropped = 0;

  constructor(options: TelemetryStoreOptions = {}) {
    this.ageOutMs = options.ageOutMs ?? 15_000;
    this.maxSeries = options.maxSeries ?? 50_000;
  }

  /** Series held now (for /metrics). */
  get seriesCount(): number {
    return this.series.size;
  }

  /** Reporting clients held now (for /metrics). */
  get clientCount(): number {
    return this.clients.size;
  }

  ingest(report: TelemetryReport, now: number): void {
    const prev = this.clients.get(report.clientId);
    if (!prev && this.clients.size >= this.maxSeries) {
      this.dropped++;
      return;
    }
    // Older SDKs report a coarser bucket layout: bring every report to the current one first.
    const instances = new Map(report.instances.map((i) => [i.id, { ...i, latency: toCurrentLayout(i.latency) }]));
    for (const inst of instances.values()) {
      const before = prev?.instances.get(inst.id);
      const restarted = !before || inst.requests < before.requests || inst.errors < before.errors;
      const requests = restarted ? inst.requests : inst.requests - before.requests;
      const errors = restarted ? inst.errors : inst.errors - before.errors;
      const latency = inst.latency.map((n, i) => (restarted ? n : n - (before.latency[i] ?? 0)));
      if (requests === 0 && errors === 0) continue;
      for (const key of [report.service, `${report.service}/${inst.id}`]) this.add(key, now, requests, errors, latency);
    }
    this.clients.set(report.clientId, { caller: report.caller, guardHolds: report.guardHolds, service: report.service, lastSeen: now, instances });
  }

  /** Forgets clients that stopped reporting and series with nothing left in the window; returns the services whose breaker views changed. */
  prune(now: number): string[] {
    const touched = new Set<string>();
    for (const [id, c] of this.clients) {
      if (now - c.lastSeen > this.ageOutMs) {
        this.clients.delete(id);
        touched.add(c.service);
      }
    }
    const from = bucketStart(now) - (KEEP_BUCKETS - 1) * BUCKET_MS;
    for (const [key, buckets] of this.series) {
      if ((buckets.at(-1)?.t ?? -Infinity) < from) this.series.delete(key);
    }
    return [...touched];
  }

  /** Per instance id: how the live clients of `service` see its breaker. */
  breakerViews(service: string): Record<string, BreakerView> {
    const out: Record<string, BreakerView> = {};
    for (const c of this.clients.values()) {
      if (c.service !== service) continue;
      for (const inst of c.instances.values()) {
        const v = (out[inst.id] ??= { state: 'closed', clients: 0, open: 0, halfOpen: 0 });
        v.clients++;
        if (inst.breaker === 'open') v.open++;
        if (inst.breaker === 'half-open') v.halfOpen++;
        v.state = v.open > 0 ? 'open' : v.halfOpen > 0 ? 'half-open' : 'closed';
      }
    }
    return out;
  }

  /** Live clients per service, with who they are. */
  reporters(service: string): { clientId: string; caller: string; lastSeen: number; guardHolds: number }[] {
    return [...this.clients].filter(([, c]) => c.service === service).map(([clientId, c]) => ({ clientId, caller: c.caller, lastSeen: c.lastSeen, guardHolds: c.guardHolds }));
  }

  /** The last 15 minutes for a service (`instanceId` omitted) or one of its instances, one point per 5 s. */
  points(service: string, instanceId: string | null, now: number): SeriesPoint[] {
    const buckets = this.series.get(instanceId ? `${service}/${instanceId}` : service) ?? [];
    const from = bucketStart(now) - (KEEP_BUCKETS - 1) * BUCKET_MS;
    return buckets
      .filter((b) => b.t >= from)
      .map((b) => ({
        t: b.t,
        rps: b.requests / (BUCKET_MS / 1000),
        errorRate: b.requests > 0 ? b.errors / b.requests : null,
        p50: quantile(b.latency, 0.5),
        p99: quantile(b.latency, 0.99),
      }));
  }

  private add(key: string, now: number, requests: number, errors: number, latency: number[]): void {
    let buckets = this.series.get(key);
    if (!buckets) {
      if (this.series.size >= this.maxSeries) {
        this.dropped++;
        return;
      }
      this.series.set(key, (buckets = []));
    }
    const t = bucketStart(now);
    let last = buckets.at(-1);
    if (!last || last.t !== t) {
      last = { t, requests: 0, errors: 0, latency: newHistogram() };
      buckets.push(last);
      if (buckets.length > KEEP_BUCKETS) buckets.splice(0, buckets.length - KEEP_BUCKETS);
    }
    last.requests += requests;
    last.errors += errors;
    latency.forEach((n, i) => (last!.latency[i] = (last!.latency[i] ?? 0) + n));
  }
}

function bucketStart(ms: number): number {
  return ms - (ms % BUCKET_MS);
}
