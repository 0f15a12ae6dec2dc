/**
 * The read side of telemetry, one interface for both stores: what the REST routes (charts,
 * reporters), the graph (edges) and canary analysis read. The built-in store (one replica) is
 * adapted from TelemetryStore's synchronous calls; the Prometheus store (several replicas)
 * answers the same questions with PromQL (server/telemetry/prometheusTelemetry.ts).
 *
 * Every call is async and may fail (Prometheus down): callers answer "unavailable", never crash.
 */
import type { BreakerView, SeriesPoint } from '../../protocol/telemetry';
import type { TelemetryStore } from './telemetryStore';

export type { BreakerView, SeriesPoint };

/**
 * One caller → callee instance edge over a window: the graph's unit. `rps` is requests per
 * second over the window, `errorRate` errors / requests (0 without requests), `p99` in ms
 * (null without latency samples).
 */
export interface EdgeStat {
  caller: string;
  callee: string;
  instanceId: string;
  requests: number;
  errors: number;
  rps: number;
  errorRate: number;
  p99: number | null;
}

export interface Reporter {
  clientId: string;
  caller: string;
  lastSeen: number;
  guardHolds: number;
}

/** Charts for one service: the service's own series and one per instance id asked for. */
export interface ServiceSeries {
  service: SeriesPoint[];
  instances: Record<string, SeriesPoint[]>;
}

/** Totals over a window for a set of instances of one service (canary analysis). */
export interface WindowTotals {
  requests: number;
  errors: number;
  /** ms; null without samples. */
  p99Ms: number | null;
}

export interface TelemetryReader {
  readonly kind: 'builtin' | 'prometheus';
  /** The last 15 minutes of `service` (by name) and of each of `instanceIds`, one point per 5 s. */
  series(service: string, instanceIds: readonly string[], now: number): Promise<ServiceSeries>;
  /** Live reporting clients of `service` (the Prometheus store answers from the scrape targets' breaker series). */
  reporters(service: string): Promise<Reporter[]>;
  /** Per instance id: how the clients of `service` see its breaker. */
  breakerViews(service: string): Promise<Record<string, BreakerView>>;
  /** Every caller → callee instance edge with traffic in the last `windowMs`. */
  edges(windowMs: number, now: number): Promise<EdgeStat[]>;
  /**
   * Requests, errors and p99 to `instanceIds` of `service` between `fromMs` and `toMs`, when the
   * store can answer for an arbitrary window (Prometheus: `increase(...)`). Absent on the
   * built-in store, whose analysis diffs 5 s buckets instead (server/rollouts/rolloutMetrics.ts).
   */
  totals?(service: string, instanceIds: readonly string[], fromMs: number, toMs: number): Promise<WindowTotals>;
}

/** Thrown by a reader whose backing store cannot answer now (Prometheus down, malformed answer). */
export class TelemetryUnavailableError extends Error {
  override name = 'TelemetryUnavailableError';
}

/** The built-in store behind the reader interface: synchronous answers, wrapped. */
export class BuiltinTelemetryReader implements TelemetryReader {
  readonly kind = 'builtin' as const;
  /** Edges come from the call-graph store when one is wired (server/telemetry/callGraphStore.ts). */
  constructor(
    private readonly store: TelemetryStore,
    private readonly edgeSource: { edges(windowMs: number, now: number): EdgeStat[] } | null = null,
  ) {}

  async series(service: string, instanceIds: readonly string[], now: number): Promise<ServiceSeries> {
    return {
      service: this.store.points(service, null, now),
      instances: Object.fromEntries(instanceIds.map((id) => [id, this.store.points(service, id, now)])),
    };
  }

  async reporters(service: string): Promise<Reporter[]> {
    return this.store.reporters(service);
  }

  async breakerViews(service: string): Promise<Record<string, BreakerView>> {
    return this.store.breakerViews(service);
  }

  async edges(windowMs: number, now: number): Promise<EdgeStat[]> {
    return this.edgeSource?.edges(windowMs, now) ?? [];
  }
}
