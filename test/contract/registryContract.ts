/**
 * One contract for the Consul HTTP API subset Switchboard and its users depend on, run against
 * real Consul 1.8.7 and against the embedded registry. Where they differ, the embedded one is
 * wrong. Assertions are on observable answers (bodies, statuses, indexes), never on timing.
 */
import Consul from 'consul';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

export interface RegistryUnderTest {
  httpAddr: string;
  stop(): Promise<void>;
}

const WAIT = { timeout: 15_000, interval: 50 };

interface Answer {
  status: number;
  index: number | null;
  text: string;
  json: () => unknown;
}

export function registryContract(name: string, start: () => Promise<RegistryUnderTest>): void {
  describe(`Consul HTTP API contract — ${name}`, () => {
    let reg: RegistryUnderTest;
    beforeAll(async () => {
      reg = await start();
    });
    afterAll(async () => {
      await reg?.stop();
    });

    async function api(method: string, path: string, body?: string | Buffer | object): Promise<Answer> {
      const payload = body === undefined ? undefined : typeof body === "string" ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body);
      const r = await fetch(`${reg.httpAddr}${path}`, { method, body: payload });
      const text = await r.text();
      const idx = r.headers.get('x-consul-index');
      return { status: r.status, index: idx === null ? null : Number(idx), text, json: () => JSON.parse(text) };
    }
    const ok = async (method: string, path: string, body?: string | Buffer | object) => {
      const a = await api(method, path, body);
      expect(a.status, `${method} ${path}: ${a.text}`).toBe(200);
      return a;
    };
    type Entry = { Service: Record<string, unknown>; Checks: { CheckID: string; Status: string; Output: string; Name: string; ServiceID: string }[] };
    const health = async (svc: string, query = '') => (await ok('GET', `/v1/health/service/${svc}${query}`)).json() as Entry[];

    it('registration shows up in agent, catalog and health with Consul’s shapes and defaults', async () => {
      await ok('PUT', '/v1/agent/service/register', { Name: 'shape', ID: 'shape-1', Port: 8080, Tags: ['blue', 'v1'], Check: { TTL: '30s' } });
      await ok('PUT', '/v1/agent/service/register', { Name: 'shape', ID: 'shape-2', Address: '10.0.0.2', Port: 8081, Meta: { color: 'green' } });
      const agent = (await ok('GET', '/v1/agent/services')).json() as Record<string, Record<string, unknown>>;
      expect(agent['shape-1']).toMatchObject({ ID: 'shape-1', Service: 'shape', Tags: ['blue', 'v1'], Port: 8080, Address: '', Meta: {}, Weights: { Passing: 1, Warning: 1 } });

      await vi.waitFor(async () => expect((await health('shape')).length).toBe(2), WAIT);
      const services = (await ok('GET', '/v1/catalog/services')).json() as Record<string, string[]>;
      expect([...services.shape!].sort()).toEqual(['blue', 'v1']);

      const catalog = (await ok('GET', '/v1/catalog/service/shape')).json() as Record<string, unknown>[];
      const c1 = catalog.find((e) => e.ServiceID === 'shape-1')!;
      expect(c1).toMatchObject({ ServiceName: 'shape', ServiceAddress: '', ServicePort: 8080, ServiceTags: ['blue', 'v1'], ServiceMeta: {}, Datacenter: 'dc1' });
      expect(typeof c1.Address).toBe('string');
      expect(typeof c1.ModifyIndex).toBe('number');

      const entries = await health('shape');
      const e1 = entries.find((e) => e.Service.ID === 'shape-1')!;
      const e2 = entries.find((e) => e.Service.ID === 'shape-2')!;
      expect(e1.Service).toMatchObject({ Service: 'shape', Port: 8080, Address: '', Meta: null });
      expect(e2.Service).toMatchObject({ Address: '10.0.0.2', Meta: { color: 'green' } });
      // Default check id and name, initial status critical, plus the node's serfHealth.
      expect(e1.Checks.map((c) => c.CheckID).sort()).toEqual(['serfHealth', 'service:shape-1']);
      expect(e1.Checks.find((c) => c.CheckID === 'service:shape-1')).toMatchObject({ Status: 'critical', Name: "Service 'shape' check", ServiceID: 'shape-1', Output: '' });
      expect(e2.Checks.map((c) => c.CheckID)).toEqual(['serfHealth']);
    });

    it('numbers the checks of a Checks array and keeps an explicit Status', async () => {
      await ok('PUT', '/v1/agent/service/register', { Name: 'multi', Checks: [{ TTL: '30s', Status: 'passing' }, { TTL: '30s', Notes: 'second' }] });
      await vi.waitFor(async () => expect((await health('multi')).length).toBe(1), WAIT);
      const checks = (await ok('GET', '/v1/health/checks/multi')).json() as { CheckID: string; Status: string; Notes: string }[];
      expect(checks.map((c) => [c.CheckID, c.Status]).sort()).toEqual([['service:multi:1', 'passing'], ['service:multi:2', 'critical']]);
    });

    it('moves TTL checks through pass, warn, fail and update, and filters by passing and tags', async () => {
      await ok('PUT', '/v1/agent/service/register', { Name: 'ttl', ID: 'ttl-1', Tags: ['a', 'b'], Check: { CheckID: 'ttl-1-check', TTL: '5m' } });
      await ok('PUT', '/v1/agent/service/register', { Name: 'ttl', ID: 'ttl-2', Tags: ['a'], Check: { CheckID: 'ttl-2-check', TTL: '5m', Status: 'passing' } });
      const status = async (id: string) => (await health('ttl')).find((e) => e.Service.ID === id)?.Checks.find((c) => c.CheckID === `${id}-check`);

      await ok('PUT', '/v1/agent/check/pass/ttl-1-check?note=all%20good');
      await vi.waitFor(async () => expect(await status('ttl-1')).toMatchObject({ Status: 'passing', Output: 'all good' }), WAIT);
      await ok('PUT', '/v1/agent/check/warn/ttl-1-check?note=slow');
      await vi.waitFor(async () => expect(await status('ttl-1')).toMatchObject({ Status: 'warning', Output: 'slow' }), WAIT);
      // ?passing drops the warning instance; tags are an AND.
      expect((await health('ttl', '?passing=1')).map((e) => e.Service.ID)).toEqual(['ttl-2']);
      expect((await health('ttl', '?tag=a&tag=b')).map((e) => e.Service.ID)).toEqual(['ttl-1']);
      await ok('PUT', '/v1/agent/check/fail/ttl-1-check?note=down');
      await vi.waitFor(async () => expect(await status('ttl-1')).toMatchObject({ Status: 'critical', Output: 'down' }), WAIT);
      await ok('PUT', '/v1/agent/check/update/ttl-1-check', { Status: 'passing', Output: 'back' });
      await vi.waitFor(async () => expect(await status('ttl-1')).toMatchObject({ Status: 'passing', Output: 'back' }), WAIT);

      const critical = (await ok('GET', '/v1/health/state/critical')).json() as { CheckID: string }[];
      expect(critical.map((c) => c.CheckID)).not.toContain('ttl-1-check');
      const unknown = await api('PUT', '/v1/agent/check/pass/no-such-check');
      expect([unknown.status, unknown.text]).toEqual([500, 'CheckID "no-such-check" does not have associated TTL']);
      const bad = await api('PUT', '/v1/agent/check/update/ttl-1-check', { Status: 'nope' });
      expect([bad.status, bad.text]).toEqual([400, "Invalid check status: 'nope'"]);
    });

    it('blocking queries wake on relevant changes only, with indexes that only grow', async () => {
      await ok('PUT', '/v1/agent/service/register', { Name: 'blk', ID: 'blk-1', Check: { CheckID: 'blk-1-check', TTL: '5m', Status: 'passing' } });
      await ok('PUT', '/v1/agent/service/register', { Name: 'other', ID: 'other-1', Check: { CheckID: 'other-1-check', TTL: '5m', Status: 'passing' } });
      await vi.waitFor(async () => expect((await health('other')).length).toBe(1), WAIT);
      await vi.waitFor(async () => expect((await health('blk')).length).toBe(1), WAIT);

      const svcIdx = (await ok('GET', '/v1/catalog/services')).index!;
      const stateIdx = (await ok('GET', '/v1/health/state/any')).index!;
      const blkIdx = (await ok('GET', '/v1/health/service/blk')).index!;
      const otherIdx = (await ok('GET', '/v1/health/service/other')).index!;
      expect(Math.min(svcIdx, stateIdx, blkIdx, otherIdx)).toBeGreaterThanOrEqual(1);

      const catalogWake = api('GET', `/v1/catalog/services?index=${svcIdx}&wait=10s`);
      const stateWake = api('GET', `/v1/health/state/any?index=${stateIdx}&wait=10s`);
      const blkWake = api('GET', `/v1/health/service/blk?index=${blkIdx}&wait=10s`);
      const otherQuiet = api('GET', `/v1/health/service/other?index=${otherIdx}&wait=2s`);

      await ok('PUT', '/v1/agent/check/fail/blk-1-check?note=x');
      const s = await stateWake;
      expect(s.index).toBeGreaterThan(stateIdx);
      const b = await blkWake;
      expect(b.index).toBeGreaterThan(blkIdx);
      expect((b.json() as Entry[])[0]!.Checks.find((c) => c.CheckID === 'blk-1-check')!.Status).toBe('critical');
      // A check on another service does not wake /health/service/other: it times out unchanged.
      const o = await otherQuiet;
      expect(o.index).toBe(otherIdx);

      await ok('PUT', '/v1/agent/service/register', { Name: 'blk-new', Port: 1 });
      const c = await catalogWake;
      expect(c.index).toBeGreaterThan(svcIdx);
      expect(Object.keys(c.json() as object)).toContain('blk-new');
      const after = (await ok('GET', '/v1/catalog/services')).index!;
      expect(after).toBeGreaterThanOrEqual(c.index!);
    });

    it('KV: put/get with base64, flags, CAS, recurse, keys, raw and delete', async () => {
      expect((await ok('PUT', '/v1/kv/ct/app/one?flags=42', 'hello')).json()).toBe(true);
      const got = (await ok('GET', '/v1/kv/ct/app/one')).json() as { Key: string; Value: string; Flags: number; ModifyIndex: number; CreateIndex: number; LockIndex: number }[];
      expect(got[0]).toMatchObject({ Key: 'ct/app/one', Value: Buffer.from('hello').toString('base64'), Flags: 42, LockIndex: 0 });
      const mi = got[0]!.ModifyIndex;
      const single = await api('GET', '/v1/kv/ct/app/one');
      expect(single.index).toBe(mi);

      expect((await ok('PUT', '/v1/kv/ct/app/two?cas=0', 'v1')).json()).toBe(true);
      expect((await ok('PUT', '/v1/kv/ct/app/two?cas=0', 'v2')).json()).toBe(false);
      const two = ((await ok('GET', '/v1/kv/ct/app/two')).json() as { ModifyIndex: number }[])[0]!;
      expect((await ok('PUT', `/v1/kv/ct/app/two?cas=${two.ModifyIndex}`, 'v3')).json()).toBe(true);
      expect((await ok('PUT', `/v1/kv/ct/app/two?cas=${two.ModifyIndex}`, 'v4')).json()).toBe(false);
      expect((await ok('GET', '/v1/kv/ct/app/two?raw')).text).toBe('v3');

      await ok('PUT', '/v1/kv/ct/application', 'prefix-not-path');
      await ok('PUT', '/v1/kv/ct/empty', '');
      expect(((await ok('GET', '/v1/kv/ct/empty')).json() as { Value: unknown }[])[0]!.Value).toBeNull();
      const recurse = (await ok('GET', '/v1/kv/ct/app?recurse')).json() as { Key: string }[];
      // recurse is a string prefix, not a path.
      expect(recurse.map((r) => r.Key)).toEqual(['ct/app/one', 'ct/app/two', 'ct/application']);
      expect((await ok('GET', '/v1/kv/ct/?keys&separator=/')).json()).toEqual(['ct/app/', 'ct/application', 'ct/empty']);

      const missing = await api('GET', '/v1/kv/ct/missing');
      expect(missing.status).toBe(404);
      expect(missing.text).toBe('');
      expect(missing.index).toBeGreaterThanOrEqual(1);
      expect((await api('GET', '/v1/kv/ct/nothing-here?recurse')).status).toBe(404);

      expect((await ok('DELETE', '/v1/kv/ct/app?recurse')).json()).toBe(true);
      expect((await api('GET', '/v1/kv/ct/app/one')).status).toBe(404);
      expect((await ok('DELETE', '/v1/kv/ct/never-existed')).json()).toBe(true);
    });

    it('answers bad input with Consul’s errors and stores nothing', async () => {
      const cases: [string, string, string | object, number, string | RegExp][] = [
        ['PUT', '/v1/agent/service/register', { ID: 'nameless' }, 400, 'Missing service name'],
        ['PUT', '/v1/agent/service/register', '{bad', 400, /^Request decode failed: invalid character 'b'/],
        ['PUT', '/v1/agent/service/register', { Name: 'bad-http', Check: { HTTP: 'http://127.0.0.1:1/' } }, 400, 'Invalid check: Interval must be > 0 for Script, HTTP, or TCP checks'],
        ['PUT', '/v1/agent/service/register', { Name: 'bad-type', Check: { Name: 'x' } }, 400, 'Invalid check: TTL must be > 0 for TTL checks'],
        ['PUT', '/v1/agent/service/register', { Name: 'bad-field', Check: { Foo: 'x' } }, 400, 'Request decode failed: json: unknown field "Foo"'],
        ['PUT', '/v1/agent/service/register', { Name: 'bad-ttl', Check: { TTL: '10 seconds' } }, 400, 'Request decode failed: time: unknown unit " seconds" in duration "10 seconds"'],
        ['PUT', '/v1/agent/service/register', { Name: 'bad-port', Port: '80' }, 400, 'Request decode failed: json: cannot unmarshal string into Go struct field .Port of type int'],
        ['PUT', '/v1/agent/service/register', { Name: 'bad-status', Check: { TTL: '5s', Status: 'bogus' } }, 400, "Status for checks must 'passing', 'warning', 'critical'"],
      ];
      for (const [method, path, body, status, message] of cases) {
        const a = await api(method, path, body);
        expect(a.status, JSON.stringify(body)).toBe(status);
        if (typeof message === 'string') expect(a.text).toBe(message);
        else expect(a.text).toMatch(message);
      }
      const agent = (await ok('GET', '/v1/agent/services')).json() as Record<string, unknown>;
      for (const id of ['nameless', 'bad-http', 'bad-type', 'bad-field', 'bad-ttl', 'bad-port', 'bad-status']) expect(agent).not.toHaveProperty(id);

      expect(await api('GET', '/v1/catalog/services?wait=2')).toMatchObject({ status: 400, text: 'Invalid wait time' });
      expect(await api('GET', '/v1/catalog/services?index=abc')).toMatchObject({ status: 400, text: 'Invalid index' });
      expect(await api('GET', '/v1/catalog/services?dc=nowhere')).toMatchObject({ status: 500, text: 'No path to datacenter' });
      expect((await api('POST', '/v1/agent/service/register', {})).status).toBe(405);
      expect((await api('GET', '/v1/no/such/route')).status).toBe(404);
      expect(await api('PUT', '/v1/kv/ct/x?cas=abc', 'x')).toMatchObject({ status: 500, text: 'strconv.ParseUint: parsing "abc": invalid syntax' });
      const big = await api('PUT', '/v1/kv/ct/big', Buffer.alloc(600 * 1024, 1));
      expect(big.status).toBe(413);
      expect(big.text).toContain('too large, max size: 524288 bytes');
      expect((await api('GET', '/v1/kv/ct/big')).status).toBe(404);
    });

    it('deregistration removes the instance and its checks; unknown ids answer 200', async () => {
      await ok('PUT', '/v1/agent/service/register', { Name: 'gone', ID: 'gone-1', Check: { CheckID: 'gone-1-check', TTL: '5m' } });
      await vi.waitFor(async () => expect((await health('gone')).length).toBe(1), WAIT);
      await ok('PUT', '/v1/agent/service/deregister/gone-1');
      await vi.waitFor(async () => expect(await health('gone')).toEqual([]), WAIT);
      const services = (await ok('GET', '/v1/catalog/services')).json() as Record<string, unknown>;
      expect(services).not.toHaveProperty('gone');
      const checks = (await ok('GET', '/v1/health/state/any')).json() as { CheckID: string }[];
      expect(checks.map((c) => c.CheckID)).not.toContain('gone-1-check');
      await ok('PUT', '/v1/agent/service/deregister/never-registered');
    });

    const nodeName = async () => ((await ok('GET', '/v1/agent/self')).json() as { Config: { NodeName: string } }).Config.NodeName;

    it('agent/self, agent/members, status/leader and status/peers answer in Consul’s shapes', async () => {
      const self = (await ok('GET', '/v1/agent/self')).json() as Record<string, Record<string, unknown>>;
      expect(Object.keys(self)).toEqual(expect.arrayContaining(['Config', 'DebugConfig', 'Coord', 'Member', 'Stats', 'Meta']));
      expect(self.Config).toMatchObject({ Datacenter: 'dc1', Revision: '', Server: true, Version: '1.8.7' });
      expect(self.Config!.NodeID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(Object.keys(self.Stats!)).toEqual(expect.arrayContaining(['agent', 'build', 'consul', 'raft', 'runtime', 'serf_lan', 'serf_wan']));
      expect(self.Stats!.consul).toMatchObject({ leader: 'true', server: 'true', acl: 'disabled' });
      const name = self.Config!.NodeName as string;
      const members = (await ok('GET', '/v1/agent/members')).json() as Record<string, unknown>[];
      expect(members).toHaveLength(1);
      expect(members[0]).toMatchObject({ Name: name, Status: 1, Tags: expect.objectContaining({ dc: 'dc1', role: 'consul', build: '1.8.7:' }) });
      expect(Object.keys(members[0]!)).toEqual(['Name', 'Addr', 'Port', 'Tags', 'Status', 'ProtocolMin', 'ProtocolMax', 'ProtocolCur', 'DelegateMin', 'DelegateMax', 'DelegateCur']);
      const leader = (await ok('GET', '/v1/status/leader')).json() as string;
      expect(leader).toMatch(/^127\.0\.0\.1:\d+$/);
      expect((await ok('GET', '/v1/status/peers')).json()).toEqual([leader]);
    });

    it('catalog/nodes, catalog/node, catalog/node-services and health/node answer for the node, with blocking', async () => {
      await ok('PUT', '/v1/agent/service/register', { Name: 'nodesvc', ID: 'nodesvc-1', Port: 7001, Tags: ['x'], Meta: { m: '1' }, Check: { CheckID: 'nodesvc-1-ttl', TTL: '5m' } });
      await vi.waitFor(async () => expect((await health('nodesvc')).length).toBe(1), WAIT);
      const name = await nodeName();
      const nodes = await ok('GET', '/v1/catalog/nodes');
      const list = nodes.json() as Record<string, unknown>[];
      expect(list).toHaveLength(1);
      expect(Object.keys(list[0]!)).toEqual(['ID', 'Node', 'Address', 'Datacenter', 'TaggedAddresses', 'Meta', 'CreateIndex', 'ModifyIndex']);
      expect(list[0]).toMatchObject({ Node: name, Address: '127.0.0.1', Datacenter: 'dc1', Meta: { 'consul-network-segment': '' } });
      expect(nodes.index).toBeGreaterThanOrEqual(1);
      expect((await ok('GET', '/v1/catalog/nodes?node-meta=consul-network-segment:')).json()).toHaveLength(1);
      expect((await ok('GET', '/v1/catalog/nodes?node-meta=rack:r1')).json()).toEqual([]);

      const node = await ok('GET', `/v1/catalog/node/${name}`);
      const nb = node.json() as { Node: Record<string, unknown>; Services: Record<string, Record<string, unknown>> };
      expect(nb.Node).toMatchObject({ Node: name, Datacenter: 'dc1' });
      expect(Object.keys(nb.Services['nodesvc-1']!)).toEqual(['ID', 'Service', 'Tags', 'Address', 'Meta', 'Port', 'Weights', 'EnableTagOverride', 'Proxy', 'Connect', 'CreateIndex', 'ModifyIndex']);
      expect(nb.Services['nodesvc-1']).toMatchObject({ ID: 'nodesvc-1', Service: 'nodesvc', Tags: ['x'], Address: '', Meta: { m: '1' }, Port: 7001 });
      const ns = (await ok('GET', `/v1/catalog/node-services/${name}`)).json() as { Node: unknown; Services: Record<string, unknown>[] };
      expect(ns.Services.find((x) => x.ID === 'nodesvc-1')).toEqual(nb.Services['nodesvc-1']);
      expect((await ok('GET', '/v1/catalog/node/no-such-node')).text.trim()).toBe('null');
      expect((await ok('GET', '/v1/catalog/node-services/no-such-node')).json()).toEqual({ Node: null, Services: null });

      const hn = (await ok('GET', `/v1/health/node/${name}`)).json() as { CheckID: string; Node: string; ServiceID: string }[];
      expect(hn.find((c) => c.CheckID === 'serfHealth')).toMatchObject({ Node: name, ServiceID: '', Status: 'passing', Name: 'Serf Health Status' });
      expect(hn.find((c) => c.CheckID === 'nodesvc-1-ttl')).toMatchObject({ ServiceID: 'nodesvc-1', Status: 'critical', Type: 'ttl' });
      expect((await ok('GET', '/v1/health/node/no-such-node')).json()).toEqual([]);
      expect(((await ok('GET', '/v1/health/checks/nodesvc')).json() as { CheckID: string }[]).map((c) => c.CheckID)).toEqual(['nodesvc-1-ttl']);

      // Blocking: a registration wakes catalog/node, a check flip wakes health/node.
      const nodeIdx = (await ok('GET', `/v1/catalog/node/${name}`)).index!;
      const healthIdx = (await ok('GET', `/v1/health/node/${name}`)).index!;
      const nodeWake = api('GET', `/v1/catalog/node/${name}?index=${nodeIdx}&wait=10s`);
      const healthWake = api('GET', `/v1/health/node/${name}?index=${healthIdx}&wait=10s`);
      await ok('PUT', '/v1/agent/check/pass/nodesvc-1-ttl');
      const h = await healthWake;
      expect(h.index).toBeGreaterThan(healthIdx);
      await ok('PUT', '/v1/agent/service/register', { Name: 'nodesvc', ID: 'nodesvc-2', Port: 7002 });
      const n = await nodeWake;
      expect(n.index).toBeGreaterThan(nodeIdx);
      expect(Object.keys((n.json() as { Services: object }).Services)).toContain('nodesvc-2');
    });

    type Session = { ID: string; Name: string; Node: string; LockDelay: number; Behavior: string; TTL: string; NodeChecks: string[] | null; ServiceChecks: unknown; CreateIndex: number; ModifyIndex: number };
    const createSession = async (body?: object) => ((await ok('PUT', '/v1/session/create', body)).json() as { ID: string }).ID;
    const kvEntry = async (key: string) => {
      const a = await api('GET', `/v1/kv/${key}`);
      return a.status === 404 ? null : (a.json() as { LockIndex: number; Session?: string; Value: string | null; Flags: number; ModifyIndex: number }[])[0]!;
    };

    it('sessions: create, info, list, node, renew and destroy with Consul’s shapes, defaults and errors', async () => {
      const name = await nodeName();
      const id = await createSession({ Name: 'ct-lock', TTL: '10s' });
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const info = await ok('GET', `/v1/session/info/${id}`);
      const [s] = info.json() as Session[];
      expect(Object.keys(s!)).toEqual(['ID', 'Name', 'Node', 'LockDelay', 'Behavior', 'TTL', 'NodeChecks', 'ServiceChecks', 'CreateIndex', 'ModifyIndex']);
      expect(s).toMatchObject({ ID: id, Name: 'ct-lock', Node: name, LockDelay: 15_000_000_000, Behavior: 'release', TTL: '10s', NodeChecks: ['serfHealth'], ServiceChecks: null });
      expect(info.index).toBeGreaterThanOrEqual(s!.CreateIndex);
      expect(((await ok('GET', '/v1/session/list')).json() as Session[]).map((x) => x.ID)).toContain(id);
      expect(((await ok('GET', `/v1/session/node/${name}`)).json() as Session[]).map((x) => x.ID)).toContain(id);
      expect((await ok('GET', '/v1/session/node/no-such-node')).json()).toEqual([]);
      const renewed = await ok('PUT', `/v1/session/renew/${id}`);
      expect((renewed.json() as Session[])[0]).toEqual(s);
      expect(renewed.index).toBeNull();

      const legacy = await createSession({ Checks: [], LockDelay: 5, Behavior: 'delete' });
      expect(((await ok('GET', `/v1/session/info/${legacy}`)).json() as Session[])[0]).toMatchObject({ NodeChecks: [], LockDelay: 5_000_000_000, Behavior: 'delete', TTL: '' });
      const ns = await createSession({ LockDelay: '250ms', TTL: '0s' });
      expect(((await ok('GET', `/v1/session/info/${ns}`)).json() as Session[])[0]).toMatchObject({ LockDelay: 250_000_000, TTL: '0s' });

      const zero = '00000000-0000-0000-0000-000000000000';
      const cases: [string, string, object | undefined, number, string][] = [
        ['PUT', '/v1/session/create', { TTL: '5s' }, 500, "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]"],
        ['PUT', '/v1/session/create', { TTL: '25h' }, 500, "Invalid Session TTL '90000000000000', must be between [10s=24h0m0s]"],
        ['PUT', '/v1/session/create', { TTL: 'abc' }, 500, 'Session TTL \'abc\' invalid: time: invalid duration "abc"'],
        ['PUT', '/v1/session/create', { Behavior: 'foo' }, 500, "Invalid Behavior setting 'foo'"],
        ['PUT', '/v1/session/create', { Node: 'nope' }, 500, 'Missing node registration'],
        ['PUT', '/v1/session/create', { Checks: ['nope'] }, 500, "Missing check 'nope' registration"],
        ['PUT', `/v1/session/renew/${zero}`, undefined, 404, `Session id '${zero}' not found`],
        ['PUT', '/v1/session/destroy/abc', undefined, 500, 'failed session lookup: index error: UUID must be 36 characters'],
        ['GET', '/v1/session/info/abc', undefined, 500, 'failed session lookup: index error: UUID must be 36 characters'],
        ['PUT', `/v1/kv/ct/lk/x?acquire=${zero}`, undefined, 500, `invalid session "${zero}"`],
        ['PUT', '/v1/kv/ct/lk/x?acquire=abc', undefined, 500, 'failed session lookup: index error: UUID must be 36 characters'],
        ['PUT', `/v1/kv/ct/lk/x?acquire=${id}&cas=1`, undefined, 400, `Conflicting flags: acquire=${id}&cas=1`],
      ];
      for (const [method, path, body, status, text] of cases) expect(await api(method, path, body), `${method} ${path}`).toMatchObject({ status, text });
      expect((await api('PUT', '/v1/session/create', '{bad')).text).toBe("Request decode failed: invalid character 'b' looking for beginning of object key string");
      expect((await api('GET', `/v1/session/info/${zero}`)).json()).toEqual([]);
      expect((await api('GET', '/v1/session/create')).status).toBe(405);
      expect(await kvEntry('ct/lk/x')).toBeNull();

      expect((await ok('PUT', `/v1/session/destroy/${id}`)).json()).toBe(true);
      expect((await ok('PUT', `/v1/session/destroy/${zero}`)).json()).toBe(true);
      expect((await ok('GET', `/v1/session/info/${id}`)).json()).toEqual([]);
      for (const x of [legacy, ns]) await ok('PUT', `/v1/session/destroy/${x}`);
    });

    it('KV locks: acquire, re-acquire, contention, release, destroy with lock-delay, LockIndex and Session fields', async () => {
      const a = await createSession({ Name: 'a', LockDelay: '3s' });
      const b = await createSession({ Name: 'b' });
      expect((await ok('PUT', `/v1/kv/ct/lock/leader?acquire=${a}&flags=3304740253564472344`, 'a1')).json()).toBe(true);
      const held = await ok('GET', '/v1/kv/ct/lock/leader');
      // Flags is a uint64: `consul lock` uses 0x2ddccbc058a50c18, which JSON.parse cannot hold exactly.
      expect(held.text).toMatch(/"Flags":\s*3304740253564472344,/);
      const e1 = (held.json() as Record<string, unknown>[])[0]!;
      expect(Object.keys(e1)).toEqual(['LockIndex', 'Key', 'Flags', 'Value', 'Session', 'CreateIndex', 'ModifyIndex']);
      expect(e1).toMatchObject({ LockIndex: 1, Session: a, Value: Buffer.from('a1').toString('base64') });
      // The holder re-acquiring updates the value and keeps LockIndex; another session is refused.
      expect((await ok('PUT', `/v1/kv/ct/lock/leader?acquire=${a}`, 'a2')).json()).toBe(true);
      expect(await kvEntry('ct/lock/leader')).toMatchObject({ LockIndex: 1, Session: a, Value: Buffer.from('a2').toString('base64') });
      expect((await ok('PUT', `/v1/kv/ct/lock/leader?acquire=${b}`, 'b')).json()).toBe(false);
      expect((await ok('PUT', `/v1/kv/ct/lock/leader?release=${b}`, 'b')).json()).toBe(false);
      expect((await ok('PUT', '/v1/kv/ct/lock/missing?release=' + a, 'x')).json()).toBe(false);
      // A plain write keeps the holder but (as Consul does) zeroes LockIndex.
      expect((await ok('PUT', '/v1/kv/ct/lock/leader', 'plain')).json()).toBe(true);
      expect(await kvEntry('ct/lock/leader')).toMatchObject({ LockIndex: 0, Session: a });
      // Release: the session goes, LockIndex stays, no lock delay (b acquires at once).
      expect((await ok('PUT', `/v1/kv/ct/lock/leader?release=${a}`, 'free')).json()).toBe(true);
      const released = await kvEntry('ct/lock/leader');
      expect(released).toMatchObject({ LockIndex: 0, Value: Buffer.from('free').toString('base64') });
      expect(released).not.toHaveProperty('Session');
      expect((await ok('PUT', `/v1/kv/ct/lock/leader?acquire=${b}`, 'b1')).json()).toBe(true);
      expect(await kvEntry('ct/lock/leader')).toMatchObject({ LockIndex: 1, Session: b });
      expect((await ok('PUT', `/v1/kv/ct/lock/leader?release=${b}`)).json()).toBe(true);

      // Destroying a holder releases its keys and starts its lock delay (3s here): nobody acquires until it ends.
      expect((await ok('PUT', `/v1/kv/ct/lock/leader?acquire=${a}`, 'a3')).json()).toBe(true);
      const blockIdx = (await ok('GET', '/v1/kv/ct/lock/leader')).index!;
      const woken = api('GET', `/v1/kv/ct/lock/leader?index=${blockIdx}&wait=10s`);
      await ok('PUT', `/v1/session/destroy/${a}`);
      const w = await woken;
      expect(w.index).toBeGreaterThan(blockIdx);
      expect((w.json() as Record<string, unknown>[])[0]).not.toHaveProperty('Session');
      expect((w.json() as Record<string, unknown>[])[0]).toMatchObject({ LockIndex: 2 });
      expect((await ok('PUT', `/v1/kv/ct/lock/leader?acquire=${b}`, 'early')).json()).toBe(false);
      await vi.waitFor(async () => expect((await ok('PUT', `/v1/kv/ct/lock/leader?acquire=${b}`, 'late')).json()).toBe(true), { timeout: 10_000, interval: 250 });
      expect(await kvEntry('ct/lock/leader')).toMatchObject({ LockIndex: 3, Session: b });
      await ok('PUT', `/v1/session/destroy/${b}`);
    });

    it('sessions: TTL expiry (TTL × 2) releases or deletes held keys; a check going critical invalidates its sessions', async () => {
      await ok('PUT', '/v1/agent/service/register', { Name: 'sesschk', ID: 'sesschk-1', Check: { CheckID: 'sesschk-ttl', TTL: '5m', Status: 'passing' } });
      await vi.waitFor(async () => expect((await health('sesschk')).length).toBe(1), WAIT);
      const critical = await createSession({ Checks: ['serfHealth'] });
      expect(await api('PUT', '/v1/session/create', { Checks: ['sesschk-ttl'] })).toMatchObject({ status: 200 });
      const onCheck = await createSession({ NodeChecks: [], ServiceChecks: [{ ID: 'sesschk-ttl' }], LockDelay: '0s' });
      expect((await ok('PUT', `/v1/kv/ct/sess/check?acquire=${onCheck}`, 'x')).json()).toBe(true);
      await ok('PUT', '/v1/agent/check/fail/sesschk-ttl');
      await vi.waitFor(async () => expect((await ok('GET', `/v1/session/info/${onCheck}`)).json()).toEqual([]), WAIT);
      expect(await kvEntry('ct/sess/check')).not.toHaveProperty('Session');
      expect(await api('PUT', '/v1/session/create', { Checks: ['sesschk-ttl'] })).toMatchObject({ status: 500, text: "Check 'sesschk-ttl' is in critical state" });
      await ok('PUT', `/v1/session/destroy/${critical}`);

      const del = await createSession({ TTL: '10s', Behavior: 'delete', LockDelay: '0s' });
      const rel = await createSession({ TTL: '10s', LockDelay: '0s' });
      const kept = await createSession({ TTL: '10s', LockDelay: '0s' });
      expect((await ok('PUT', `/v1/kv/ct/sess/del?acquire=${del}`, 'x')).json()).toBe(true);
      expect((await ok('PUT', `/v1/kv/ct/sess/rel?acquire=${rel}`, 'x')).json()).toBe(true);
      expect((await ok('PUT', `/v1/kv/ct/sess/kept?acquire=${kept}`, 'x')).json()).toBe(true);
      const started = Date.now();
      // Renewing keeps `kept` alive past the others' expiry.
      const renew = setInterval(() => void api('PUT', `/v1/session/renew/${kept}`), 4000);
      try {
        await vi.waitFor(async () => expect((await ok('GET', `/v1/session/info/${rel}`)).json()).toEqual([]), { timeout: 45_000, interval: 500 });
        // Not before TTL × 2 (20s) — Consul's grace.
        expect(Date.now() - started).toBeGreaterThanOrEqual(19_000);
        await vi.waitFor(async () => expect(await kvEntry('ct/sess/del')).toBeNull(), { timeout: 15_000, interval: 500 });
        const r = await kvEntry('ct/sess/rel');
        expect(r).toMatchObject({ LockIndex: 1 });
        expect(r).not.toHaveProperty('Session');
        expect(await kvEntry('ct/sess/kept')).toMatchObject({ Session: kept });
      } finally {
        clearInterval(renew);
      }
      await ok('PUT', `/v1/session/destroy/${kept}`);
    }, 90_000);

    it('txn: KV, node, service and check ops, all or nothing, with Consul’s results, errors and codes', async () => {
      const name = await nodeName();
      const b64 = (v: string) => Buffer.from(v).toString('base64');
      const txn = (ops: unknown) => api('PUT', '/v1/txn', ops as object);
      const w = await txn([{ KV: { Verb: 'set', Key: 'ct/txn/a', Value: b64('a'), Flags: 7 } }, { KV: { Verb: 'get', Key: 'ct/txn/a' } }]);
      expect(w.status).toBe(200);
      const wb = w.json() as { Results: { KV: Record<string, unknown> }[]; Errors: unknown };
      expect(Object.keys(wb)).toEqual(['Results', 'Errors']);
      expect(wb.Errors).toBeNull();
      expect(wb.Results[0]!.KV).toMatchObject({ LockIndex: 0, Key: 'ct/txn/a', Flags: 7, Value: null });
      expect(wb.Results[1]!.KV).toMatchObject({ Key: 'ct/txn/a', Flags: 7, Value: b64('a') });
      expect(wb.Results[0]!.KV.ModifyIndex).toBe(wb.Results[1]!.KV.ModifyIndex);
      const mi = wb.Results[1]!.KV.ModifyIndex as number;

      // One failing op rolls back the others: 409 with every failing op's index and reason.
      const rb = await txn([
        { KV: { Verb: 'set', Key: 'ct/txn/b', Value: b64('b') } },
        { KV: { Verb: 'cas', Key: 'ct/txn/a', Value: b64('x'), Index: mi + 1000 } },
        { KV: { Verb: 'check-not-exists', Key: 'ct/txn/a' } },
      ]);
      expect(rb.status).toBe(409);
      expect(rb.json()).toEqual({ Results: null, Errors: [{ OpIndex: 1, What: 'failed to set key "ct/txn/a", index is stale' }, { OpIndex: 2, What: 'key "ct/txn/a" exists' }] });
      expect((await api('GET', '/v1/kv/ct/txn/b')).status).toBe(404);

      // Read-only transactions carry the read fields too.
      const ro = await txn([{ KV: { Verb: 'get', Key: 'ct/txn/none' } }]);
      expect(ro.status).toBe(409);
      expect(ro.json()).toEqual({ Results: null, Errors: [{ OpIndex: 0, What: 'key "ct/txn/none" doesn\'t exist' }], Index: 0, LastContact: 0, KnownLeader: true, ConsistencyLevel: '' });
      const ci = await txn([{ KV: { Verb: 'check-index', Key: 'ct/txn/a', Index: 1 } }]);
      expect((ci.json() as { Errors: unknown[] }).Errors).toEqual([{ OpIndex: 0, What: `failed index check for key "ct/txn/a", current modify index ${mi} != 1` }]);
      const tree = await txn([{ KV: { Verb: 'get-tree', Key: 'ct/txn/' } }]);
      expect(tree.status).toBe(200);
      expect((tree.json() as { Results: unknown[] }).Results).toHaveLength(1);
      expect((await txn([])).json()).toEqual({ Results: [], Errors: null, Index: 0, LastContact: 0, KnownLeader: true, ConsistencyLevel: '' });

      // Locks in a transaction, checked by session.
      const sid = await createSession({});
      const lk = await txn([{ KV: { Verb: 'lock', Key: 'ct/txn/lock', Value: b64('l'), Session: sid } }, { KV: { Verb: 'check-session', Key: 'ct/txn/lock', Session: sid } }]);
      expect(lk.status).toBe(200);
      expect((lk.json() as { Results: { KV: Record<string, unknown> }[] }).Results[0]!.KV).toMatchObject({ LockIndex: 1, Session: sid, Value: null });
      const zero = '00000000-0000-0000-0000-000000000000';
      expect((await txn([{ KV: { Verb: 'lock', Key: 'ct/txn/lock2', Session: zero } }])).json()).toEqual({ Results: null, Errors: [{ OpIndex: 0, What: `invalid session "${zero}"` }] });
      expect((await txn([{ KV: { Verb: 'check-session', Key: 'ct/txn/a', Session: zero } }])).json()).toMatchObject({ Errors: [{ OpIndex: 0, What: `failed session check for key "ct/txn/a", current session "" != "${zero}"` }] });
      expect((await txn([{ KV: { Verb: 'delete-cas', Key: 'ct/txn/a', Index: 1 } }])).json()).toEqual({ Results: null, Errors: [{ OpIndex: 0, What: 'failed to delete key "ct/txn/a", index is stale' }] });
      expect((await txn([{ KV: { Verb: 'bogus', Key: 'ct/txn/a' } }])).json()).toMatchObject({ Errors: [{ OpIndex: 0, What: 'unknown KV verb "bogus"' }] });
      expect((await txn([{ KV: { Verb: 'set', Key: '', Value: b64('x') } }])).json()).toEqual({ Results: null, Errors: [{ OpIndex: 0, What: 'Must provide key' }] });
      const del = await txn([{ KV: { Verb: 'delete', Key: 'ct/txn/a' } }, { KV: { Verb: 'delete-tree', Key: 'ct/txn/zz' } }]);
      expect([del.status, del.json()]).toEqual([200, { Results: [], Errors: null }]);
      await ok('PUT', `/v1/session/destroy/${sid}`);

      // Node, service and check ops on the agent's node.
      const node = await txn([{ Node: { Verb: 'get', Node: { Node: name } } }]);
      expect((node.json() as { Results: { Node: Record<string, unknown> }[] }).Results[0]!.Node).toMatchObject({ Node: name, Datacenter: 'dc1' });
      const svc = await txn([{ Service: { Verb: 'set', Node: name, Service: { ID: 'txsvc-1', Service: 'txsvc', Port: 5 } } }]);
      expect(svc.status).toBe(200);
      expect((svc.json() as { Results: { Service: Record<string, unknown> }[] }).Results[0]!.Service).toMatchObject({ ID: 'txsvc-1', Service: 'txsvc', Tags: null, Meta: null, Port: 5 });
      expect(((await ok('GET', '/v1/catalog/service/txsvc')).json() as unknown[]).length).toBe(1);
      expect((await txn([{ Service: { Verb: 'get', Node: name, Service: { ID: 'nope' } } }])).json()).toMatchObject({ Errors: [{ OpIndex: 0, What: `service "nope" on node "${name}" doesn't exist` }] });
      expect((await txn([{ Check: { Verb: 'get', Check: { Node: name, CheckID: 'nope' } } }])).json()).toMatchObject({ Errors: [{ OpIndex: 0, What: `check "nope" on node "${name}" doesn't exist` }] });
      expect((await txn([{ Service: { Verb: 'delete', Node: name, Service: { ID: 'txsvc-1' } } }])).json()).toEqual({ Results: null, Errors: [{ OpIndex: 0, What: 'Must provide service name with ID' }] });
      expect((await txn([{ Service: { Verb: 'delete', Node: name, Service: { ID: 'txsvc-1', Service: 'txsvc' } } }])).status).toBe(200);
      await vi.waitFor(async () => expect((await ok('GET', '/v1/catalog/service/txsvc')).json()).toEqual([]), WAIT);

      // Body errors.
      const many = Array.from({ length: 65 }, () => ({ KV: { Verb: 'get', Key: 'ct/txn/a' } }));
      expect(await txn(many)).toMatchObject({ status: 413, text: 'Transaction contains too many operations (65 > 64)' });
      expect(await txn([{ KV: { Verb: 'set', Key: 'ct/txn/c', Value: '!!' } }])).toMatchObject({ status: 400, text: 'Failed to parse body: illegal base64 data at input byte 0' });
      expect(await txn([{ KV: { Verb: 'set', Key: 'ct/txn/c', Foo: 1 } }])).toMatchObject({ status: 400, text: 'Failed to parse body: json: unknown field "Foo"' });
      expect(await txn({})).toMatchObject({ status: 400, text: 'Failed to parse body: json: cannot unmarshal object into Go value of type api.TxnOps' });
      expect(await api('PUT', '/v1/txn', '{bad')).toMatchObject({ status: 400, text: "Failed to parse body: invalid character 'b' looking for beginning of object key string" });
      expect((await api('GET', '/v1/txn')).status).toBe(405);
    });

    it('?filter= on catalog, health and agent endpoints, with Consul’s error texts', async () => {
      await ok('PUT', '/v1/agent/service/register', { Name: 'flt', ID: 'flt-1', Port: 81, Tags: ['blue'], Meta: { color: 'blue' }, Check: { CheckID: 'flt-1-ttl', TTL: '5m', Status: 'passing' } });
      await ok('PUT', '/v1/agent/service/register', { Name: 'flt', ID: 'flt-2', Port: 82, Tags: ['green'], Meta: { color: 'green' }, Check: { CheckID: 'flt-2-ttl', TTL: '5m' } });
      await vi.waitFor(async () => expect((await health('flt')).length).toBe(2), WAIT);
      const name = await nodeName();
      const f = (expr: string) => `filter=${encodeURIComponent(expr)}`;
      const sorted = (xs: string[]) => [...xs].sort();
      expect((await health('flt', `?${f('Service.Meta.color == "blue"')}`)).map((e) => e.Service.ID)).toEqual(['flt-1']);
      expect((await health('flt', `?${f('Checks.Status == critical')}`)).map((e) => e.Service.ID)).toEqual(['flt-2']);
      expect(((await ok('GET', `/v1/catalog/service/flt?${f('ServicePort == 82 or "blue" in ServiceTags')}`)).json() as { ServiceID: string }[]).map((e) => e.ServiceID).sort()).toEqual(['flt-1', 'flt-2']);
      expect(((await ok('GET', `/v1/health/checks/flt?${f('Status != "passing"')}`)).json() as { CheckID: string }[]).map((c) => c.CheckID)).toEqual(['flt-2-ttl']);
      expect(((await ok('GET', `/v1/health/node/${name}?${f('ServiceName == "flt" and Status == "passing"')}`)).json() as { CheckID: string }[]).map((c) => c.CheckID)).toEqual(['flt-1-ttl']);
      expect(((await ok('GET', `/v1/health/state/any?${f('ServiceID matches "^flt-" and not (Status == passing)')}`)).json() as { CheckID: string }[]).map((c) => c.CheckID)).toEqual(['flt-2-ttl']);
      expect(Object.keys((await ok('GET', `/v1/agent/services?${f('Service == "flt" and Meta.color != "blue"')}`)).json() as object)).toEqual(['flt-2']);
      expect(sorted(Object.keys((await ok('GET', `/v1/agent/checks?${f('ServiceName == flt')}`)).json() as object))).toEqual(['flt-1-ttl', 'flt-2-ttl']);
      expect(((await ok('GET', `/v1/catalog/nodes?${f(`Node == "${name}"`)}`)).json() as unknown[]).length).toBe(1);
      expect((await ok('GET', `/v1/catalog/nodes?${f('Meta is empty')}`)).json()).toEqual([]);
      const ns = (await ok('GET', `/v1/catalog/node-services/${name}?${f('Service == flt and Port == 81')}`)).json() as { Services: { ID: string }[] };
      expect(ns.Services.map((x) => x.ID)).toEqual(['flt-1']);
      expect((await health('flt', `?${f('')}`)).length).toBe(2);

      const bad: [string, string][] = [
        ['Foo == 1', 'Selector "Foo" is not valid'],
        ['Service.Port == "abc"', 'Failed to coerce value "abc" for selector "Service.Port": strconv.ParseInt: parsing "abc": invalid syntax'],
        ['Service.Port ==', '1:16 (15): no match found, expected: "-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]'],
        ['(Service.Port == 80', '1:20 (19): rule "grouping": Unmatched parentheses'],
        ['Service.Port matches "8"', 'Invalid match operator "Matches" for selector "Service.Port"'],
        ['Service.ID matches "["', 'Failed to compile regular expression "[": error parsing regexp: missing closing ]: `[`'],
        ['Service.Port == 0x50', '1:18 (17): rule "number": Invalid number literal'],
      ];
      for (const [expr, text] of bad) expect(await api('GET', `/v1/health/service/flt?${f(expr)}`), expr).toMatchObject({ status: 500, text: `Failed to create boolean expression evaluator: ${text}` });
    });

    it('works unchanged with the `consul` npm client: register, pass, discover, KV CAS, deregister', async () => {
      const url = new URL(reg.httpAddr);
      const consul = new Consul({ host: url.hostname, port: Number(url.port) });
      await consul.agent.service.register({ name: 'npm-svc', id: 'npm-svc-1', port: 9999, tags: ['npm'], check: { name: 'npm heartbeat', ttl: '30s', timeout: '5s', deregistercriticalserviceafter: '1m' } });
      await consul.agent.check.pass({ id: 'service:npm-svc-1', note: 'from npm' });
      await vi.waitFor(async () => {
        const passing = (await consul.health.service({ service: 'npm-svc', passing: true })) as Entry[];
        expect(passing.map((e) => e.Service.ID)).toEqual(['npm-svc-1']);
      }, WAIT);

      expect(await consul.kv.set('ct/npm/key', 'v1')).toBe(true);
      const got = (await consul.kv.get('ct/npm/key')) as { Value: string; ModifyIndex: number };
      expect(got.Value).toBe('v1');
      expect(await consul.kv.set({ key: 'ct/npm/key', value: 'v2', cas: got.ModifyIndex })).toBe(true);
      // A lost CAS race resolves undefined with this client (papi drops a falsy body).
      expect(await consul.kv.set({ key: 'ct/npm/key', value: 'v3', cas: got.ModifyIndex })).not.toBe(true);
      expect(await consul.kv.get('ct/npm/missing')).toBeUndefined();

      await consul.agent.service.deregister('npm-svc-1');
      await vi.waitFor(async () => expect(await consul.health.service({ service: 'npm-svc' })).toEqual([]), WAIT);
    });
  });
}
