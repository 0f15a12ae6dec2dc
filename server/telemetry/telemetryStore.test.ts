import { describe, expect, it } from 'vitest';
import type { TelemetryReport } from '../../protocol/telemetry';
import { newHistogram, recordLatency } from '../../sdk/latencyHistogram';
import { TelemetryStore } from './telemetryStore';

function report(clientId: string, instances: [string, 'closed' | 'open' | 'half-open', number, number, number[]?][]): TelemetryReport {
  return { clientId, caller: 'order', service: 'payment', datacenter: null, guardHolds: 0, instances: instances.map(([id, breaker, requests, errors, latency]) => ({ id, breaker, requests, errors, latency: latency ?? newHistogram() })) };
}

describe('TelemetryStore', () => {
  it('merges breaker views across clients: the worst state, and how many see it', () => {
    const store = new TelemetryStore();
    store.ingest(report('a', [['p1', 'open', 10, 10], ['p2', 'closed', 10, 0]]), 1000);
    store.ingest(report('b', [['p1', 'closed', 5, 0], ['p2', 'half-open', 5, 1]]), 1000);
    expect(store.breakerViews('payment')).toEqual({
      p1: { state: 'open', clients: 2, open: 1, halfOpen: 0 },
      p2: { state: 'half-open', clients: 2, open: 0, halfOpen: 1 },
    });
  });

  it('ages out a client that stopped reporting', () => {
    const store = new TelemetryStore({ ageOutMs: 15_000 });
    store.ingest(report('a', [['p1', 'open', 1, 1]]), 0);
    expect(store.prune(15_000)).toEqual([]);
    expect(store.prune(15_001)).toEqual(['payment']);
    expect(store.breakerViews('payment')).toEqual({});
  });

  it('turns cumulative counters into per-5s rates, error rates and latency quantiles', () => {
    const store = new TelemetryStore();
    const fast = newHistogram();
    for (let i = 0; i < 99; i++) recordLatency(fast, 3);
    recordLatency(fast, 400);
    store.ingest(report('a', [['p1', 'closed', 100, 0, fast]]), 0);
    // Cumulative: +50 requests, 25 of them errors, in the next bucket.
    store.ingest(report('a', [['p1', 'closed', 150, 25, fast]]), 5_000);
    const points = store.points('payment', null, 5_000);
    expect(points).toEqual([
      // Interpolated within the (2, 3] ms bucket the 99 fast samples fall in.
      { t: 0, rps: 20, errorRate: 0, p50: 2.51, p99: 3 },
      { t: 5_000, rps: 10, errorRate: 0.5, p50: null, p99: null },
    ]);
    expect(store.points('payment', 'p1', 5_000)).toHaveLength(2);
    expect(store.points('payment', 'p1', 5_000 + 15 * 60_000)).toEqual([]);
  });

  it('treats counters going backwards as a restarted client', () => {
    const store = new TelemetryStore();
    store.ingest(report('a', [['p1', 'closed', 100, 0]]), 0);
    store.ingest(report('a', [['p1', 'closed', 3, 1]]), 1_000);
    expect(store.points('payment', null, 1_000)[0]).toMatchObject({ rps: 103 / 5 });
  });

  it('deletes series that left the window and holds at most maxSeries series and clients', () => {
    const store = new TelemetryStore({ maxSeries: 3 });
    store.ingest(report('a', [['p1', 'closed', 1, 0]]), 0);
    expect(store.seriesCount).toBe(2);
    // A second instance needs one series more than fits: only the first fits.
    store.ingest(report('a', [['p1', 'closed', 2, 0], ['p2', 'closed', 1, 0], ['p3', 'closed', 1, 0]]), 1000);
    expect(store.seriesCount).toBe(3);
    expect(store.dropped).toBeGreaterThan(0);
    for (const id of ['b', 'c', 'd']) store.ingest(report(id, []), 1000);
    expect(store.clientCount).toBe(3);
    store.prune(16 * 60_000);
    expect(store.seriesCount).toBe(0);
    expect(store.clientCount).toBe(0);
  });
});
