/**
 * The embedded registry beyond the shared contract: durability across a clean restart and a
 * real `kill -9`, HTTP and TCP checks against real servers, Switchboard's own Consul adapter
 * syncing from it, hardening (Host allow-list, body limits, malformed URLs, check validation,
 * interval and output limits, a property test that every request is answered), and the
 * per-endpoint index rules of the scale-oriented read paths.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnRegistryProcess } from '../support/registryProcessHandle';
import { startEmbeddedRegistry, type EmbeddedRegistry } from '../../registry/embeddedRegistry';
import { ConsulSource } from '../../server/sources/consul/consulSource';
import { TopologyStore } from '../../server/topology/topologyStore';

const WAIT = { timeout: 15_000, interval: 50 };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tmp = () => mkdtempSync(join(tmpdir(), 'sb-embedded-'));

async function start(dataDir: string, httpPort = 0): Promise<EmbeddedRegistry> {
  const r = await startEmbeddedRegistry({ dataDir, httpPort });
  cleanups.push(() => r.close().catch(() => undefined));
  return r;
}

async function put(addr: string, path: string, body?: unknown): Promise<string> {
  const r = await fetch(`${addr}${path}`, { method: 'PUT', body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  expect(r.status, text).toBe(200);
  return text;
}

async function checks(addr: string, service: string) {
  return (await (await fetch(`${addr}/v1/health/checks/${service}`)).json()) as { CheckID: string; Status: string; Output: string }[];
}

async function spawnRegistry(dataDir: string, port = 0): Promise<{ child: ChildProcess; httpAddr: string }> {
  const r = await spawnRegistryProcess(dataDir, port);
  cleanups.push(() => void r.child.kill('SIGKILL'));
  return r;
}

describe('embedded registry', () => {
  it('keeps registrations and KV across a restart, with indexes that never go back and health recomputed', async () => {
    const dir = tmp();
    const first = await start(dir);
    await put(first.httpAddr, '/v1/agent/service/register', { Name: 'keep', ID: 'keep-1', Port: 7000, Tags: ['x'], Check: { CheckID: 'keep-ttl', TTL: '5m', Status: 'passing' } });
    await put(first.httpAddr, '/v1/kv/cfg/a', 'persisted');
    const indexBefore = first.state.currentIndex;
    await first.close();

    const second = await start(dir);
    const services = (await (await fetch(`${second.httpAddr}/v1/agent/services`)).json()) as Record<string, { Port: number; Tags: string[] }>;
    expect(services['keep-1']).toMatchObject({ Port: 7000, Tags: ['x'] });
    expect(await (await fetch(`${second.httpAddr}/v1/kv/cfg/a?raw`)).text()).toBe('persisted');
    expect(second.state.currentIndex).toBeGreaterThanOrEqual(indexBefore);
    // Health is recomputed: a TTL check must be passed again after a restart.
    expect((await checks(second.httpAddr, 'keep'))[0]).toMatchObject({ CheckID: 'keep-ttl', Status: 'critical' });
  });

  it('loses nothing acknowledged when its process is killed with SIGKILL', async () => {
    const dir = tmp();
    const { child, httpAddr } = await spawnRegistry(dir);
    for (let i = 0; i < 20; i++) await put(httpAddr, `/v1/kv/crash/${i}`, `v${i}`);
    await put(httpAddr, '/v1/agent/service/register', { Name: 'survivor', Port: 1 });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;

    const again = await spawnRegistry(dir);
    const keys = (await (await fetch(`${again.httpAddr}/v1/kv/crash/?keys`)).json()) as string[];
    expect(keys).toHaveLength(20);
    expect(await (await fetch(`${again.httpAddr}/v1/kv/crash/19?raw`)).text()).toBe('v19');
    expect(Object.keys((await (await fetch(`${again.httpAddr}/v1/agent/services`)).json()) as object)).toContain('survivor');
  });

  it('runs HTTP checks on their interval (2xx passing, 429 warning, 500 critical) and TCP checks', async () => {
    let answer = 200;
    const web: Server = createServer((_q, res) => {
      res.writeHead(answer);
      res.end(`status ${answer}`);
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => web.close(() => r())));
    const tcp = createTcpServer((s) => s.end());
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const tcpPort = (tcp.address() as { port: number }).port;
    cleanups.push(() => new Promise<void>((r) => tcp.close(() => r())));

    const reg = await start(tmp());
    const url = `http://127.0.0.1:${(web.address() as { port: number }).port}/ready`;
    await put(reg.httpAddr, '/v1/agent/service/register', {
      Name: 'probed', Port: 1,
      Checks: [{ CheckID: 'http', HTTP: url, Interval: '100ms', Timeout: '1s' }, { CheckID: 'tcp', TCP: `127.0.0.1:${tcpPort}`, Interval: '100ms' }],
    });
    const status = async (id: string) => (await checks(reg.httpAddr, 'probed')).find((c) => c.CheckID === id);
    await vi.waitFor(async () => expect(await status('http')).toMatchObject({ Status: 'passing', Output: `HTTP GET ${url}: 200 OK Output: status 200` }), WAIT);
    await vi.waitFor(async () => expect(await status('tcp')).toMatchObject({ Status: 'passing', Output: `TCP connect 127.0.0.1:${tcpPort}: Success` }), WAIT);
    answer = 429;
    await vi.waitFor(async () => expect((await status('http'))?.Status).toBe('warning'), WAIT);
    answer = 500;
    await vi.waitFor(async () => expect((await status('http'))?.Status).toBe('critical'), WAIT);
    await new Promise<void>((r) => tcp.close(() => r()));
    await vi.waitFor(async () => expect((await status('tcp'))?.Status).toBe('critical'), WAIT);
  });

  it('expires TTL checks that are not refreshed', async () => {
    const reg = await start(tmp());
    await put(reg.httpAddr, '/v1/agent/service/register', { Name: 'ttlx', Check: { CheckID: 'ttlx', TTL: '300ms' } });
    await put(reg.httpAddr, '/v1/agent/check/pass/ttlx?note=alive');
    await vi.waitFor(async () => expect((await checks(reg.httpAddr, 'ttlx'))[0]).toMatchObject({ Status: 'critical', Output: 'TTL expired (last output before timeout follows): alive' }), WAIT);
  });

  it('feeds Switchboard’s Consul adapter like a real agent', async () => {
    const reg = await start(tmp());
    await put(reg.httpAddr, '/v1/agent/service/register', { Name: 'pay', ID: 'pay-1', Port: 9301, Tags: ['blue'], Check: { CheckID: 'pay-1-ttl', TTL: '5m', Status: 'passing' } });
    const source = new ConsulSource({ kind: 'consul', name: 'emb', address: reg.httpAddr, token: null, datacenters: 'all' }, { waitMs: 5_000 });
    const store = new TopologyStore();
    store.addSource({ id: source.id, kind: source.kind, name: source.name, address: source.address });
    source.start((e) => store.apply(source.id, e));
    cleanups.push(() => source.stop());
    await vi.waitFor(() => expect(store.service('emb/dc1/pay')?.instances[0]).toMatchObject({ id: 'switchboard-embedded/pay-1', port: 9301, health: 'passing' }), WAIT);
    await put(reg.httpAddr, '/v1/agent/check/fail/pay-1-ttl?note=boom');
    await vi.waitFor(() => expect(store.service('emb/dc1/pay')?.instances[0]?.health).toBe('critical'), WAIT);
    await put(reg.httpAddr, '/v1/agent/service/register', { Name: 'pay', ID: 'pay-2', Port: 9302, Tags: ['green'] });
    await vi.waitFor(() => expect(store.service('emb/dc1/pay')?.tags).toEqual(['blue', 'green']), WAIT);
    await put(reg.httpAddr, '/v1/agent/service/deregister/pay-1');
    await put(reg.httpAddr, '/v1/agent/service/deregister/pay-2');
    await vi.waitFor(() => expect(store.service('emb/dc1/pay')).toBeUndefined(), WAIT);
  });
});

/** One raw HTTP exchange (no URL normalisation, any Host header); resolves with whatever came back. */
function raw(addr: string, method: string, path: string, opts: { host?: string; body?: Buffer | string; timeoutMs?: number } = {}): Promise<{ status: number; text: string }> {
  const url = new URL(addr);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname, port: url.port, method, path, timeout: opts.timeoutMs ?? 10_000,
        // A body always goes with its length: Node sends GET/DELETE bodies unframed otherwise.
        headers: { ...(opts.host === undefined ? {} : { host: opts.host }), ...(opts.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(opts.body)) }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path} within ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('embedded registry hardening', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => void unhandled.push(err);
  beforeAll(() => void process.on('unhandledRejection', onUnhandled));
  afterAll(() => void process.off('unhandledRejection', onUnhandled));
  afterEach(() => expect(unhandled).toEqual([]));

  it('refuses requests whose Host is not loopback, the listen address or configured (DNS rebinding): 403, nothing written', async () => {
    const reg = await startEmbeddedRegistry({ dataDir: tmp(), httpPort: 0, allowedHosts: ['registry.internal'] });
    cleanups.push(() => reg.close());
    await put(reg.httpAddr, '/v1/agent/service/register', { Name: 'victim', ID: 'victim-1', Port: 1 });
    const port = reg.port;
    for (const host of [`evil.example:${port}`, 'evil.example', `rebind.127.0.0.1.nip.io:${port}`, `10.1.2.3:${port}`]) {
      const kv = await raw(reg.httpAddr, 'PUT', '/v1/kv/pwned', { host, body: 'x' });
      expect([kv.status, kv.text]).toEqual([403, expect.stringContaining('is not allowed')]);
      expect((await raw(reg.httpAddr, 'PUT', '/v1/agent/service/deregister/victim-1', { host })).status).toBe(403);
      expect((await raw(reg.httpAddr, 'GET', '/v1/agent/services', { host })).status).toBe(403);
    }
    expect((await fetch(`${reg.httpAddr}/v1/kv/pwned`)).status).toBe(404);
    expect(Object.keys((await (await fetch(`${reg.httpAddr}/v1/agent/services`)).json()) as object)).toEqual(['victim-1']);
    for (const host of [`localhost:${port}`, 'LOCALHOST', `127.0.0.1:${port}`, `127.0.0.2:${port}`, `[::1]:${port}`, `app.localhost:${port}`, `registry.internal:${port}`]) {
      expect((await raw(reg.httpAddr, 'GET', '/v1/agent/services', { host })).status, host).toBe(200);
    }
  });

  it('stops reading a body past its limit and answers 413 with a clear message', async () => {
    const reg = await start(tmp());
    const huge = JSON.stringify({ Name: 'big', Meta: { blob: 'x'.repeat(2 * 1024 * 1024) } });
    const r = await raw(reg.httpAddr, 'PUT', '/v1/agent/service/register', { body: huge });
    expect(r.status).toBe(413);
    expect(r.text).toMatch(/^Request body too large: \d+ bytes, the embedded registry accepts at most 1048576 bytes here$/);
    // Far past the limit the connection is answered (or closed), never buffered, and the registry carries on.
    const flood = await raw(reg.httpAddr, 'PUT', '/v1/kv/flood', { body: Buffer.alloc(20 * 1024 * 1024, 1) }).catch((err: Error) => ({ status: 0, text: err.message }));
    expect([0, 413]).toContain(flood.status);
    expect((await fetch(`${reg.httpAddr}/v1/kv/flood`)).status).toBe(404);
    expect((await fetch(`${reg.httpAddr}/v1/agent/services`)).status).toBe(200);
  });

  it('answers a malformed percent-escape in the path with 400 (and keeps answering)', async () => {
    const reg = await start(tmp());
    for (const path of ['/v1/kv/%', '/v1/kv/a%zz', '/v1/health/service/%E0%A4%A', '/v1/agent/service/deregister/%']) {
      const r = await raw(reg.httpAddr, path.includes('deregister') ? 'PUT' : 'GET', path);
      expect([r.status, r.text], path).toEqual([400, expect.stringContaining('invalid URL escape')]);
    }
    expect((await fetch(`${reg.httpAddr}/v1/catalog/services`)).status).toBe(200);
  });

  it('refuses a TCP check without a port at registration, and a stored one never freezes the prober', async () => {
    const dir = tmp();
    const reg = await start(dir);
    for (const tcp of ['localhost', '127.0.0.1:', '127.0.0.1:99999', '::1:80']) {
      const r = await raw(reg.httpAddr, 'PUT', '/v1/agent/service/register', { body: JSON.stringify({ Name: 'tcpbad', Check: { TCP: tcp, Interval: '1s' } }) });
      expect([r.status, r.text], tcp).toEqual([400, expect.stringMatching(/^Invalid check: TCP must be "host:port": address .+: (missing port in address|invalid port|too many colons in address)$/)]);
    }
    expect(await checks(reg.httpAddr, 'tcpbad')).toEqual([]);
    // A check stored before this validation existed: the prober reports it critical, every interval, without throwing.
    await put(reg.httpAddr, '/v1/agent/service/register', { Name: 'legacy', ID: 'legacy-1', Check: { CheckID: 'legacy-tcp', TCP: '127.0.0.1:1', Interval: '1s' } });
    await reg.close();
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(join(dir, 'registry.db'));
    const row = db.prepare(`SELECT json FROM checks WHERE id = 'legacy-tcp'`).get() as { json: string };
    const rec = JSON.parse(row.json);
    rec.definition.tcp = 'localhost';
    db.prepare(`UPDATE checks SET json = ? WHERE id = 'legacy-tcp'`).run(JSON.stringify(rec));
    db.close();
    const again = await start(dir);
    await vi.waitFor(async () => expect((await checks(again.httpAddr, 'legacy'))[0]).toMatchObject({ Status: 'critical', Output: 'dial tcp: address localhost: missing port in address' }), WAIT);
  });

  it('clamps check intervals to 1 s as Consul does, and caps check output at 4 KB', async () => {
    let probes = 0;
    const web: Server = createServer((_q, res) => {
      probes++;
      res.writeHead(200);
      res.end('y'.repeat(100_000));
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => web.close(() => r())));
    const reg = await start(tmp());
    const url = `http://127.0.0.1:${(web.address() as { port: number }).port}/`;
    await put(reg.httpAddr, '/v1/agent/service/register', { Name: 'fast', ID: 'fast-1', Checks: [{ CheckID: 'fast-http', HTTP: url, Interval: '1ms' }, { CheckID: 'fast-ttl', TTL: '1m' }] });
    await vi.waitFor(async () => expect((await checks(reg.httpAddr, 'fast')).find((c) => c.CheckID === 'fast-http')?.Status).toBe('passing'), WAIT);
    const seen = probes;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(probes - seen).toBeLessThanOrEqual(4); // 1 ms would have been ~2,500
    const http = (await checks(reg.httpAddr, 'fast')).find((c) => c.CheckID === 'fast-http')!;
    expect(Buffer.byteLength(http.Output)).toBeLessThanOrEqual(4096 + 100);
    await put(reg.httpAddr, '/v1/agent/check/update/fast-ttl', { Status: 'passing', Output: 'z'.repeat(10_000) });
    const ttl = (await checks(reg.httpAddr, 'fast')).find((c) => c.CheckID === 'fast-ttl')!;
    expect(ttl.Output).toBe(`${'z'.repeat(4096)} ... (captured 4096 of 10000 bytes)`);
  });

  it('answers every request, never with a 5xx Consul would not send (property: random methods, paths, queries, bodies)', async () => {
    const reg = await start(tmp());
    await put(reg.httpAddr, '/v1/agent/service/register', { Name: 'web', ID: 'web-1', Tags: ['a'], Check: { CheckID: 'web-1-ttl', TTL: '5m' } });
    await put(reg.httpAddr, '/v1/kv/app/x', 'v');
    // The 5xx answers Consul 1.8.7 gives itself (registry-semantics.md A1/A5/A6).
    const consul5xx = [
      /^No path to datacenter$/, /^CheckID ".*" does not have associated TTL$/s, /^strconv\.ParseUint: parsing .*: (invalid syntax|value out of range)$/s, /^Scripts are disabled on this agent/,
      /^Failed to create boolean expression evaluator: /s, /^failed session lookup: index error: UUID must be 36 characters$/, /^invalid session ".*"$/s,
      /^Invalid Session TTL/, /^Session TTL '.*' invalid/s, /^Invalid Behavior setting/s, /^Missing node registration$/, /^Missing check '.*' registration$/s, /^Check '.*' is in critical state$/s,
    ];
    const segment = fc.oneof(
      fc.constantFrom('v1', 'agent', 'service', 'register', 'deregister', 'check', 'pass', 'warn', 'fail', 'update', 'catalog', 'services', 'health', 'state', 'any', 'critical', 'kv', 'web', 'web-1', 'web-1-ttl', 'internal', 'ui', 'status', 'leader', 'txn', '%', '%zz', '%E0%A4', '..', ''),
      fc.stringMatching(/^[A-Za-z0-9._~%:@!$&'()*+,;=-]{0,12}$/),
    );
    const path = fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => `/${s.join('/')}`);
    const param = fc.tuple(
      fc.constantFrom('index', 'wait', 'dc', 'tag', 'passing', 'filter', 'cas', 'flags', 'recurse', 'keys', 'separator', 'raw', 'note', 'stale', 'x', '%'),
      fc.oneof(fc.constantFrom('', '0', '1', '-1', '99999999999999999999', '1ms', '2', 'abc', 'dc1', 'nowhere', 'Status%20!%3D%20%22passing%22', 'Service.Meta.x%20%3D%3D%201', '%zz'), fc.stringMatching(/^[A-Za-z0-9%=._-]{0,10}$/)),
    );
    const query = fc.array(param, { maxLength: 4 }).map((ps) => (ps.length ? `?${ps.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
    const body = fc.oneof(
      fc.constant(undefined),
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc.record({ Name: fc.string({ maxLength: 8 }), ID: fc.string({ maxLength: 8 }), Port: fc.oneof(fc.integer(), fc.string()), Check: fc.anything({ maxDepth: 2 }) }).map((o) => JSON.stringify(o)),
    );
    const method = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH');
    await fc.assert(
      fc.asyncProperty(method, path, query, body, async (m, p, q, b) => {
        // Blocking reads are bounded by a short wait so a lucky `index` cannot hold the run.
        const qs = q.includes('wait=') ? q : `${q}${q ? '&' : '?'}wait=50ms`;
        const r = await raw(reg.httpAddr, m, `${p}${qs}`, { body: m === 'GET' || m === 'HEAD' ? undefined : b, timeoutMs: 5_000 });
        expect(r.status).toBeGreaterThanOrEqual(200);
        if (r.status >= 500) expect(consul5xx.some((re) => re.test(r.text)), `${m} ${p}${qs} → ${r.status} ${r.text}`).toBe(true);
      }),
      { numRuns: 400 },
    );
    expect((await fetch(`${reg.httpAddr}/v1/health/service/web`)).status).toBe(200);
  }, 120_000);
});

describe('embedded registry at scale (index rules and O(changed) answers)', () => {
  it('wakes /health/state/critical, /catalog/services, /internal/ui/services and one service by their own index rules, with the filter forms', async () => {
    const reg = await start(tmp());
    for (let i = 0; i < 50; i++) {
      await put(reg.httpAddr, '/v1/agent/service/register', { Name: `s${i % 10}`, ID: `s-${i}`, Tags: [`t${i % 3}`], Check: { CheckID: `s-${i}-ttl`, TTL: '5m', Status: 'passing' } });
    }
    const get = async (path: string) => {
      const r = await fetch(`${reg.httpAddr}${path}`);
      return { status: r.status, index: Number(r.headers.get('x-consul-index')), body: (await r.text()) };
    };
    const crit = await get('/v1/health/state/critical');
    expect(JSON.parse(crit.body)).toEqual([]);
    const svc = await get('/v1/catalog/services');
    const ui = await get('/v1/internal/ui/services');
    const s3 = await get('/v1/health/service/s3');
    expect(JSON.parse(ui.body).find((e: { Name: string }) => e.Name === 's3')).toMatchObject({ InstanceCount: 5, ChecksPassing: 10, ChecksCritical: 0, Tags: ['t0', 't1', 't2'] });

    const critWake = get(`/v1/health/state/critical?index=${crit.index}&wait=10s`);
    const filtered = get(`/v1/health/state/any?filter=${encodeURIComponent('Status != "passing"')}&index=${crit.index}&wait=10s`);
    const uiWake = get(`/v1/internal/ui/services?index=${ui.index}&wait=10s`);
    const s3Wake = get(`/v1/health/service/s3?index=${s3.index}&wait=10s`);
    const svcQuiet = get(`/v1/catalog/services?index=${svc.index}&wait=1s`);
    await put(reg.httpAddr, '/v1/agent/check/fail/s-13-ttl?note=down');
    for (const w of [await critWake, await filtered]) {
      expect(w.index).toBeGreaterThan(crit.index);
      expect(JSON.parse(w.body).map((c: { CheckID: string }) => c.CheckID)).toEqual(['s-13-ttl']);
    }
    expect(JSON.parse((await uiWake).body).find((e: { Name: string }) => e.Name === 's3')).toMatchObject({ ChecksPassing: 9, ChecksCritical: 1 });
    expect(JSON.parse((await s3Wake).body).find((e: { Service: { ID: string } }) => e.Service.ID === 's-13').Checks[1]).toMatchObject({ Status: 'critical', Output: 'down' });
    expect((await svcQuiet).index).toBe(svc.index); // check status never moves /catalog/services

    expect(JSON.parse((await get(`/v1/health/state/any?filter=${encodeURIComponent('Status == "critical" or Status == "warning"')}`)).body)).toHaveLength(1);
    expect(JSON.parse((await get(`/v1/health/state/passing?filter=${encodeURIComponent('Status != "passing"')}`)).body)).toEqual([]);
    // Any other selector is evaluated per check (the full grammar; see registryFilter.fuzz.test.ts).
    const byName = JSON.parse((await get(`/v1/health/state/any?filter=${encodeURIComponent('ServiceName == "s3"')}`)).body) as { ServiceName: string }[];
    expect(byName.length).toBeGreaterThan(0);
    expect(byName.every((c) => c.ServiceName === 's3')).toBe(true);
    // Where Consul 1.8 does not filter, the parameter is refused rather than ignored.
    const elsewhere = await get(`/v1/catalog/services?filter=${encodeURIComponent('ServiceName == "s3"')}`);
    expect([elsewhere.status, elsewhere.body]).toEqual([400, expect.stringContaining('Unsupported query parameter "filter" on GET /v1/catalog/services')]);

    // Deregistering the last instance of a name wakes that name and the catalog.
    const s9 = await get('/v1/health/service/s9');
    const catWake = get(`/v1/catalog/services?index=${svc.index}&wait=10s`);
    const s9Wake = get(`/v1/health/service/s9?index=${s9.index}&wait=10s`);
    for (const id of [9, 19, 29, 39, 49]) await put(reg.httpAddr, `/v1/agent/service/deregister/s-${id}`);
    expect((await catWake).index).toBeGreaterThan(svc.index);
    expect(JSON.parse((await get('/v1/catalog/services')).body)).not.toHaveProperty('s9');
    await vi.waitFor(async () => expect(JSON.parse((await get('/v1/health/service/s9')).body)).toEqual([]), WAIT);
    expect((await s9Wake).index).toBeGreaterThan(s9.index);
    expect(reg.state.waiterCount).toBe(0);
  });
});
