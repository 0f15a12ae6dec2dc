import { describe, expect, it } from 'vitest';
import { applyOps, applyServiceOps } from '../../protocol/delta';
import type { DeltaOp } from '../../protocol/delta';
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
    expect(delta?.services.get('prod/dc1/web')).toEqual([{ op: 'instance.put', serviceId: 'prod/dc1/web', instance: flipped[7] }]);
    expect(store.service('prod/dc1/web')?.instances.find((i) => i.id === 'n1/web-7')?.health).toBe('critical');
    // The list learns only the new counts: one summary, no instances.
    expect(delta?.summary).toEqual([{ op: 'summary.put', service: expect.objectContaining({ id: 'prod/dc1/web', counts: { passing: 49, warning: 0, critical: 1, unknown: 0 } }) }]);
    expect(JSON.stringify(delta?.summary)).not.toContain('n1/web-7');
  });

  it('keeps the summary unchanged (no summary op) when a change does not move the counts', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', [instance('a', { checks: [check('passing', { output: 'ok 1' })] })]) });
    const delta = store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', [instance('a', { checks: [check('passing', { output: 'ok 2' })] })]) });
    expect(delta?.summary).toEqual([]);
    expect(delta?.services.get('prod/dc1/web')).toHaveLength(1);
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

  it('re-stamps lastSyncAt at most once a second: a churning source\'s ok rounds are not a frame each', () => {
    let t = Date.parse('2026-11-24T12:00:00Z');
    const store = storeWithSource({ now: () => new Date(t) });
    store.apply('prod', { type: 'status', state: 'ok' });
    const rev = store.rev;
    for (let i = 0; i < 20; i++) {
      t += 40;
      expect(store.apply('prod', { type: 'status', state: 'ok' })).toBeNull();
    }
    expect(store.rev).toBe(rev);
    t += 250; // 1,050 ms after the stamp
    expect(store.apply('prod', { type: 'status', state: 'ok' })).not.toBeNull();
    expect(store.source('prod')?.lastSyncAt).toBe('2026-11-24T12:00:01.050Z');
    // Recovering from stale stamps at once, however recent the last stamp.
    store.apply('prod', { type: 'status', state: 'down', error: 'refused' });
    t += 10;
    store.apply('prod', { type: 'status', state: 'ok' });
    expect(store.source('prod')).toMatchObject({ state: 'ok', lastSyncAt: '2026-11-24T12:00:01.060Z', lastError: null });
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

  describe('resume: summarySince(rev) and serviceSince(id, rev)', () => {
    it('replays exactly the missed ops per stream, which rebuild the same list and the same service', () => {
      const store = storeWithSource();
      const rev = store.rev;
      const list = new Map(store.summarySnapshot().services.map((s) => [s.id, s]));
      store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', [instance('n1/web-1')]) });
      const webAt = store.rev;
      const web = store.service('prod/dc1/web')!;
      store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', [instance('n1/web-1'), instance('n1/web-2', { checks: [check('critical')] })]) });
      store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'api', [instance('n1/api-1')]) });
      store.apply('prod', { type: 'service.removed', serviceId: 'prod/dc1/api' });
      store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'db', [instance('n1/db-1')]) });

      const summary = store.summarySince(rev)!;
      for (const op of summary.ops) {
        if (op.op === 'summary.put') list.set(op.service.id, op.service);
        if (op.op === 'summary.delete') list.delete(op.serviceId);
      }
      expect([...list.values()].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...store.summarySnapshot().services].sort((a, b) => a.id.localeCompare(b.id)));
      // Coalesced: one op per record, the last.
      expect(summary.ops.filter((o) => o.op === 'summary.put' && o.service.id === 'prod/dc1/web')).toHaveLength(1);

      const detail = store.serviceSince('prod/dc1/web', webAt)!;
      expect(detail.ops.every((o: DeltaOp) => (o.op === 'service.put' ? o.service.id : o.serviceId) === 'prod/dc1/web')).toBe(true);
      expect(applyServiceOps(web, detail.ops)).toEqual(store.service('prod/dc1/web'));
      expect(applyServiceOps(null, store.serviceSince('prod/dc1/api', rev)!.ops)).toBeNull();
    });

    it('answers an empty delta for the current revision', () => {
      const store = storeWithSource();
      expect(store.summarySince(store.rev)).toEqual({ fromRev: store.rev, rev: store.rev, ops: [] });
      expect(store.serviceSince('prod/dc1/x', store.rev)).toEqual({ fromRev: store.rev, rev: store.rev, ops: [] });
    });

    it('returns null when the revision fell out of history or is from the future', () => {
      const store = storeWithSource({ historySize: 3 });
      for (let i = 0; i < 5; i++) store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', `s${i}`, [instance('x')]) });
      expect(store.summarySince(1)).toBeNull();
      expect(store.summarySince(store.rev + 10)).toBeNull();
      expect(store.serviceSince('prod/dc1/s0', 1)).toBeNull();
      expect(store.summarySince(store.rev - 2)?.ops.length).toBeGreaterThan(0);
    });

    it('bounds the history by ops as well as by deltas (a full resync is one huge delta)', () => {
      const store = storeWithSource({ historyOps: 50 });
      const start = store.rev;
      store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: Array.from({ length: 40 }, (_, i) => service('prod', 'dc1', `s${i}`, [instance('x')])) });
      store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 's0', [instance('x', { checks: [check('critical')] })]) });
      expect(store.summarySince(start)).toBeNull();
      expect(store.summarySince(store.rev - 1)?.ops.length).toBe(1);
    });
  });

  it('keeps one shared copy of repeated tag lists and meta across instances', () => {
    const store = storeWithSource();
    const many = Array.from({ length: 20 }, (_, i) => instance(`n1/web-${i}`, { tags: ['blue', 'v1'], meta: { zone: 'a' } }));
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', structuredClone(many)) });
    const [a, b] = store.service('prod/dc1/web')!.instances;
    expect(a!.tags).toBe(b!.tags);
    expect(a!.meta).toBe(b!.meta);
  });

  it('treats a "__proto__" meta key from a registry as plain data', () => {
    const store = storeWithSource();
    const meta = JSON.parse('{"__proto__":"x","zone":"a"}') as Record<string, string>;
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', [instance('a', { meta })]) });
    const stored = store.service('prod/dc1/web')!.instances[0]!.meta;
    expect(Object.keys(stored)).toEqual(['__proto__', 'zone']);
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype);
  });

  it('the full snapshot and the summary agree', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [service('prod', 'dc1', 'web', [instance('a'), instance('b', { checks: [check('warning')] })])] });
    const full = store.snapshot();
    expect(applyOps({ rev: 0, sources: full.sources, services: [] }, full.services.flatMap((s) => [{ op: 'service.put' as const, service: { id: s.id, sourceId: s.sourceId, scope: s.scope, name: s.name, tags: s.tags, traffic: s.traffic } }, ...s.instances.map((instance) => ({ op: 'instance.put' as const, serviceId: s.id, instance }))]), full.rev)).toEqual(full);
    expect(store.summary('prod/dc1/web')).toMatchObject({ counts: { passing: 1, warning: 1, critical: 0, unknown: 0 }, weights: null, drained: 0, breakersOpen: 0 });
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
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'other', [instance('a')]) });
    const delta = store.apply('prod', { type: 'traffic.synced', scope: 'dc1', policies: { pay: policy } });
    // Only the service whose policy changed is touched.
    expect(Object.fromEntries(delta!.services)).toEqual({ 'prod/dc1/pay': [{ op: 'service.put', service: { id: 'prod/dc1/pay', sourceId: 'prod', scope: 'dc1', name: 'pay', tags: [], traffic: policy } }] });
    expect(delta?.summary).toEqual([{ op: 'summary.put', service: expect.objectContaining({ id: 'prod/dc1/pay', weights: { blue: 100 } }) }]);
    expect(store.apply('prod', { type: 'traffic.synced', scope: 'dc1', policies: { pay: structuredClone(policy) } })).toBeNull();
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
    expect(delta?.services.get('prod/dc1/pay')).toEqual([{ op: 'instance.put', serviceId: 'prod/dc1/pay', instance: { ...instance('n1/p1'), breaker: open } }]);
    expect(store.summary('prod/dc1/pay')?.breakersOpen).toBe(1);
    // A view for an inherited property name is no view.
    expect(store.setBreakers('pay', JSON.parse('{"p1":{"state":"open","clients":2,"open":1,"halfOpen":0},"constructor":{"state":"open","clients":1,"open":1,"halfOpen":0}}'))?.services.get('prod/dc1/pay')).toBeUndefined();
    expect(store.setBreakers('pay', { p1: open })).toBeNull();
    // A registry update of the same instance does not wipe what clients report.
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'pay', [instance('n1/p1', { port: 9999 }), instance('n1/p2')]) });
    expect(store.service('prod/dc1/pay')?.instances[0]).toMatchObject({ port: 9999, breaker: open });
    store.setBreakers('pay', {});
    expect(store.service('prod/dc1/pay')?.instances[0]?.breaker).toBeUndefined();
  });
});

describe('TopologyStore: services listed before their instances are read (pending)', () => {
  const pending = (name: string, counts = { passing: 14, warning: 0, critical: 1, unknown: 0 }) => ({ ...service('prod', 'dc1', name, []), pending: counts });

  it('lists a pending service with the registry\'s counts, then fills in its instances as one header + instance ops', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [pending('web'), pending('api', { passing: 3, warning: 0, critical: 0, unknown: 0 })] });
    expect(store.summary('prod/dc1/web')?.counts).toEqual({ passing: 14, warning: 0, critical: 1, unknown: 0 });
    expect(store.isPending('prod/dc1/web')).toBe(true);
    expect(store.pendingCount).toBe(2);
    expect(store.service('prod/dc1/web')).toMatchObject({ instances: [], pending: { critical: 1 } });

    const rev = store.rev;
    const web = service('prod', 'dc1', 'web', [instance('n1/web-1'), instance('n1/web-2', { checks: [check('critical')] })]);
    const api = service('prod', 'dc1', 'api', [instance('n1/api-1')]);
    const delta = store.apply('prod', { type: 'services.changed', services: [web, api] })!;
    // One revision for the whole batch.
    expect(delta.rev).toBe(rev + 1);
    expect(store.pendingCount).toBe(0);
    expect(store.service('prod/dc1/web')?.pending).toBeUndefined();
    expect(store.summary('prod/dc1/web')?.counts).toEqual({ passing: 1, warning: 0, critical: 1, unknown: 0 });
    // A watcher learns the header lost `pending`, then gets the instances; applying the ops rebuilds the service.
    const ops = delta.services.get('prod/dc1/web')!;
    expect(ops[0]).toMatchObject({ op: 'service.put', service: { id: 'prod/dc1/web' } });
    expect(ops[0]!.op === 'service.put' && 'pending' in ops[0]!.service).toBe(false);
    expect(applyServiceOps({ ...pending('web'), traffic: null }, ops)).toEqual(store.service('prod/dc1/web'));
  });

  it('demand asks the source only for pending services; loaded() waits for the instances, or gives up after its timeout', async () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [pending('web'), service('prod', 'dc1', 'api', [instance('n1/api-1')])] });
    const asked: string[] = [];
    store.onDemand((id) => {
      asked.push(id);
      // The source answers a moment later.
      if (id === 'prod/dc1/web') setTimeout(() => store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'web', [instance('n1/web-1')]) }), 5);
    });
    store.demand('prod/dc1/api');
    store.demand('prod/dc1/nope');
    expect(asked).toEqual([]);

    const web = await store.loaded('prod/dc1/web');
    expect(asked).toEqual(['prod/dc1/web']);
    expect(web?.instances.map((i) => i.id)).toEqual(['n1/web-1']);
    expect(await store.loaded('prod/dc1/api')).toMatchObject({ name: 'api' });
    expect(await store.loaded('prod/dc1/nope')).toBeUndefined();

    // Nobody answers: after the timeout the service comes back still pending.
    store.apply('prod', { type: 'service.changed', service: pending('slow') });
    const slow = await store.loaded('prod/dc1/slow', 20);
    expect(slow?.pending).toBeDefined();
  });
});

describe('TopologyStore: checks patched from a registry\'s state lists', () => {
  it('replaces or adds one check on a known instance (health re-derived, one instance op), ignores unknown ones', () => {
    const store = storeWithSource();
    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [service('prod', 'dc1', 'web', [instance('n1/web-1', { checks: [check('passing', { id: 'serfHealth', nodeLevel: true }), check('passing', { id: 'app' })] }), instance('n1/web-2')])] });
    const before = store.service('prod/dc1/web')!;
    const delta = store.apply('prod', {
      type: 'checks.changed',
      checks: [
        { serviceId: 'prod/dc1/web', instanceId: 'n1/web-1', check: check('critical', { id: 'app', output: 'connection refused' }) },
        { serviceId: 'prod/dc1/web', instanceId: 'n1/web-9', check: check('critical', { id: 'app' }) },
        { serviceId: 'prod/dc1/nope', instanceId: 'n1/nope-1', check: check('critical') },
      ],
    })!;
    const web1 = store.service('prod/dc1/web')!.instances.find((i) => i.id === 'n1/web-1')!;
    expect(web1.health).toBe('critical');
    expect(web1.checks.map((c) => [c.id, c.status, c.output])).toEqual([['serfHealth', 'passing', before.instances[0]!.checks[0]!.output], ['app', 'critical', 'connection refused']]);
    expect(delta.services.get('prod/dc1/web')).toEqual([{ op: 'instance.put', serviceId: 'prod/dc1/web', instance: web1 }]);
    expect(delta.summary).toEqual([{ op: 'summary.put', service: expect.objectContaining({ counts: { passing: 1, warning: 0, critical: 1, unknown: 0 } }) }]);
    // The same state again changes nothing; a new check id is added in order.
    expect(store.apply('prod', { type: 'checks.changed', checks: [{ serviceId: 'prod/dc1/web', instanceId: 'n1/web-1', check: check('critical', { id: 'app', output: 'connection refused' }) }] })).toBeNull();
    store.apply('prod', { type: 'checks.changed', checks: [{ serviceId: 'prod/dc1/web', instanceId: 'n1/web-2', check: check('warning', { id: 'aaa' }) }] });
    const web2 = store.service('prod/dc1/web')!.instances.find((i) => i.id === 'n1/web-2')!;
    expect(web2.health).toBe('warning');
    expect(web2.checks.map((c) => c.id)).toEqual(['aaa', 'c1']);
  });
});
