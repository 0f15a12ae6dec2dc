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
