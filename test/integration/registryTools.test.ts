/**
 * Third-party tools unchanged against the embedded registry: HashiCorp's own `consul` CLI
 * (1.8.7, with CONSUL_HTTP_ADDR) for kv, catalog, members, info, watch and lock; and sessions +
 * KV locks that survive `kill -9` like KV does.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startEmbeddedRegistry, type EmbeddedRegistry } from '../../registry/embeddedRegistry';
import { consulBinary } from '../support/consulAgent';
import { spawnRegistryProcess } from '../support/registryProcessHandle';

const run = promisify(execFile);
const WAIT = { timeout: 15_000, interval: 100 };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const tmp = () => mkdtempSync(join(tmpdir(), 'sb-tools-'));

async function start(): Promise<EmbeddedRegistry> {
  const r = await startEmbeddedRegistry({ dataDir: tmp(), httpPort: 0, nodeName: 'embedded-node' });
  cleanups.push(() => r.close().catch(() => undefined));
  return r;
}

async function put(addr: string, path: string, body?: unknown): Promise<string> {
  const r = await fetch(`${addr}${path}`, { method: 'PUT', body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  expect(r.status, text).toBe(200);
  return text;
}

function consul(reg: { httpAddr: string }, ...args: string[]) {
  return run(consulBinary(), args, { env: { ...process.env, CONSUL_HTTP_ADDR: reg.httpAddr.replace(/^http:\/\//, '') }, timeout: 30_000 });
}

function spawnConsul(reg: { httpAddr: string }, args: string[]): ChildProcess {
  const child = spawn(consulBinary(), args, { env: { ...process.env, CONSUL_HTTP_ADDR: reg.httpAddr.replace(/^http:\/\//, '') }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.on('exit', (code) => {
    if (code && code !== 0 && code !== 130 && code !== 1) process.stderr.write(`consul ${args.join(' ')}: ${err}\n`);
  });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return child;
}

describe('HashiCorp consul CLI 1.8.7 against the embedded registry', () => {
  it('kv, catalog, members, info', async () => {
    const reg = await start();
    await consul(reg, 'kv', 'put', 'tools/a', 'hello');
    expect((await consul(reg, 'kv', 'get', 'tools/a')).stdout.trim()).toBe('hello');
    expect((await consul(reg, 'kv', 'get', '-recurse', 'tools/')).stdout.trim()).toBe('tools/a:hello');
    await put(reg.httpAddr, '/v1/agent/service/register', { Name: 'cli-web', ID: 'cli-web-1', Port: 80, Tags: ['blue'] });
    expect((await consul(reg, 'catalog', 'services', '-tags')).stdout).toMatch(/cli-web\s+blue/);
    expect((await consul(reg, 'catalog', 'nodes')).stdout).toMatch(/embedded-node\s+[0-9a-f]{8}\s+127\.0\.0\.1\s+dc1/);
    expect((await consul(reg, 'catalog', 'services', '-node', 'embedded-node')).stdout).toContain('cli-web');
    expect((await consul(reg, 'members')).stdout).toMatch(/embedded-node\s+127\.0\.0\.1:\d+\s+alive\s+server\s+1\.8\.7/);
    const info = (await consul(reg, 'info')).stdout;
    expect(info).toMatch(/consul:\n(.|\n)*leader = true/);
    expect(info).toContain('services = 1');
    await consul(reg, 'kv', 'delete', 'tools/a');
    await expect(consul(reg, 'kv', 'get', 'tools/a')).rejects.toThrow();
  });

  it('watch of types key, keyprefix, services, service and checks run their handler on changes', async () => {
    const reg = await start();
    const dir = tmp();
    const types: [string, string[], () => Promise<unknown>][] = [
      ['key', ['-type=key', '-key=w/one'], () => put(reg.httpAddr, '/v1/kv/w/one', 'changed')],
      ['keyprefix', ['-type=keyprefix', '-prefix=w/'], () => put(reg.httpAddr, '/v1/kv/w/two', 'x')],
      ['services', ['-type=services'], () => put(reg.httpAddr, '/v1/agent/service/register', { Name: 'watched-new', Port: 1 })],
      ['service', ['-type=service', '-service=watched'], () => put(reg.httpAddr, '/v1/agent/check/pass/watched-ttl')],
      ['checks', ['-type=checks'], () => put(reg.httpAddr, '/v1/agent/check/warn/watched-ttl')],
    ];
    await put(reg.httpAddr, '/v1/kv/w/one', 'first');
    await put(reg.httpAddr, '/v1/agent/service/register', { Name: 'watched', ID: 'watched-1', Port: 1, Check: { CheckID: 'watched-ttl', TTL: '5m' } });
    for (const [name, args] of types) {
      const out = join(dir, name);
      // The handler appends one line per invocation (the first is the initial state).
      spawnConsul(reg, ['watch', ...args, `sh -c 'cat > /dev/null; echo run >> ${out}'`]);
    }
    const runs = (name: string) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean).length : 0);
    for (const [name] of types) await vi.waitFor(() => expect(runs(name), name).toBeGreaterThanOrEqual(1), WAIT);
    for (const [name, , change] of types) {
      const before = runs(name);
      await change();
      await vi.waitFor(() => expect(runs(name), name).toBeGreaterThan(before), WAIT);
    }
  });

  it('lock runs a command under a lock while a second `consul lock` waits, then takes over', async () => {
    const reg = await start();
    const dir = tmp();
    const gate = join(dir, 'gate');
    const log = join(dir, 'log');
    writeFileSync(log, '');
    // The first holder runs until `gate` appears; the second must not start before that.
    const holder = (name: string) => `sh -c 'echo ${name}-start >> ${log}; while [ ! -e ${gate} ]; do sleep 0.1; done; echo ${name}-end >> ${log}'`;
    const first = spawnConsul(reg, ['lock', 'tools/lock', holder('first')]);
    await vi.waitFor(() => expect(readFileSync(log, 'utf8')).toContain('first-start'), WAIT);
    const second = spawnConsul(reg, ['lock', 'tools/lock', `sh -c 'echo second-start >> ${log}'`]);
    // The second waits: a session of its own, no lock.
    await vi.waitFor(async () => expect(((await (await fetch(`${reg.httpAddr}/v1/session/list`)).json()) as unknown[]).length).toBe(2), WAIT);
    await new Promise((r) => setTimeout(r, 1500));
    expect(readFileSync(log, 'utf8')).not.toContain('second-start');
    const held = (await (await fetch(`${reg.httpAddr}/v1/kv/tools/lock/.lock`)).json()) as { Session?: string; Flags: number }[];
    expect(held[0]!.Session).toBeTruthy();
    writeFileSync(gate, '');
    await new Promise((r) => first.once('exit', r));
    await new Promise((r) => second.once('exit', r));
    expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toEqual(['first-start', 'first-end', 'second-start']);
    expect(first.exitCode).toBe(0);
    expect(second.exitCode).toBe(0);
  });
});

describe('what the embedded registry does not implement is refused, never ignored', () => {
  it('answers 400 naming an unknown query parameter and 404 naming an unknown endpoint', async () => {
    const reg = await start();
    const get = async (path: string, method = 'GET') => {
      const r = await fetch(`${reg.httpAddr}${path}`, { method });
      return { status: r.status, text: await r.text() };
    };
    expect(await get('/v1/health/service/web?cached')).toMatchObject({ status: 400, text: expect.stringContaining('Unsupported query parameter "cached" on GET /v1/health/service/web') });
    expect(await get('/v1/kv/x?foo=bar')).toMatchObject({ status: 400, text: expect.stringContaining('Unsupported query parameter "foo"') });
    expect(await get('/v1/kv/x?index=1', 'PUT')).toMatchObject({ status: 400, text: expect.stringContaining('"index" on PUT /v1/kv/x') });
    expect(await get('/v1/catalog/services?filter=ServiceName%20%3D%3D%20x')).toMatchObject({ status: 400, text: expect.stringContaining('Unsupported query parameter "filter" on GET /v1/catalog/services') });
    expect(await get('/v1/catalog/services?node-meta=a:b')).toMatchObject({ status: 400, text: expect.stringContaining('"node-meta"') });
    expect(await get('/v1/agent/members?segment=x')).toMatchObject({ status: 400, text: expect.stringContaining('segment "x"') });
    expect(await get('/v1/acl/tokens')).toMatchObject({ status: 404, text: 'Unknown endpoint: GET /v1/acl/tokens is not implemented by the embedded registry (see registry/README.md for what it implements)' });
    expect(await get('/v1/agent/connect/ca/roots')).toMatchObject({ status: 404, text: expect.stringContaining('/v1/agent/connect/ca/roots') });
    // What every endpoint takes: dc, token, stale, consistent, pretty.
    expect((await get('/v1/health/service/web?dc=dc1&stale&consistent&token=x&pretty&near=_agent&passing=1')).status).toBe(200);
    // A missing key is still Consul's empty 404 (clients block on it).
    expect(await get('/v1/kv/missing')).toEqual({ status: 404, text: '' });
  });
});

describe('sessions are durable like KV', () => {
  it('keeps sessions and held locks across kill -9; the lock is still refused to another session', async () => {
    const dir = tmp();
    const a = await spawnRegistryProcess(dir);
    cleanups.push(() => void a.child.kill('SIGKILL'));
    const sid = (JSON.parse(await put(a.httpAddr, '/v1/session/create', { Name: 'leader', TTL: '30s' })) as { ID: string }).ID;
    expect(await put(a.httpAddr, `/v1/kv/switchboard/leader?acquire=${sid}`, 'me')).toBe('true');
    const exited = new Promise((r) => a.child.once('exit', r));
    a.child.kill('SIGKILL');
    await exited;

    const b = await spawnRegistryProcess(dir);
    cleanups.push(() => void b.child.kill('SIGKILL'));
    const info = (await (await fetch(`${b.httpAddr}/v1/session/info/${sid}`)).json()) as { Name: string; TTL: string }[];
    expect(info).toMatchObject([{ Name: 'leader', TTL: '30s' }]);
    const entry = (await (await fetch(`${b.httpAddr}/v1/kv/switchboard/leader`)).json()) as { Session: string; LockIndex: number }[];
    expect(entry[0]).toMatchObject({ Session: sid, LockIndex: 1 });
    const other = (JSON.parse(await put(b.httpAddr, '/v1/session/create', {})) as { ID: string }).ID;
    expect(await put(b.httpAddr, `/v1/kv/switchboard/leader?acquire=${other}`, 'them')).toBe('false');
    // The holder can still renew and release.
    await put(b.httpAddr, `/v1/session/renew/${sid}`);
    expect(await put(b.httpAddr, `/v1/kv/switchboard/leader?release=${sid}`, '')).toBe('true');
    expect(await put(b.httpAddr, `/v1/kv/switchboard/leader?acquire=${other}`, 'them')).toBe('true');
  });
});
