/**
 * Prometheus metrics (prom-client) on a private registry, served at /metrics. Gauges that
 * describe the topology are computed at scrape time from the store, so they are never stale.
 */
import { type PerformanceEntry, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TopologyStore } from './topology/topologyStore';

export interface Metrics {
  registry: Registry;
  watchLatency: Histogram<'source' | 'endpoint'>;
  wsClients: Gauge;
  wsDeltasSent: Counter;
  wsSnapshotsSent: Counter;
  wsBytesSent: Counter;
  wsLaggingClients: Counter;
  wsFloodCloses: Counter;
  gatewayRequests: Counter<'service' | 'outcome'>;
}

export function createMetrics(store: TopologyStore, now: () => number = Date.now): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  liveHeapGauge(registry);
  const gatewayRequests = new Counter({
    name: 'switchboard_gateway_requests_total',
    help: 'Requests through /gw/<service>/…, by service and outcome (the instance status class, or refused/no_instance/unreachable)',
    labelNames: ['service', 'outcome'] as const,
    registers: [registry],
  });
  const watchLatency = new Histogram({
    name: 'switchboard_watch_request_duration_seconds',
    help: 'Duration of registry watch round-trips (blocking queries included), by source and endpoint',
    labelNames: ['source', 'endpoint'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 15, 30, 60, 300],
    registers: [registry],
  });
  new Gauge({
    name: 'switchboard_source_staleness_seconds',
    help: 'Seconds since the source last synced successfully (-1 if it never has)',
    labelNames: ['source', 'kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of store.sources()) {
        const age = s.lastSyncAt ? (now() - Date.parse(s.lastSyncAt)) / 1000 : -1;
        this.set({ source: s.id, kind: s.kind }, age);
      }
    },
  });
  new Gauge({
    name: 'switchboard_source_state',
    help: 'Source state: 1 for the current state label, 0 for the others',
    labelNames: ['source', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of store.sources()) {
        for (const state of ['syncing', 'ok', 'stale', 'down'] as const) this.set({ source: s.id, state }, s.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'switchboard_topology_revision',
    help: 'Current topology revision',
    registers: [registry],
    collect() {
      this.set(store.rev);
    },
  });
  new Gauge({
    name: 'switchboard_topology_instances',
    help: 'Instances known, by source',
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const counts = new Map<string, number>();
      for (const s of store.summarySnapshot().services) {
        const c = s.counts;
        counts.set(s.sourceId, (counts.get(s.sourceId) ?? 0) + c.passing + c.warning + c.critical + c.unknown);
      }
      for (const [source, n] of counts) this.set({ source }, n);
    },
  });
  return {
    registry,
    watchLatency,
    gatewayRequests,
    wsClients: new Gauge({ name: 'switchboard_ws_clients', help: 'Connected WebSocket clients', registers: [registry] }),
    wsDeltasSent: new Counter({ name: 'switchboard_ws_deltas_sent_total', help: 'Delta frames sent to WebSocket clients', registers: [registry] }),
    wsSnapshotsSent: new Counter({ name: 'switchboard_ws_snapshots_sent_total', help: 'Snapshot frames sent to WebSocket clients', registers: [registry] }),
    wsBytesSent: new Counter({ name: 'switchboard_ws_bytes_sent_total', help: 'Bytes sent to WebSocket clients', registers: [registry] }),
    wsFloodCloses: new Counter({ name: 'switchboard_ws_flood_closes_total', help: 'WebSocket connections closed for sending frames faster than the limit', registers: [registry] }),
    wsLaggingClients: new Counter({
      name: 'switchboard_ws_backpressure_skips_total',
      help: 'Times a slow WebSocket client was skipped because its send buffer was over the high-water mark',
      registers: [registry],
    }),
  };
}

/**
 * The JS heap right after the last full (mark-compact) GC: the live set without garbage.
 * `nodejs_heap_size_used_bytes` swings with the GC cycle (V8 lets old space grow to a few
 * times the live set before collecting), so this is the figure that shows a leak.
 */
function liveHeapGauge(registry: Registry): void {
  let live = getHeapStatistics().used_heap_size;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) live = getHeapStatistics().used_heap_size;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  readGauge(registry, 'switchboard_heap_live_bytes', 'JS heap in use right after the last full GC (the live set; watch this, not heap used, for leaks)', () => live);
}

/**
 * A gauge read at scrape time (`read()` when Prometheus asks), so it is never stale and costs
 * nothing between scrapes. Registering a name twice keeps the first.
 */
export function readGauge(registry: Registry, name: string, help: string, read: () => number): void {
  if (registry.getSingleMetric(name)) return;
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
