import { describe, expect, it } from 'vitest';
import type { TelemetryReport } from '../../protocol/telemetry';
import { newHistogram, recordLatency } from '../../sdk/latencyHistogram';
import { CallGraphStore } from './callGraphStore';

const T0 = 1_800_000_000_000; // a whole minute

function report(clientId: string, caller: string, service: string, instances: Record<string, { requests: number; errors: number; ms?: number; statuses?: Record<string, number> }>): TelemetryReport {
  return {
    clientId,
    caller,
    service,
    datacenter: null,
    guardHolds: 0,
    instances: Object.entries(instances).map(([id, c]) => {
      const latency = newHistogram();
      for (let i = 0; i < c.requests; i++) recordLatency(latency, c.ms ?? 3);
      return { id, breaker: 'closed' as const, requests: c.requests, errors: c.errors, latency, ...(c.statuses ? { statuses: c.statuses } : {}) };
    }),
  };
}

describe('CallGraphStore', () => {
  it('turns cumulative reports into per-window deltas per caller → callee instance', () => {
    const s = new CallGraphStore();
    s.ingest(report('c1', 'order', 'payment', { 'payment-1': { requests: 100, errors: 0 } }), T0);
    // The first report of a client is its baseline: nothing counted yet.
    expect(s.edges(60_000, T0)).toEqual([]);
    s.ingest(report('c1', 'order', 'payment', { 'payment-1': { requests: 110, errors: 2, statuses: { '200': 8, '500': 2 } } }), T0 + 1000);
    s.ingest(report('c1', 'order', 'payment', { 'payment-1': { requests: 130, errors: 2, statuses: { '200': 28, '500': 2 } } }), T0 + 6000);
    const [e] = s.samples(60_000, T0 + 9000);
    expect(e).toMatchObject({ caller: 'order', callee: 'payment', instanceId: 'payment-1', requests: 30, errors: 2 });
    // A series younger than the window is averaged over its age: one whole bucket plus 4 s of the current one.
    expect(e!.rps).toBeCloseTo(30 / 9, 5);
    // Once it is older than the window: the window's 11 whole buckets plus the part of the current one.
    s.ingest(report('c1', 'order', 'payment', { 'payment-1': { requests: 130, errors: 2, statuses: { '200': 28, '500': 2 } } }), T0 + 120_000);
    expect(s.samples(60_000, T0 + 121_000)).toEqual([]);
    expect(e!.errorRate).toBeCloseTo(2 / 30);
    expect(e!.statuses).toEqual({ '200': 28, '500': 2 });
    expect(e!.p99).toBeGreaterThan(2);
    expect(e!.p99).toBeLessThanOrEqual(3);
    // Both buckets are recent (the current one and the one before).
    expect(e!.recentRequests).toBe(30);
  });

  it('keeps separate series per caller and aggregates clients of the same caller', () => {
    const s = new CallGraphStore();
    for (const id of ['a', 'b']) s.ingest(report(id, 'order', 'payment', { p1: { requests: 0, errors: 0 } }), T0);
    s.ingest(report('x', 'loadgen', 'order', { o1: { requests: 0, errors: 0 } }), T0);
    s.ingest(report('a', 'order', 'payment', { p1: { requests: 5, errors: 0 } }), T0 + 1000);
    s.ingest(report('b', 'order', 'payment', { p1: { requests: 7, errors: 1 } }), T0 + 1000);
    s.ingest(report('x', 'loadgen', 'order', { o1: { requests: 3, errors: 0 } }), T0 + 1000);
    const edges = s.edges(60_000, T0 + 2000).sort((x, y) => x.caller.localeCompare(y.caller));
    expect(edges.map((e) => [e.caller, e.callee, e.instanceId, e.requests, e.errors])).toEqual([
      ['loadgen', 'order', 'o1', 3, 0],
      ['order', 'payment', 'p1', 12, 1],
    ]);
  });

  it('a counter going backwards is a restart: the new counters are the delta', () => {
    const s = new CallGraphStore();
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 50, errors: 5 } }), T0);
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 60, errors: 5 } }), T0 + 1000);
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 4, errors: 1 } }), T0 + 2000);
    expect(s.edges(60_000, T0 + 3000)[0]).toMatchObject({ requests: 14, errors: 1 });
  });

  it('a new instance of a known client counts from zero; older clients without statuses still work', () => {
    const s = new CallGraphStore();
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 1, errors: 0 } }), T0);
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 1, errors: 0 }, p2: { requests: 9, errors: 0 } }), T0 + 1000);
    const [e] = s.samples(60_000, T0 + 1000);
    expect(e).toMatchObject({ instanceId: 'p2', requests: 9, statuses: {} });
  });

  it('windows: 1 minute forgets what 15 minutes remember; nothing older than 15 minutes is kept', () => {
    const s = new CallGraphStore();
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 0, errors: 0 } }), T0);
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 10, errors: 0 } }), T0 + 1000);
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 10, errors: 0 } }), T0 + 5 * 60_000);
    const now = T0 + 5 * 60_000 + 1000;
    expect(s.edges(60_000, now)).toEqual([]);
    expect(s.edges(15 * 60_000, now)[0]).toMatchObject({ requests: 10 });
    s.prune(T0 + 16 * 60_000);
    expect(s.seriesCount).toBe(0);
    // The client went silent longer than the age-out too: forgotten.
    expect(s.clientCount).toBe(0);
  });

  it('a ring slot reused 15 minutes later starts from zero', () => {
    const s = new CallGraphStore({ ageOutMs: 60 * 60_000 });
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 0, errors: 0 } }), T0);
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 10, errors: 3 } }), T0 + 1000);
    s.ingest(report('c', 'order', 'payment', { p1: { requests: 11, errors: 3 } }), T0 + 15 * 60_000 + 1000);
    expect(s.edges(15 * 60_000, T0 + 15 * 60_000 + 2000)[0]).toMatchObject({ requests: 1, errors: 0 });
  });

  it('is bounded: series past maxSeries and clients past it are dropped and counted', () => {
    const s = new CallGraphStore({ maxSeries: 3 });
    const instances = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`p${i}`, { requests: 0, errors: 0 }]));
    s.ingest(report('c', 'order', 'payment', instances), T0);
    s.ingest(report('c', 'order', 'payment', Object.fromEntries(Object.keys(instances).map((k) => [k, { requests: 1, errors: 0 }]))), T0 + 1000);
    expect(s.seriesCount).toBe(3);
    expect(s.dropped).toBe(2);
    for (const id of ['d', 'e', 'f']) s.ingest(report(id, 'x', 'y', {}), T0);
    expect(s.clientCount).toBe(3);
    expect(s.dropped).toBe(3);
  });
});
