/**
 * ConsulSource against real Consul 1.8.7 dev agents (no mocks): normalization, check flips,
 * removals, two WAN-joined datacenters, and outages (last-known-good, then resync).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Service } from '../../protocol/model';
import { ConsulSource, type ConsulSourceConfig } from '../../server/sources/consul/consulSource';
import type { SourceEvent } from '../../server/sources/source';
import { TopologyStore } from '../../server/topology/topologyStore';
import { freePorts, startConsulAgent, type ConsulAgent } from '../support/consulAgent';

const TOKEN = 'consul-secret-token-123';
const WAIT = { timeout: 20_000, interval: 50 };

let dc1: ConsulAgent;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dc1 = await startConsulAgent({ datacenter: 'dc1' });
});

afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

afterAll(async () => {
  await dc1?.stop();
});

interface Watched {
  source: ConsulSource;
  store: TopologyStore;
  events: SourceEvent[];
  service(scope: string, name: string): Service | undefined;
}

function watch(config: Partial<ConsulSourceConfig> & { address: string }, name = 'c1'): Watched {
  const source = new ConsulSource(
    { kind: 'consul', name, token: TOKEN, datacenters: 'all', ...config },
    // Short waits keep an outage visible quickly; production uses Consul's 5 min.
    { waitMs: 10_000 },
  );
  const store = new TopologyStore();
  store.addSource({ id: source.id, kind: source.kind, name: source.name, address: source.address });
  const events: SourceEvent[] = [];
  source.start((e) => {
    events.push(e);
    store.apply(source.id, e);
  });
  cleanup.push(() => source.stop());
  return { source, store, events, service: (scope, n) => store.service(`${name}/${scope}/${n}`) };
}

const ttl = (id: string, extra: Record<string, unknown> = {}) => ({ CheckID: `${id}-ttl`, Name: 'heartbeat', TTL: '10m', Status: 'passing', ...extra });

describe('ConsulSource (one datacenter)', () => {
  it('syncs every service with instances, health, meta, checks and address fallback', async () => {
    await dc1.registerService({ ID: 'web-1', Name: 'web', Address: '10.0.0.1', Port: 8080, Tags: ['v1', 'blue'], Meta: { version: '1.4.2', color: 'blue' }, Check: ttl('web-1') });
    await dc1.registerService({ ID: 'web-2', Name: 'web', Port: 8081, Tags: ['green', 'v1'], Check: ttl('web-2') });
    await dc1.registerService({ ID: 'nochecks-1', Name: 'nochecks', Port: 9000 });
    cleanup.push(async () => {
      for (const id of ['web-1', 'web-2', 'nochecks-1']) await dc1.deregister(id);
    });

    const w = watch({ address: dc1.httpAddr });
    await vi.waitFor(() => expect(w.store.source('c1')?.state).toBe('ok'), WAIT);
    const synced = w.events.find((e) => e.type === 'scope.synced');
    expect(synced).toMatchObject({ type: 'scope.synced', scope: 'dc1' });
    expect(w.store.source('c1')).toMatchObject({ scopes: ['dc1'], address: dc1.httpAddr, lastError: null });

    const web = w.service('dc1', 'web')!;
    expect(web).toMatchObject({ id: 'c1/dc1/web', sourceId: 'c1', scope: 'dc1', name: 'web', tags: ['blue', 'green', 'v1'] });
    expect(web.instances.map((i) => i.id)).toEqual(['node-dc1/web-1', 'node-dc1/web-2']);
    const [one, two] = web.instances;
    expect(one).toMatchObject({ address: '10.0.0.1', port: 8080, tags: ['blue', 'v1'], meta: { color: 'blue', version: '1.4.2' }, node: 'node-dc1', health: 'passing' });
    // No service address registered: Consul sends "" and the node's address applies.
    expect(two).toMatchObject({ address: '127.0.0.1', port: 8081, meta: {}, health: 'passing' });
    expect(one!.checks).toEqual([
      { id: 'serfHealth', name: 'Serf Health Status', status: 'passing', output: 'Agent alive and reachable', type: 'serf', nodeLevel: true },
      { id: 'web-1-ttl', name: 'heartbeat', status: 'passing', output: '', type: 'ttl', nodeLevel: false },
    ]);
    // An instance without checks of its own still appears (catalog/services names it).
    const nochecks = w.service('dc1', 'nochecks')!;
    expect(nochecks.instances).toHaveLength(1);
    expect(nochecks.instances[0]!.checks.map((c) => c.id)).toEqual(['serfHealth']);
    expect(JSON.stringify(w.events)).not.toContain(TOKEN);
  });

  it('follows TTL flips, tag changes, new instances and deregistrations', async () => {
    await dc1.registerService({ ID: 'pay-1', Name: 'pay', Port: 7001, Tags: ['blue'], Check: ttl('pay-1') });
    await dc1.registerService({ ID: 'pay-2', Name: 'pay', Port: 7002, Tags: ['blue'], Check: ttl('pay-2') });
    cleanup.push(async () => {
      for (const id of ['pay-1', 'pay-2', 'pay-3', 'solo-1', 'solo-2']) await dc1.deregister(id);
    });
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] });
    const inst = (id: string) => w.service('dc1', 'pay')?.instances.find((i) => i.id === `node-dc1/${id}`);
    await vi.waitFor(() => expect(inst('pay-2')?.health).toBe('passing'), WAIT);

    // Output is synced with a status change (output-only updates wait for the agent's sync interval).
    await dc1.failTtl('pay-1-ttl', 'db unreachable');
    await vi.waitFor(() => expect(inst('pay-1')?.health).toBe('critical'), WAIT);
    expect(inst('pay-1')!.checks.find((c) => c.id === 'pay-1-ttl')).toMatchObject({ status: 'critical', output: 'db unreachable' });
    expect(inst('pay-2')?.health).toBe('passing');
    expect(w.events.some((e) => e.type === 'service.changed' && e.service.name === 'pay')).toBe(true);

    await dc1.warnTtl('pay-1-ttl', 'slow');
    await vi.waitFor(() => expect(inst('pay-1')?.health).toBe('warning'), WAIT);

    // A new tag on a new instance: the service's tags are the union.
    await dc1.registerService({ ID: 'pay-3', Name: 'pay', Port: 7003, Tags: ['green'], Check: ttl('pay-3') });
    await vi.waitFor(() => expect(w.service('dc1', 'pay')?.tags).toEqual(['blue', 'green']), WAIT);

    // A service with no checks at all appears (catalog/services names it).
    await dc1.registerService({ ID: 'solo-1', Name: 'solo', Port: 6001 });
    await vi.waitFor(() => expect(w.service('dc1', 'solo')?.instances).toHaveLength(1), WAIT);

    await dc1.deregister('pay-3');
    await vi.waitFor(() => expect(w.service('dc1', 'pay')?.tags).toEqual(['blue']), WAIT);
    await dc1.deregister('pay-1');
    await dc1.deregister('pay-2');
    await vi.waitFor(() => expect(w.service('dc1', 'pay')).toBeUndefined(), WAIT);
    expect(w.events).toContainEqual({ type: 'service.removed', serviceId: 'c1/dc1/pay' });
    expect(w.store.source('c1')?.state).toBe('ok');
  });

  // Neither watched body changes for these: only the catalog index moves, and a sweep finds them.
  it('finds a second check-less instance and a re-registration with a new port', async () => {
    await dc1.registerService({ ID: 'lone-1', Name: 'lone', Port: 5001 });
    await dc1.registerService({ ID: 'moved-1', Name: 'moved', Port: 5101, Check: ttl('moved-1') });
    cleanup.push(async () => {
      for (const id of ['lone-1', 'lone-2', 'moved-1']) await dc1.deregister(id);
    });
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] });
    await vi.waitFor(() => expect(w.service('dc1', 'lone')?.instances).toHaveLength(1), WAIT);
    await vi.waitFor(() => expect(w.service('dc1', 'moved')?.instances[0]?.port).toBe(5101), WAIT);

    await dc1.registerService({ ID: 'lone-2', Name: 'lone', Port: 5002 });
    await vi.waitFor(() => expect(w.service('dc1', 'lone')?.instances.map((i) => i.port)).toEqual([5001, 5002]), WAIT);

    await dc1.registerService({ ID: 'moved-1', Name: 'moved', Port: 5199, Check: ttl('moved-1') });
    await vi.waitFor(() => expect(w.service('dc1', 'moved')?.instances[0]?.port).toBe(5199), WAIT);
  });

  it('reports an unreachable agent as down with the endpoint and no token', async () => {
    const [port] = await freePorts(1);
    const w = watch({ address: `http://127.0.0.1:${port}` });
    await vi.waitFor(() => expect(w.store.source('c1')?.state).toBe('down'), WAIT);
    const error = w.store.source('c1')!.lastError!;
    expect(error).toMatch(new RegExp(`^GET /v1/catalog/datacenters: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
    expect(JSON.stringify(w.store.snapshot())).not.toContain(TOKEN);

    const listed = watch({ address: `http://127.0.0.1:${port}`, datacenters: ['dc1'] }, 'c2');
    await vi.waitFor(() => expect(listed.store.source('c2')?.lastError).toMatch(/^GET \/v1\/(catalog\/services|health\/state\/any)\?dc=dc1: connect ECONNREFUSED/), WAIT);
  });

  it('reports an unknown datacenter with Consul’s own error text', async () => {
    const w = watch({ address: dc1.httpAddr, datacenters: ['nowhere'] });
    await vi.waitFor(() => expect(w.store.source('c1')?.lastError).toMatch(/\?dc=nowhere: HTTP 500: No path to datacenter$/), WAIT);
    expect(w.store.source('c1')?.state).toBe('down');
  });
});

describe('ConsulSource across an outage', () => {
  it('keeps last-known-good while the agent is down, then resyncs when it is back', async () => {
    const agent = await startConsulAgent({ datacenter: 'dc1' });
    cleanup.push(() => agent.stop());
    await agent.registerService({ ID: 'ledger-1', Name: 'ledger', Port: 9501, Check: ttl('ledger-1') });
    const w = watch({ address: agent.httpAddr });
    await vi.waitFor(() => expect(w.service('dc1', 'ledger')?.instances).toHaveLength(1), WAIT);
    expect(w.store.source('c1')?.state).toBe('ok');

    await agent.stop();
    await vi.waitFor(() => expect(w.store.source('c1')?.state).toBe('stale'), WAIT);
    expect(w.store.source('c1')?.lastError).toMatch(/^GET \/v1\//);
    expect(w.service('dc1', 'ledger')?.instances).toHaveLength(1);

    // A dev agent restarts empty: the resync drops what Consul no longer has.
    await agent.restart();
    await agent.registerService({ ID: 'audit-1', Name: 'audit', Port: 9601, Check: ttl('audit-1') });
    await vi.waitFor(() => {
      expect(w.store.source('c1')?.state).toBe('ok');
      expect(w.service('dc1', 'ledger')).toBeUndefined();
      expect(w.service('dc1', 'audit')?.instances).toHaveLength(1);
    }, { timeout: 30_000, interval: 50 });
    expect(w.events.filter((e) => e.type === 'scope.synced').length).toBeGreaterThanOrEqual(2);
  });
});

describe('ConsulSource with datacenters: all', () => {
  it('watches every WAN-joined datacenter, each with its own services', async () => {
    const dc2 = await startConsulAgent({ datacenter: 'dc2' });
    cleanup.push(() => dc2.stop());
    await dc1.wanJoin(dc2);
    await dc1.registerService({ ID: 'front-1', Name: 'front', Port: 80, Check: ttl('front-1') });
    await dc2.registerService({ ID: 'billing-1', Name: 'billing', Port: 81, Check: ttl('billing-1') });
    cleanup.push(() => dc1.deregister('front-1'));

    const w = watch({ address: dc1.httpAddr }, 'multi');
    await vi.waitFor(() => {
      expect(w.store.source('multi')).toMatchObject({ state: 'ok', scopes: ['dc1', 'dc2'] });
      expect(w.service('dc2', 'billing')?.instances.map((i) => i.id)).toEqual(['node-dc2/billing-1']);
      expect(w.service('dc1', 'front')?.instances).toHaveLength(1);
    }, WAIT);
    expect(w.service('dc1', 'billing')).toBeUndefined();
    expect(w.service('dc2', 'front')).toBeUndefined();

    // A flip in dc2 reaches the dc2 scope through the dc1 agent.
    await dc2.failTtl('billing-1-ttl', 'down');
    await vi.waitFor(() => expect(w.service('dc2', 'billing')?.instances[0]?.health).toBe('critical'), WAIT);
  });
});
