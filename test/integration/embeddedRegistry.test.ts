/**
 * The embedded registry beyond the shared contract: durability across a clean restart and a
 * real `kill -9`, HTTP and TCP checks against real servers, and Switchboard's own Consul
 * adapter syncing from it.
 */
import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawnRegistryProcess } from '../support/registryProcessHandle';
import { startEmbeddedRegistry, type EmbeddedRegistry } from '../../server/registry/embeddedRegistry';
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
