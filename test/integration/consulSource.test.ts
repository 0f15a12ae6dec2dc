/**
 * ConsulSource against real Consul 1.8.7 dev agents (no mocks): normalization, check flips,
 * removals, two WAN-joined datacenters, and outages (last-known-good, then resync).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Service } from '../../protocol/model';
import { ConsulSource, type ConsulSourceConfig, type ConsulSourceOptions } from '../../server/sources/consul/consulSource';
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

function watch(config: Partial<ConsulSourceConfig> & { address: string }, name = 'c1', options: ConsulSourceOptions = {}): Watched {
  const source = new ConsulSource(
    { kind: 'consul', name, token: TOKEN, datacenters: 'all', ...config },
    // Short waits keep an outage visible quickly; production uses Consul's 5 min.
    { waitMs: 10_000, ...options },
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
    // The flip arrived whole in the critical list's answer: a check patch, not a re-read of the service.
    expect(w.events.some((e) => e.type === 'checks.changed' && e.checks.some((c) => c.serviceId === 'c1/dc1/pay' && c.instanceId === 'node-dc1/pay-1'))).toBe(true);

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
    // Sweeps 2 s apart instead of production's 15 s: the test needs one to happen, not the spacing.
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'c1', { sweepMinIntervalMs: 2_000 });
    await vi.waitFor(() => expect(w.service('dc1', 'lone')?.instances).toHaveLength(1), WAIT);
    await vi.waitFor(() => expect(w.service('dc1', 'moved')?.instances[0]?.port).toBe(5101), WAIT);

    await dc1.registerService({ ID: 'lone-2', Name: 'lone', Port: 5002 });
    await vi.waitFor(() => expect(w.service('dc1', 'lone')?.instances.map((i) => i.port)).toEqual([5001, 5002]), WAIT);

    await dc1.registerService({ ID: 'moved-1', Name: 'moved', Port: 5199, Check: ttl('moved-1') });
    await vi.waitFor(() => expect(w.service('dc1', 'moved')?.instances[0]?.port).toBe(5199), WAIT);
  });

  it('a sweep runs beside the watches: check flips get through while it reads, then it finds the re-registration', async () => {
    await dc1.registerService({ ID: 'swept-1', Name: 'swept', Port: 5201, Check: ttl('swept-1') });
    await dc1.registerService({ ID: 'busy-1', Name: 'busy', Port: 5301, Check: ttl('busy-1') });
    cleanup.push(async () => {
      for (const id of ['swept-1', 'busy-1']) await dc1.deregister(id);
    });
    // The per-node reads of any full read after the first are held until released.
    let hold = false;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    cleanup.push(async () => release());
    const fetchFn: typeof fetch = async (input, init) => {
      if (hold && FULL_READ.test(new URL(String(input)).pathname)) await held;
      return fetch(input, init);
    };
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'c1', { fetch: fetchFn, sweepMinIntervalMs: 500 });
    await vi.waitFor(() => expect(w.service('dc1', 'busy')?.instances[0]?.health).toBe('passing'), WAIT);
    hold = true;
    // A new port with the same tags, checks and count: nothing names it, so a sweep starts (and is held).
    await dc1.registerService({ ID: 'swept-1', Name: 'swept', Port: 5299, Check: ttl('swept-1') });
    await sleep(2_500);
    await dc1.failTtl('busy-1-ttl', 'during the sweep');
    await vi.waitFor(() => expect(w.service('dc1', 'busy')?.instances[0]?.health).toBe('critical'), WAIT);
    expect(w.service('dc1', 'swept')?.instances[0]?.port).toBe(5201);
    release();
    await vi.waitFor(() => expect(w.service('dc1', 'swept')?.instances[0]?.port).toBe(5299), WAIT);
    // The sweep's older view of busy did not undo the flip.
    expect(w.service('dc1', 'busy')?.instances[0]?.health).toBe('critical');
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

describe('ConsulSource watches the services someone has open on their own (real Consul 1.8.7)', () => {
  // Observed on 1.8.7 (registry-semantics.md A2): /v1/health/service/:name wakes only for changes
  // to that service. An open service's flips therefore arrive in one small round trip, while the
  // fleet-wide critical list may take the agent hundreds of ms to re-encode under churn.
  it('an open service\'s flip arrives through its own watch while the check watches are held; closed, the check watches take it back', async () => {
    for (let i = 1; i <= 2; i++) await dc1.registerService({ ID: `opened-${i}`, Name: 'opened', Port: 7300 + i, Check: ttl(`opened-${i}`) });
    await dc1.registerService({ ID: 'unopened-1', Name: 'unopened', Port: 7400, Check: ttl('unopened-1') });
    cleanup.push(async () => {
      for (const id of ['opened-1', 'opened-2', 'unopened-1']) await dc1.deregister(id);
    });
    // Answers of the two check watches are held (not their requests: one already waiting would
    // otherwise bring the flip) until released.
    let hold = false;
    let release!: () => void;
    let held = new Promise<void>((r) => (release = r));
    cleanup.push(async () => release());
    const paths: string[] = [];
    const fetchFn: typeof fetch = async (input, init) => {
      const path = new URL(String(input)).pathname;
      paths.push(path);
      const res = await fetch(input, init);
      if (hold && path.startsWith('/v1/health/state/')) await held;
      return res;
    };
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'c1', { fetch: fetchFn });
    const inst = (name: string, id: string) => w.service('dc1', name)?.instances.find((i) => i.id === `node-dc1/${id}`);
    await vi.waitFor(() => expect(inst('unopened', 'unopened-1')?.health).toBe('passing'), WAIT);
    w.source.focus('c1/dc1/opened', true);
    await vi.waitFor(() => expect(paths.filter((p) => p === '/v1/health/service/opened').length).toBeGreaterThan(0), WAIT);
    await sleep(300); // its first answer is in

    hold = true;
    await dc1.failTtl('opened-2-ttl', 'refused');
    await dc1.failTtl('unopened-1-ttl', 'refused');
    await vi.waitFor(() => expect(inst('opened', 'opened-2')?.checks.find((c) => c.id === 'opened-2-ttl')).toMatchObject({ status: 'critical', output: 'refused' }), WAIT);
    // The check watches are held: only the open service's own watch could have brought it.
    expect(inst('unopened', 'unopened-1')?.health).toBe('passing');
    hold = false;
    release();
    await vi.waitFor(() => expect(inst('unopened', 'unopened-1')?.health).toBe('critical'), WAIT);

    // Passing again: the check watches see it leave the critical list, but leave it to the open
    // service's watch (no read of its checks), which reports it.
    const from = paths.length;
    await dc1.passTtl('opened-2-ttl', 'ok');
    await vi.waitFor(() => expect(inst('opened', 'opened-2')?.checks.find((c) => c.id === 'opened-2-ttl')).toMatchObject({ status: 'passing', output: 'ok' }), WAIT);
    await sleep(300);
    expect(paths.slice(from).filter((p) => p === '/v1/health/checks/opened')).toEqual([]);

    // Closed: its watch stops, and the check watches follow it again.
    w.source.focus('c1/dc1/opened', false);
    await sleep(300);
    const closedAt = paths.length;
    hold = true;
    held = new Promise<void>((r) => (release = r));
    await dc1.failTtl('opened-1-ttl', 'closed');
    await sleep(500);
    expect(inst('opened', 'opened-1')?.health).toBe('passing');
    hold = false;
    release();
    await vi.waitFor(() => expect(inst('opened', 'opened-1')?.health).toBe('critical'), WAIT);
    expect(paths.slice(closedAt).filter((p) => p === '/v1/health/service/opened')).toEqual([]);
  });

  it('at most focusedServices are watched at once; the next one opened gets a watch when one closes', async () => {
    for (const name of ['first', 'second']) await dc1.registerService({ ID: `${name}-1`, Name: name, Port: 7500, Check: ttl(`${name}-1`) });
    cleanup.push(async () => {
      for (const id of ['first-1', 'second-1']) await dc1.deregister(id);
    });
    const paths: string[] = [];
    const fetchFn: typeof fetch = (input, init) => {
      paths.push(new URL(String(input)).pathname);
      return fetch(input, init);
    };
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'c1', { fetch: fetchFn, focusedServices: 1 });
    await vi.waitFor(() => expect(w.service('dc1', 'second')?.instances[0]?.health).toBe('passing'), WAIT);
    w.source.focus('c1/dc1/first', true);
    w.source.focus('c1/dc1/second', true);
    await vi.waitFor(() => expect(paths).toContain('/v1/health/service/first'), WAIT);
    await sleep(300);
    expect(paths).not.toContain('/v1/health/service/second');
    // Not watched on its own, the second still follows its flips (through the check watches).
    await dc1.failTtl('second-1-ttl', 'queued');
    await vi.waitFor(() => expect(w.service('dc1', 'second')?.instances[0]?.health).toBe('critical'), WAIT);
    w.source.focus('c1/dc1/first', false);
    await vi.waitFor(() => expect(paths).toContain('/v1/health/service/second'), WAIT);
    await dc1.passTtl('second-1-ttl', 'ok');
    await vi.waitFor(() => expect(w.service('dc1', 'second')?.instances[0]?.health).toBe('passing'), WAIT);
  });
});

/** Every request the adapter makes, by path (no query), through the injectable fetch. */
function countingFetch() {
  const paths: string[] = [];
  const fetchFn: typeof fetch = (input, init) => {
    paths.push(new URL(String(input)).pathname);
    return fetch(input, init);
  };
  return { paths, fetchFn, since: (n: number) => paths.slice(n) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FULL_READ = /^\/v1\/(catalog\/nodes|catalog\/node-services\/|health\/node\/)/;

describe('ConsulSource costs O(change) (real Consul 1.8.7)', () => {
  // Observed on 1.8.7: /v1/health/state/critical and /warning answer from the checks' status
  // index and block like /health/state/any (a flip in or out of the state wakes them; while a
  // state is empty, any check write wakes it with an unchanged `[]`). Their entries carry the
  // whole check (Status, Output, Name, Type, ServiceID). So a flip with a healthy fleet costs
  // two tiny long-poll answers, plus one read of the flipped service's checks when it turns passing.
  it('a check flip reads at most the flipped service\'s checks, once', async () => {
    for (let i = 1; i <= 3; i++) await dc1.registerService({ ID: `flip-${i}`, Name: 'flip', Port: 7100 + i, Check: ttl(`flip-${i}`) });
    await dc1.registerService({ ID: 'other-1', Name: 'other', Port: 7200, Check: ttl('other-1') });
    cleanup.push(async () => {
      for (const id of ['flip-1', 'flip-2', 'flip-3', 'other-1']) await dc1.deregister(id);
    });
    const counter = countingFetch();
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'c1', { fetch: counter.fetchFn });
    const inst = (id: string) => w.service('dc1', 'flip')?.instances.find((i) => i.id === `node-dc1/${id}`);
    await vi.waitFor(() => expect(inst('flip-3')?.health).toBe('passing'), WAIT);
    // The first sync is a per-node full read, not a read per service.
    expect(counter.paths.filter((p) => p.startsWith('/v1/health/service/'))).toEqual([]);
    expect(counter.paths.some((p) => p.startsWith('/v1/catalog/node-services/'))).toBe(true);
    await sleep(300);

    // Into a non-passing list, the check arrives whole in the watch's answer: nothing is read.
    // Out of both lists (passing), its new output is unknown: the service's checks are read,
    // once (not the service: a quarter of the bytes). Critical → warning leaves one list and
    // enters the other: its checks are read at most once, depending on which watch answers first.
    for (const [verb, health, expected] of [['fail', 'critical', [[]]], ['warn', 'warning', [[], ['/v1/health/checks/flip']]], ['pass', 'passing', [['/v1/health/checks/flip']]]] as const) {
      const from = counter.paths.length;
      await dc1[`${verb}Ttl`]('flip-2-ttl', `now ${health}`);
      await vi.waitFor(() => expect(inst('flip-2')?.checks.find((c) => c.id === 'flip-2-ttl')).toMatchObject({ status: health, output: `now ${health}` }), WAIT);
      expect(inst('flip-2')?.health).toBe(health);
      await sleep(300);
      const reads = counter.since(from).filter((p) => !/^\/v1\/(health\/state\/(critical|warning)|catalog\/services|kv\/)/.test(p));
      expect(expected.map((e) => JSON.stringify(e)), `${verb}: requests other than the long polls`).toContain(JSON.stringify(reads));
    }
    expect(inst('flip-1')?.health).toBe('passing');
  });

  // Regression guard for the checks-only read: a critical check that is deregistered leaves the
  // critical list like one that passed; the checks read no longer has it, so the service is read.
  it('a critical check that is deregistered disappears from its instance', async () => {
    await dc1.registerService({ ID: 'gone-1', Name: 'gonecheck', Port: 7150, Check: ttl('gone-1') });
    await dc1.put('/v1/agent/check/register', { ID: 'gone-1-extra', Name: 'extra', TTL: '10m', ServiceID: 'gone-1', Status: 'critical' });
    cleanup.push(() => dc1.deregister('gone-1'));
    const counter = countingFetch();
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'c1', { fetch: counter.fetchFn });
    const checks = () => w.service('dc1', 'gonecheck')?.instances[0]?.checks.map((c) => `${c.id}:${c.status}`);
    await vi.waitFor(() => expect(checks()).toEqual(['serfHealth:passing', 'gone-1-extra:critical', 'gone-1-ttl:passing']), WAIT);
    const from = counter.paths.length;
    await dc1.put('/v1/agent/check/deregister/gone-1-extra');
    await vi.waitFor(() => expect(checks()).toEqual(['serfHealth:passing', 'gone-1-ttl:passing']), WAIT);
    expect(w.service('dc1', 'gonecheck')?.instances[0]?.health).toBe('passing');
    expect(counter.since(from)).toEqual(expect.arrayContaining(['/v1/health/checks/gonecheck', '/v1/health/service/gonecheck']));
  });

  // Observed on 1.8.7: registering a passing instance with tags the service already has, or
  // deregistering one of several, moves /v1/catalog/services' index with a byte-identical body
  // and shows in no non-passing list; /v1/internal/ui/services' InstanceCount/Nodes for that
  // service is what changes.
  it('finds a passing registration with unchanged tags and a deregistration without a full read', async () => {
    await dc1.registerService({ ID: 'reg-1', Name: 'reg', Port: 7301, Tags: ['blue'], Check: ttl('reg-1') });
    await dc1.registerService({ ID: 'bystander-1', Name: 'bystander', Port: 7401, Check: ttl('bystander-1') });
    cleanup.push(async () => {
      for (const id of ['reg-1', 'reg-2', 'bystander-1']) await dc1.deregister(id);
    });
    const counter = countingFetch();
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'c1', { fetch: counter.fetchFn, sweepMinIntervalMs: 600_000 });
    await vi.waitFor(() => expect(w.service('dc1', 'reg')?.instances).toHaveLength(1), WAIT);
    await sleep(300);

    const from = counter.paths.length;
    await dc1.registerService({ ID: 'reg-2', Name: 'reg', Port: 7302, Tags: ['blue'], Check: ttl('reg-2') });
    await vi.waitFor(() => expect(w.service('dc1', 'reg')?.instances.map((i) => i.port)).toEqual([7301, 7302]), WAIT);
    await dc1.deregister('reg-1');
    await vi.waitFor(() => expect(w.service('dc1', 'reg')?.instances.map((i) => i.port)).toEqual([7302]), WAIT);
    await sleep(300);
    const after = counter.since(from);
    expect(after.filter((p) => FULL_READ.test(p))).toEqual([]);
    expect(new Set(after.filter((p) => p.startsWith('/v1/health/service/')))).toEqual(new Set(['/v1/health/service/reg']));
    expect(after).toContain('/v1/internal/ui/services');
    expect(w.store.source('c1')?.state).toBe('ok');
  });

  // Regression (seen at 10,000 services: a full sweep every 60 s): Consul 1.8.7 lists a service's
  // tags in Go map order, different from one answer to the next, so a wait timeout with nothing
  // changed looked like a catalog change no check explained, and swept the datacenter.
  it('an idle datacenter whose services have several tags is never swept or re-summarized', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `tagged-${i}`);
    for (const [i, id] of ids.entries()) await dc1.registerService({ ID: id, Name: 'tagged', Port: 7600 + i, Tags: [`t${i}`, `u${i}`], Check: ttl(id) });
    cleanup.push(async () => {
      for (const id of ids) await dc1.deregister(id);
    });
    const counter = countingFetch();
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'c1', { fetch: counter.fetchFn, waitMs: 200, sweepMinIntervalMs: 0 });
    await vi.waitFor(() => expect(w.service('dc1', 'tagged')?.instances).toHaveLength(6), WAIT);
    await sleep(500);
    const from = counter.paths.length;
    // ~20 wait timeouts of the catalog watch.
    await vi.waitFor(() => expect(counter.since(from).filter((p) => p === '/v1/catalog/services').length).toBeGreaterThanOrEqual(20), WAIT);
    await sleep(1_500); // a sweep is asked for 1 s after an unexplained change
    const after = counter.since(from);
    expect(after.filter((p) => FULL_READ.test(p) || p === '/v1/internal/ui/services' || p.startsWith('/v1/health/service/'))).toEqual([]);
    expect(w.service('dc1', 'tagged')?.tags).toEqual(ids.flatMap((_, i) => [`t${i}`, `u${i}`]).sort());
  });

  // Regression: a service named ".." cannot be read through /v1/health/service/.. (every HTTP
  // stack normalizes the path); it used to fail every round, so no other change appeared.
  it('a service named ".." does not hold back the rest of the datacenter', async () => {
    await dc1.registerService({ ID: 'dots-1', Name: '..', Port: 7501, Check: ttl('dots-1') });
    cleanup.push(async () => {
      for (const id of ['dots-1', 'after-dots-1']) await dc1.deregister(id);
    });
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] });
    await vi.waitFor(() => expect(w.store.source('c1')?.state).toBe('ok'), WAIT);
    await dc1.failTtl('dots-1-ttl', 'down');
    await dc1.registerService({ ID: 'after-dots-1', Name: 'after-dots', Port: 7502, Check: ttl('after-dots-1') });
    await vi.waitFor(() => expect(w.service('dc1', 'after-dots')?.instances).toHaveLength(1), WAIT);
    expect(w.store.source('c1')?.state).toBe('ok');
    // …and it is not mistaken for gone: it stays as the last full read saw it.
    expect(w.service('dc1', '..')?.instances).toHaveLength(1);
  });

  it('a full read by node equals a full read by service', async () => {
    await dc1.registerService({ ID: 'eq-1', Name: 'eq', Port: 7501, Tags: ['b', 'a'], Meta: { z: '1', a: '2' }, Check: ttl('eq-1') });
    await dc1.registerService({ ID: 'eq-2', Name: 'eq', Port: 7502, Address: '10.1.1.1', Checks: [ttl('eq-2'), { CheckID: 'eq-2-b', Name: 'second', TTL: '10m' }] });
    await dc1.registerService({ ID: 'eq-lone', Name: 'eq-lone', Port: 7503 });
    cleanup.push(async () => {
      for (const id of ['eq-1', 'eq-2', 'eq-lone']) await dc1.deregister(id);
    });
    const byNode = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'same', { fullRead: 'nodes' });
    const byService = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'same', { fullRead: 'services' });
    await vi.waitFor(() => {
      expect(byNode.service('dc1', 'eq')?.instances).toHaveLength(2);
      expect(byService.service('dc1', 'eq')?.instances).toHaveLength(2);
    }, WAIT);
    const a = byNode.events.find((e) => e.type === 'scope.synced');
    const b = byService.events.find((e) => e.type === 'scope.synced');
    expect(a).toEqual(b);
  });
});

/**
 * A proxy in front of the real agent that can poison one endpoint's answers: a 100 MB body, a
 * malformed body, or X-Consul-Index values shifted by an offset (to make the index jump
 * backwards, as after a snapshot restore).
 */
async function faultyProxy(target: string) {
  const { createServer } = await import('node:http');
  const state: { fault: null | { path: RegExp; kind: 'huge' | 'malformed' }; offset: number } = { fault: null, offset: 0 };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const fault = state.fault && state.fault.path.test(url.pathname) ? state.fault.kind : null;
    const index = url.searchParams.get('index');
    if (index !== null) url.searchParams.set('index', String(Math.max(1, Number(index) - state.offset)));
    let upstream: Response;
    try {
      upstream = await fetch(`${target}${url.pathname}${url.search}`, { headers: req.headers as Record<string, string>, signal: AbortSignal.timeout(60_000) });
    } catch {
      res.destroy();
      return;
    }
    const body = Buffer.from(await upstream.arrayBuffer());
    const headers: Record<string, string> = { 'content-type': upstream.headers.get('content-type') ?? 'application/json' };
    const idx = upstream.headers.get('x-consul-index');
    if (idx !== null) headers['x-consul-index'] = String(Number(idx) + state.offset);
    if (fault === 'malformed') {
      res.writeHead(200, headers).end('[{"Node":"n1","CheckID":');
      return;
    }
    if (fault === 'huge') {
      // 100 MB, chunked (no Content-Length): only a streaming byte cap stops it.
      res.writeHead(200, headers);
      const chunk = Buffer.from(`{"Node":"n","CheckID":"c","Name":"x","Status":"critical","ModifyIndex":1,"Output":"${'x'.repeat(900)}"},`);
      let sent = 0;
      res.write('[');
      const pump = () => {
        while (sent < 100 * 2 ** 20) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end('{}]');
      };
      res.on('close', () => (sent = Infinity));
      pump();
      return;
    }
    res.writeHead(upstream.status, headers).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  return {
    address,
    state,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

/** A fetch that holds the per-node reads (the bulk read) until released, so the pending phase can be watched. */
function gatedFetch() {
  const paths: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fetchFn: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    paths.push(path);
    if (FULL_READ.test(path)) await gate;
    return fetch(input, init);
  };
  return { paths, fetchFn, release };
}

describe('ConsulSource lists a large datacenter from its summary first (real Consul 1.8.7)', () => {
  // Observed on 1.8.7 at 10,000 services × 15 on 500 nodes: /v1/internal/ui/services answers in
  // ~1.2 s of agent CPU (7.8 MB, one row per service with InstanceCount, Nodes, Tags), while
  // reading every instance (500 × node-services + health/node) costs the agent ~12.8 s of CPU.
  it('lists every service with counts before any instance is read, reads a wanted one ahead, follows flips, then fills in the rest', async () => {
    await dc1.registerService({ ID: 'sf-web-1', Name: 'sf-web', Port: 7701, Tags: ['blue'], Check: ttl('sf-web-1') });
    await dc1.registerService({ ID: 'sf-web-2', Name: 'sf-web', Port: 7702, Tags: ['green'], Check: ttl('sf-web-2', { Status: 'critical' }) });
    await dc1.registerService({ ID: 'sf-api-1', Name: 'sf-api', Port: 7801, Check: ttl('sf-api-1') });
    await dc1.registerService({ ID: 'sf-db-1', Name: 'sf-db', Port: 7901, Check: ttl('sf-db-1') });
    cleanup.push(async () => {
      for (const id of ['sf-web-1', 'sf-web-2', 'sf-api-1', 'sf-db-1']) await dc1.deregister(id);
    });
    const gated = gatedFetch();
    cleanup.push(async () => gated.release());
    const w = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'c1', { fetch: gated.fetchFn, summaryFirstAbove: 0 });

    // Listed and ok while no per-node read has been answered: counts from the summary and the check watches.
    await vi.waitFor(() => expect(w.store.source('c1')?.state).toBe('ok'), WAIT);
    expect(w.store.source('c1')?.detail).toMatch(/^listed from the registry's summary; reading the instances of \d+ services$/);
    expect(w.store.summary('c1/dc1/sf-web')).toMatchObject({ tags: ['blue', 'green'], counts: { passing: 1, warning: 0, critical: 1, unknown: 0 } });
    expect(w.service('dc1', 'sf-web')).toMatchObject({ instances: [], pending: { passing: 1, critical: 1 } });
    expect(w.store.isPending('c1/dc1/sf-api')).toBe(true);
    expect(gated.paths).toContain('/v1/internal/ui/services');

    // Someone opens sf-api: it alone is read, ahead of the held bulk read.
    w.store.onDemand((id) => w.source.want(id));
    const api = await w.store.loaded('c1/dc1/sf-api', 15_000);
    expect(api?.pending).toBeUndefined();
    expect(api?.instances.map((i) => [i.id, i.health])).toEqual([['node-dc1/sf-api-1', 'passing']]);
    expect(gated.paths.filter((p) => p.startsWith('/v1/health/service/'))).toEqual(['/v1/health/service/sf-api']);
    expect(w.store.isPending('c1/dc1/sf-db')).toBe(true);

    // A flip on a pending service during the bulk read: that service is read alone, at once.
    await dc1.failTtl('sf-db-1-ttl', 'disk full');
    await vi.waitFor(() => expect(w.service('dc1', 'sf-db')?.instances[0]?.health).toBe('critical'), WAIT);
    expect(w.store.summary('c1/dc1/sf-db')?.counts.critical).toBe(1);

    // The bulk read lands: every service has its instances, the flipped one keeps its newer state.
    gated.release();
    await vi.waitFor(() => expect(w.store.pendingCount).toBe(0), WAIT);
    await vi.waitFor(() => expect(w.store.source('c1')?.detail ?? null).toBeNull(), WAIT);
    const web = w.service('dc1', 'sf-web')!;
    expect(web.pending).toBeUndefined();
    expect(web.instances.map((i) => [i.id, i.health])).toEqual([['node-dc1/sf-web-1', 'passing'], ['node-dc1/sf-web-2', 'critical']]);
    expect(w.service('dc1', 'sf-db')?.instances[0]?.checks.find((c) => c.id === 'sf-db-1-ttl')).toMatchObject({ status: 'critical', output: 'disk full' });
    expect(w.store.summary('c1/dc1/sf-web')?.counts).toEqual({ passing: 1, warning: 0, critical: 1, unknown: 0 });
    expect(w.events.some((e) => e.type === 'services.changed')).toBe(true);

    // And it keeps following changes as usual.
    await dc1.passTtl('sf-web-2-ttl', 'back');
    await vi.waitFor(() => expect(w.store.summary('c1/dc1/sf-web')?.counts.passing).toBe(2), WAIT);
  });

  it('a small datacenter, or one without a usable summary, is read in full before it is listed', async () => {
    await dc1.registerService({ ID: 'sf-small-1', Name: 'sf-small', Port: 7711, Check: ttl('sf-small-1') });
    cleanup.push(() => dc1.deregister('sf-small-1'));
    // Below the threshold (the default, 10,000 instances).
    const small = watch({ address: dc1.httpAddr, datacenters: ['dc1'] }, 'small');
    // Summary unusable (malformed): listed after the full read, never pending.
    const proxy = await faultyProxy(dc1.httpAddr);
    cleanup.push(() => proxy.close());
    proxy.state.fault = { path: /^\/v1\/internal\/ui\/services$/, kind: 'malformed' };
    const broken = watch({ address: proxy.address, datacenters: ['dc1'] }, 'broken', { summaryFirstAbove: 0 });
    for (const w of [small, broken]) {
      await vi.waitFor(() => expect(w.store.source(w.source.id)?.state).toBe('ok'), WAIT);
      expect(w.service('dc1', 'sf-small')?.instances).toHaveLength(1);
      expect(w.store.pendingCount).toBe(0);
      // Every event since the start: nothing was ever listed without its instances.
      expect(w.events.some((e) => (e.type === 'scope.synced' || e.type === 'services.changed') && e.services.some((svc) => svc.pending))).toBe(false);
      expect(w.events.some((e) => e.type === 'status' && e.detail)).toBe(false);
    }
  });
});

describe('ConsulSource against a hostile or broken upstream', () => {
  it('a 100 MB body or a malformed body → stale with a clear error, last-known-good kept, then recovers', async () => {
    await dc1.registerService({ ID: 'hostile-1', Name: 'hostile', Port: 7601, Check: ttl('hostile-1') });
    cleanup.push(() => dc1.deregister('hostile-1'));
    const proxy = await faultyProxy(dc1.httpAddr);
    cleanup.push(() => proxy.close());
    const w = watch({ address: proxy.address, datacenters: ['dc1'] }, 'c1', { waitMs: 2_000, backoff: { initialMs: 200, maxMs: 1_000, minMs: 50 } });
    await vi.waitFor(() => expect(w.service('dc1', 'hostile')?.instances).toHaveLength(1), WAIT);
    const rss0 = process.memoryUsage().rss;

    proxy.state.fault = { path: /^\/v1\/health\/state\/critical$/, kind: 'huge' };
    await dc1.failTtl('hostile-1-ttl', 'wake the watch');
    await vi.waitFor(() => expect(w.store.source('c1')?.state).toBe('stale'), WAIT);
    expect(w.store.source('c1')?.lastError).toMatch(/^GET \/v1\/health\/state\/critical\?dc=dc1: response body larger than the 67108864-byte limit \(read \d+ bytes, stopped\)$/);
    expect(w.service('dc1', 'hostile')?.instances).toHaveLength(1);
    // Nothing near 100 MB stays around (the cap is 64 MiB and chunks are dropped on failure).
    expect(process.memoryUsage().rss - rss0).toBeLessThan(300 * 2 ** 20);

    proxy.state.fault = { path: /^\/v1\/health\/state\/critical$/, kind: 'malformed' };
    await vi.waitFor(() => expect(w.store.source('c1')?.lastError).toBe('GET /v1/health/state/critical?dc=dc1: response is not JSON'), WAIT);
    expect(w.store.source('c1')?.state).toBe('stale');
    expect(w.service('dc1', 'hostile')?.instances).toHaveLength(1);

    proxy.state.fault = null;
    await vi.waitFor(() => {
      expect(w.store.source('c1')?.state).toBe('ok');
      expect(w.service('dc1', 'hostile')?.instances[0]?.health).toBe('critical');
    }, WAIT);
  });

  it('an index that goes backwards in the middle of churn → recovers to the registry’s state', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `churn-${i}`);
    for (const [i, id] of ids.entries()) await dc1.registerService({ ID: id, Name: `churn-${i % 3}`, Port: 7700 + i, Check: ttl(id) });
    cleanup.push(async () => {
      for (const id of ids) await dc1.deregister(id);
    });
    const proxy = await faultyProxy(dc1.httpAddr);
    cleanup.push(() => proxy.close());
    proxy.state.offset = 100_000;
    const w = watch({ address: proxy.address, datacenters: ['dc1'] }, 'c1', { waitMs: 1_500, sweepMinIntervalMs: 2_000, backoff: { initialMs: 200, maxMs: 1_000, minMs: 50 } });
    const health = (id: string) => w.service('dc1', `churn-${Number(id.split('-')[1]) % 3}`)?.instances.find((i) => i.id === `node-dc1/${id}`)?.health;
    await vi.waitFor(() => expect(ids.map(health)).toEqual(ids.map(() => 'passing')), WAIT);

    const final = new Map<string, 'passing' | 'critical'>();
    for (let round = 0; round < 24; round++) {
      const id = ids[round % ids.length]!;
      const status = round % 4 < 2 ? 'critical' : 'passing';
      await (status === 'critical' ? dc1.failTtl(`${id}-ttl`, `r${round}`) : dc1.passTtl(`${id}-ttl`, `r${round}`));
      final.set(id, status);
      // Halfway through, the index falls by 100,000 (what a snapshot restore looks like).
      if (round === 12) proxy.state.offset = 0;
      await sleep(25);
    }
    await vi.waitFor(() => {
      expect(ids.map(health)).toEqual(ids.map((id) => final.get(id)));
      expect(w.store.source('c1')?.state).toBe('ok');
    }, { timeout: 30_000, interval: 50 });
  });
});
