import { QueryClient, QueryObserver } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import type { ServiceSummary, SourceStatus } from '@/protocol/model';
import { TOPOLOGY_KEY } from './liveTopology';
import { stepSummary, type SummaryCache } from './topologyCache';
import { sourceLabelOf, unreachableSources } from './topologySelectors';
import { topologySelectOptions } from './useTopology';

const summary = (name: string, critical = 0): ServiceSummary => ({
  id: `c/dc1/${name}`, sourceId: 'c', scope: 'dc1', name, tags: [], counts: { passing: 1, warning: 0, critical, unknown: 0 }, weights: null, drained: 0, breakersOpen: 0,
});
const source = (over: Partial<SourceStatus> = {}): SourceStatus => ({
  id: 'c', kind: 'consul', name: 'prod', address: 'http://127.0.0.1:8500', state: 'ok', lastSyncAt: '2026-12-01T00:00:00.000Z', lastError: null, scopes: ['dc1'], ...over,
});

/** The live cache as LiveTopology writes it: one snapshot, then each delta stepped and set. */
function liveCache() {
  const client = new QueryClient();
  let rev = 1;
  const first = stepSummary(undefined, { type: 'snapshot', rev, sources: [source()], services: [summary('api'), summary('web')] });
  if (first.kind !== 'apply') throw new Error('snapshot must apply');
  client.setQueryData(TOPOLOGY_KEY, first.value);
  const delta = (ops: Extract<Parameters<typeof stepSummary>[1], { type: 'delta' }>['ops']) => {
    const step = stepSummary(client.getQueryData<SummaryCache>(TOPOLOGY_KEY), { type: 'delta', fromRev: rev, rev: rev + 1, ops });
    if (step.kind !== 'apply') throw new Error('delta must apply');
    rev += 1;
    client.setQueryData(TOPOLOGY_KEY, step.value);
  };
  return { client, delta };
}

/** react-query tells observers on a later tick. */
const settled = () => new Promise((ok) => setTimeout(ok, 0));

/** How often a component using useTopologySelect(pick) would be told to render, and what it last saw. */
function observe<T>(client: QueryClient, pick: (s: SummaryCache) => T) {
  // A component that reads only `data` is told of changes to `data` only (react-query tracks what it reads).
  const observer = new QueryObserver(client, { ...topologySelectOptions(pick), notifyOnChangeProps: ['data'] });
  const seen: T[] = [];
  observer.subscribe((result) => seen.push(result.data as T));
  return seen;
}

describe('selecting part of the live summary', () => {
  it('does not wake a service page when other services change or its registry only syncs again', async () => {
    const { client, delta } = liveCache();
    const seen = observe(client, sourceLabelOf('c'));
    // Churn elsewhere in the fleet, and the source re-stamped after each round.
    for (let k = 1; k <= 50; k++) delta([{ op: 'summary.put', service: summary('web', k % 3) }, { op: 'source.put', source: source({ lastSyncAt: new Date(Date.UTC(2026, 11, 1, 0, 0, k)).toISOString() }) }]);
    await settled();
    expect(seen).toEqual([]);
    delta([{ op: 'source.put', source: source({ name: 'production' }) }]);
    await settled();
    expect(seen).toEqual([{ kind: 'consul', name: 'production' }]);
  });

  it('wakes the stale banner only when a registry becomes unreachable or recovers', async () => {
    const { client, delta } = liveCache();
    const seen = observe(client, unreachableSources);
    for (let k = 1; k <= 20; k++) delta([{ op: 'summary.put', service: summary('api', k % 2) }]);
    await settled();
    expect(seen).toEqual([]);
    delta([{ op: 'source.put', source: source({ state: 'stale', lastError: 'connection refused' }) }]);
    await settled();
    expect(seen.map((s) => s.map((x) => x.state))).toEqual([['stale']]);
    delta([{ op: 'source.put', source: source() }]);
    await settled();
    expect(seen.at(-1)).toEqual([]);
  });
});
