/**
 * The control plane's HTTP surface against a real Consul agent: REST shapes, auth, probes,
 * metrics and the WebSocket, through createSwitchboard (everything but Next).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { ServerMessage } from '../../protocol/realtime';
import { fromRaw } from '../../server/config/loadConfig';
import { createLogger } from '../../server/log';
import { createSwitchboard, type Switchboard } from '../../server/switchboard';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';

let agent: ConsulAgent;
let sb: Switchboard;
let base: string;

beforeAll(async () => {
  agent = await startConsulAgent({ datacenter: 'dc1' });
  const config = fromRaw(
    {
      listen: { host: '127.0.0.1', port: 0 },
      sources: [
        { kind: 'consul', name: 'local', address: agent.httpAddr, token: 'env:CONSUL_SECRET' },
        // Nothing listens here: the source must show down without stopping the others.
        { kind: 'consul', name: 'gone', address: 'http://127.0.0.1:9' },
      ],
      auth: { anonymousRole: null, users: [{ name: 'vic', role: 'viewer', token: 'viewer-token' }, { name: 'sdk', role: 'client', token: 'client-token' }] },
    },
    { file: null, env: { CONSUL_SECRET: 'consul-acl-secret' }, cwd: process.cwd() },
  );
  sb = createSwitchboard({ config, logger: createLogger({ level: 'silent' }) });
  base = `http://127.0.0.1:${await sb.listen()}`;
  await put('/v1/agent/service/register', {
    ID: 'web-1', Name: 'web', Port: 8080, Tags: ['blue'], Meta: { version: '1.4.2' },
    Check: { CheckID: 'web-1-ttl', Name: 'heartbeat', TTL: '10m', Status: 'passing' },
  });
});

afterAll(async () => {
  await sb?.close();
  await agent?.stop();
});

const put = (path: string, body?: unknown) => agent.put(path, body);

const viewer = { authorization: 'Bearer viewer-token' };
const get = (path: string, headers: Record<string, string> = viewer) => fetch(`${base}${path}`, { headers });

describe('control plane against real Consul', () => {
  it('serves liveness at once and readiness after every source attempted a sync', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await vi.waitFor(async () => expect((await fetch(`${base}/readyz`)).status).toBe(200), { timeout: 20_000 });
  });

  it('requires credentials when there is no anonymous role, and rejects a wrong token', async () => {
    expect((await get('/api/topology', {})).status).toBe(401);
    const bad = await get('/api/topology', { authorization: 'Bearer nope' });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ error: 'invalid token' });
  });

  it('lists sources with their states, the unreachable one down with its error, no token anywhere', async () => {
    await vi.waitFor(async () => {
      const { sources } = await (await get('/api/sources')).json();
      expect(sources.find((s: { id: string }) => s.id === 'local')).toMatchObject({ kind: 'consul', state: 'ok', scopes: ['dc1'], address: agent.httpAddr });
      expect(sources.find((s: { id: string }) => s.id === 'gone')).toMatchObject({ state: 'down', lastError: expect.stringContaining('127.0.0.1:9') });
    }, { timeout: 20_000 });
    const everything = JSON.stringify(await (await get('/api/topology')).json());
    expect(everything).not.toContain('consul-acl-secret');
  });

  it('returns one service with instances, checks and counts; 404 names the unknown service', async () => {
    await vi.waitFor(async () => expect((await get('/api/services/local/dc1/web')).status).toBe(200), { timeout: 10_000 });
    const body = await (await get('/api/services/local/dc1/web')).json();
    expect(body.counts).toEqual({ passing: 1, warning: 0, critical: 0, unknown: 0 });
    expect(body.service).toMatchObject({ id: 'local/dc1/web', name: 'web', scope: 'dc1', tags: ['blue'] });
    expect(body.service.instances[0]).toMatchObject({ port: 8080, meta: { version: '1.4.2' }, health: 'passing' });
    expect(body.service.instances[0].checks.map((c: { name: string }) => c.name)).toContain('heartbeat');
    const missing = await get('/api/services/local/dc1/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'service "local/dc1/nope" not found' });
    expect((await get('/api/nothing-here')).status).toBe(404);
    expect((await fetch(`${base}/api/topology`, { method: 'POST', headers: viewer })).status).toBe(405);
  });

  it('signs a browser in with a token cookie and refuses a bad one', async () => {
    const bad = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":"x"}' });
    expect(bad.status).toBe(401);
    const malformed = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"tok":1}' });
    expect(malformed.status).toBe(400);
    const ok = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":"viewer-token"}' });
    expect(ok.status).toBe(200);
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    expect(ok.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await get('/api/topology', { cookie })).status).toBe(200);
    expect(await (await get('/api/session', { cookie })).json()).toMatchObject({ user: { name: 'vic', role: 'viewer' }, anonymousRole: null });
  });

  it('streams the list summary to everyone and a service\'s instances to clients that open it; refuses unauthenticated upgrades', async () => {
    const upgradeStatus = (headers: Record<string, string>, path = '/api/ws') =>
      new Promise<number>((r) => {
        const ws = new WebSocket(`${base.replace('http', 'ws')}${path}`, { headers });
        ws.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0));
        ws.once('open', () => (ws.close(), r(101)));
        ws.once('error', () => r(0));
      });
    expect(await upgradeStatus({})).toBe(401);
    // A client token (SDKs) may report telemetry but not read the topology, here as over REST.
    expect(await upgradeStatus({ authorization: 'Bearer client-token' })).toBe(403);
    // Another site's page may not open the socket, whatever credential it carries.
    expect(await upgradeStatus({ ...viewer, origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus({ ...viewer, origin: base })).toBe(101);

    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/ws`, { headers: viewer });
    const frames: ServerMessage[] = [];
    ws.on('message', (d) => frames.push(ServerMessage.parse(JSON.parse(d.toString()))));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe' }));
    await vi.waitFor(() => expect(frames[0]?.type).toBe('snapshot'));
    // The list carries counts, never instance detail.
    expect(JSON.stringify(frames[0])).toContain('"counts"');
    expect(JSON.stringify(frames[0])).not.toContain('web-1-ttl');
    ws.send(JSON.stringify({ type: 'watch', serviceId: 'local/dc1/web' }));
    await vi.waitFor(() => expect(frames.find((f) => f.type === 'service')).toMatchObject({ serviceId: 'local/dc1/web', service: { name: 'web' } }));

    await put('/v1/agent/check/warn/web-1-ttl?note=slow%20disk');
    await vi.waitFor(() => {
      expect(frames.find((f) => f.type === 'service.delta' && JSON.stringify(f).includes('slow disk'))).toBeDefined();
      expect(frames.find((f) => f.type === 'delta' && JSON.stringify(f).includes('"warning":1'))).toBeDefined();
    }, { timeout: 10_000 });
    ws.close();
  });

  it('exposes Prometheus metrics for watches, staleness and clients', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/switchboard_watch_request_duration_seconds_count\{source="local"/);
    expect(text).toMatch(/switchboard_source_staleness_seconds\{source="local",kind="consul"\} \d/);
    expect(text).toMatch(/switchboard_source_state\{source="gone",state="down"\} 1/);
    expect(text).toContain('switchboard_ws_clients');
    expect(text).toMatch(/switchboard_ws_deltas_sent_total \d/);
  });
});
