import { describe, expect, it } from 'vitest';
import { applyOps } from '../../protocol/delta';
import { check, instance, service } from '../../test/fixtures';
import { TopologyStore } from './topologyStore';

function storeWithSource(opts = {}) {
  const store = new TopologyStore({ now: () => new Date('2026-11-24T12:00:00Z'), ...opts });
  store.addSource({ id: 'prod', kind: 'consul', name: 'prod', address: 'http://127.0.0.1:8500' });
  return store;
}

describe('TopologyStore', () => {
  it('starts a new source as syncing with no data', () => {
    const store = storeWithSource();
    expect(store.source('prod')).toMatchObject({ state: 'syncing', lastSyncAt: null, scopes: [] });
    expect(store.allSourcesAttempted()).toBe(false);
    expect(store.rev).toBe(1);
  });

  it('refuses events for unknown sources and duplicate sources', () => {
    const store = storeWithSource();
    expect(() => store.apply('nope', { type: 'status', state: 'ok' })).toThrow(/unknown source "nope"/);
    expect(() => store.addSource({ id: 'prod', kind: 'consul', name: 'prod', address: null })).toThrow(/already registered/);
  });

  it('applies a scope sync, then removes services absent from the next sync of that scope only', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [service('prod', 'dc1', 'web', [instance('n1/web-1')]), service('prod', 'dc1', 'api', [instance('n1/api-1')])] });
    store.apply('prod', { type: 'scope.synced', scope: 'dc2', services: [service('prod', 'dc2', 'web', [instance('n2/web-1')])] });
    expect(store.snapshot().services.map((s) => s.id)).toEqual(['prod/dc1/api', 'prod/dc1/web', 'prod/dc2/web']);
    expect(store.source('prod')?.scopes).toEqual(['dc1', 'dc2']);

    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [service('prod', 'dc1', 'web', [instance('n1/web-1')])] });
    expect(store.snapshot().services.map((s) => s.id)).toEqual(['prod/dc1/web', 'prod/dc2/web']);
  });

  it('emits instance-level ops for a check flip, not the whole service', () => {
    const store = storeWithSource();
    const many = Array.from({ length: 50 }, (_, i) => instance(`n1/web-${i}`));
    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [service('prod', 'dc1', 'web', many)] });
    const flipped = many.map((i, n) => (n === 7 ? instance(i.id, { checks: [check('critical', { output: 'boom' })] }) : i));
    const delta = store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', flipped) });
    expect(delta?.ops).toEqual([{ op: 'instance.put', serviceId: 'prod/dc1/web', instance: flipped[7] }]);
    expect(store.service('prod/dc1/web')?.instances.find((i) => i.id === 'n1/web-7')?.health).toBe('critical');
  });

  it('does not bump the revision when nothing changed (idempotent wake-ups)', () => {
    const store = storeWithSource();
    const svc = service('prod', 'dc1', 'web', [instance('n1/web-1')]);
    store.apply('prod', { type: 'service.changed', service: svc });
    const rev = store.rev;
    expect(store.apply('prod', { type: 'service.changed', service: structuredClone(svc) })).toBeNull();
    expect(store.apply('prod', { type: 'service.removed', serviceId: 'prod/dc1/missing' })).toBeNull();
    expect(store.rev).toBe(rev);
  });

  it('keeps last-known-good when a synced source goes down, and marks it stale', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [service('prod', 'dc1', 'web', [instance('n1/web-1')])] });
    store.apply('prod', { type: 'status', state: 'ok' });
    store.apply('prod', { type: 'status', state: 'down', error: 'connect ECONNREFUSED' });
    expect(store.source('prod')).toMatchObject({ state: 'stale', lastError: 'connect ECONNREFUSED', lastSyncAt: '2026-11-24T12:00:00.000Z' });
    expect(store.snapshot().services).toHaveLength(1);
    store.apply('prod', { type: 'status', state: 'ok' });
    expect(store.source('prod')).toMatchObject({ state: 'ok', lastError: null });
  });

  it('reports a source that never synced as down', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'status', state: 'down', error: 'no route' });
    expect(store.source('prod')?.state).toBe('down');
    expect(store.allSourcesAttempted()).toBe(true);
  });

  it('drops services of scopes a source no longer covers', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [service('prod', 'dc1', 'web', [instance('a')])] });
    store.apply('prod', { type: 'scope.synced', scope: 'dc2', services: [service('prod', 'dc2', 'web', [instance('b')])] });
    store.apply('prod', { type: 'scopes.changed', scopes: ['dc1'] });
    expect(store.snapshot().services.map((s) => s.id)).toEqual(['prod/dc1/web']);
    expect(store.source('prod')?.scopes).toEqual(['dc1']);
  });

  describe('since(rev)', () => {
    it('replays exactly the missed ops, which rebuild the same topology', () => {
      const store = storeWithSource();
      const client = store.snapshot();
      store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', [instance('n1/web-1')]) });
      store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', [instance('n1/web-1'), instance('n1/web-2')]) });
      store.apply('prod', { type: 'service.removed', serviceId: 'prod/dc1/web' });
      store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'api', [instance('n1/api-1')]) });
      const delta = store.since(client.rev);
      expect(delta).not.toBeNull();
      expect(applyOps(client, delta!.ops, delta!.rev)).toEqual(store.snapshot());
    });

    it('answers an empty delta for the current revision', () => {
      const store = storeWithSource();
      expect(store.since(store.rev)).toEqual({ fromRev: store.rev, rev: store.rev, ops: [] });
    });

    it('returns null when the revision fell out of history or is from the future', () => {
      const store = storeWithSource({ historySize: 3 });
      for (let i = 0; i < 5; i++) store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', `s${i}`, [instance('x')]) });
      expect(store.since(1)).toBeNull();
      expect(store.since(store.rev + 10)).toBeNull();
      expect(store.since(store.rev - 2)?.ops.length).toBeGreaterThan(0);
    });
  });

  it('notifies subscribers with each committed delta', () => {
    const store = storeWithSource();
    const seen: number[] = [];
    const off = store.subscribe((d) => seen.push(d.rev));
    store.apply('prod', { type: 'status', state: 'ok' });
    off();
    store.apply('prod', { type: 'status', state: 'down', error: 'x' });
    expect(seen).toEqual([2]);
  });

  it('attaches traffic policies to service headers and keeps them across later service changes', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'pay', [instance('a')]) });
    const policy = { version: 1 as const, subsets: { blue: { tags: ['blue'] } }, weights: { blue: 100 }, drain: [], updatedAt: 't', updatedBy: 'alice', reason: '' };
    const delta = store.apply('prod', { type: 'traffic.synced', scope: 'dc1', policies: { pay: policy } });
    expect(delta?.ops).toEqual([{ op: 'service.put', service: { id: 'prod/dc1/pay', sourceId: 'prod', scope: 'dc1', name: 'pay', tags: [], traffic: policy } }]);
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'pay', [instance('a'), instance('b')]) });
    expect(store.service('prod/dc1/pay')?.traffic).toEqual(policy);
    store.apply('prod', { type: 'traffic.synced', scope: 'dc1', policies: {} });
    expect(store.service('prod/dc1/pay')?.traffic).toBeNull();
  });

  it('merges SDK breaker views into instances by registry id, one instance op per change, and keeps them across registry updates', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'pay', [instance('n1/p1'), instance('n1/p2')]) });
    const open = { state: 'open' as const, clients: 2, open: 1, halfOpen: 0 };
    const delta = store.setBreakers('pay', { p1: open });
    expect(delta?.ops).toEqual([{ op: 'instance.put', serviceId: 'prod/dc1/pay', instance: { ...instance('n1/p1'), breaker: open } }]);
    expect(store.setBreakers('pay', { p1: open })).toBeNull();
    // A registry update of the same instance does not wipe what clients report.
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'pay', [instance('n1/p1', { port: 9999 }), instance('n1/p2')]) });
    expect(store.service('prod/dc1/pay')?.instances[0]).toMatchObject({ port: 9999, breaker: open });
    store.setBreakers('pay', {});
    expect(store.service('prod/dc1/pay')?.instances[0]?.breaker).toBeUndefined();
  });
});
