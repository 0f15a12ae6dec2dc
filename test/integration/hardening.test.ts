/**
 * Regression tests for the hardening findings, each against a running control plane over
 * HTTP: malformed cookies and request targets, cross-site telemetry, bounded telemetry series,
 * gateway metric labels and client count, sign-in throttling, bounded and reaped sessions whose
 * WebSockets close with them, same-origin redirects and the Secure cookie flag.
 */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { sameOriginPath } from '../../protocol/api';
import { fromRaw } from '../../server/config/loadConfig';
import { createLogger } from '../../server/log';
import { createSwitchboard, type Switchboard } from '../../server/switchboard';
import { LocalServers } from '../support/localServers';

let sb: Switchboard;
let base: string;
let registry: string;
const servers = new LocalServers();
const json = { 'content-type': 'application/json' };
const clientAuth = { authorization: 'Bearer client-token' };

async function start(raw: Record<string, unknown>): Promise<{ sb: Switchboard; base: string }> {
  const config = fromRaw(
    { dataDir: mkdtempSync(join(tmpdir(), 'sb-hardening-')), ...raw, listen: { host: '127.0.0.1', port: 0, ...(raw.listen as object) } },
    { file: null, env: {}, cwd: process.cwd() },
  );
  const s = createSwitchboard({ config, logger: createLogger({ level: 'silent' }) });
  return { sb: s, base: `http://127.0.0.1:${await s.listen()}` };
}

/** Sends raw bytes and returns the status line of the answer (or '' if the server closed without one). */
function raw(text: string): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    let got = '';
    socket.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) {
        socket.destroy();
        resolve(got.split('\r\n')[0]!);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
  });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

const signIn = (body: unknown, headers: Record<string, string> = {}) => fetch(`${base}/api/session`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });

beforeAll(async () => {
  ({ sb, base } = await start({
    listen: { trustProxy: true },
    embedded: { enabled: true, httpPort: 0, dnsPort: 0 },
    auth: {
      anonymousRole: 'viewer',
      users: [
        { name: 'pat', role: 'operator', password: 'correct horse battery' },
        { name: 'olive', role: 'operator', password: 'staple battery horse' },
        { name: 'checkout', role: 'client', token: 'client-token' },
      ],
    },
    limits: { sessions: 3, telemetrySeries: 20, gatewayClients: 2 },
  }));
  registry = sb.store.source('embedded')!.address!;
  for (const name of ['alpha', 'beta', 'gamma']) {
    const { port } = await servers.start((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(name));
    await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: name, ID: `${name}-1`, Address: '127.0.0.1', Port: port }) });
  }
  await vi.waitFor(() => expect(sb.store.service('embedded/dc1/gamma')?.instances).toHaveLength(1), { timeout: 15_000 });
});

afterAll(async () => {
  await sb?.close();
  servers.closeAll();
});

describe('finding 1: malformed input is a 4xx, never a 500', () => {
  it('reads a cookie with broken percent-encoding as no session', async () => {
    for (const cookie of ['sb_session=%', 'sb_session=%E0%A4%A', 'a=%; sb_session=%zz']) {
      const r = await fetch(`${base}/api/topology?view=summary`, { headers: { cookie } });
      expect(r.status).toBe(200);
      expect((await fetch(`${base}/api/session`, { headers: { cookie } })).status).toBe(200);
    }
    // Where a session is needed, it is simply absent.
    const change = await fetch(`${base}/api/services/embedded/dc1/alpha/traffic/flip`, { method: 'POST', headers: { cookie: 'sb_session=%' } });
    expect(change.status).toBe(403);
  });

  it('answers a request target that does not parse with 400, once', async () => {
    for (const target of ['//[', '//%', '/api/x\\y', 'http://[::1', '/gw/%E0%A4%A/x']) {
      expect(await raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 4\d\d /);
    }
    expect(await raw('GET /api/services/%/x/y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toBe('HTTP/1.1 400 Bad Request');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('the service graph endpoints: bad queries are a 400 naming the field', () => {
  it('window, caller and callee are checked; nothing else is built for them', async () => {
    const cases: [string, string][] = [
      ['/api/graph?window=1h', 'window: expected one of 1m, 5m, 15m, got "1h"'],
      ['/api/graph/observed?window=%00', 'window: expected one of 1m, 5m, 15m, got "\u0000"'],
      ['/api/graph/edge?callee=embedded/dc1/alpha', 'caller: required'],
      [`/api/graph/edge?caller=${'x'.repeat(5000)}&callee=y`, 'caller: longer than 1024 characters'],
    ];
    for (const [path, error] of cases) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(400);
      expect(((await r.json()) as { error: string }).error, path).toBe(error);
    }
    // The landing page's question: no calls reported to this control plane, so not observed.
    expect(await (await fetch(`${base}/api/graph/observed?window=15m`)).json()).toEqual({ window: '15m', observed: false });
    // Anyone without topology:read (an SDK client token) is refused.
    expect((await fetch(`${base}/api/graph/observed`, { headers: clientAuth })).status).toBe(403);
  });
});

describe('finding 3: telemetry cannot be sent cross-site or grow without bound', () => {
  it('refuses anonymous and cookie callers, whatever the content-type', async () => {
    const report = { clientId: 'x', caller: 'evil', service: 'alpha', instances: [{ id: 'alpha-1', breaker: 'open', requests: 1, errors: 1, latency: [] }] };
    const simple = await fetch(`${base}/api/telemetry`, { method: 'POST', headers: { 'content-type': 'text/plain;application/json', origin: 'http://evil.example' }, body: JSON.stringify(report) });
    expect(simple.status).toBe(401);
    // The anonymous viewer does not outrank the client role: it has no telemetry:write at all.
    const anonymous = await fetch(`${base}/api/telemetry`, { method: 'POST', headers: json, body: JSON.stringify(report) });
    expect(anonymous.status).toBe(401);
    // A client token with a non-JSON media type is refused before the body is read.
    const wrongType = await fetch(`${base}/api/telemetry`, { method: 'POST', headers: { ...clientAuth, 'content-type': 'text/plain;application/json' }, body: JSON.stringify(report) });
    expect(wrongType.status).toBe(415);
    expect(sb.store.service('embedded/dc1/alpha')?.instances[0]?.breaker).toBeUndefined();
  });

  it('holds at most limits.telemetrySeries series, and says so on /metrics', async () => {
    for (let i = 0; i < 30; i++) {
      const report = { clientId: `c-${i}`, caller: 'load', service: `svc-${i}`, instances: [{ id: `i-${i}`, breaker: 'closed', requests: 1, errors: 0, latency: [] }] };
      const r = await fetch(`${base}/api/telemetry`, { method: 'POST', headers: { ...clientAuth, ...json }, body: JSON.stringify(report) });
      expect(r.status).toBe(204);
    }
    expect(await metric('switchboard_telemetry_series')).toBeLessThanOrEqual(20);
    expect(await metric('switchboard_telemetry_clients')).toBeLessThanOrEqual(20);
    expect(await metric('switchboard_telemetry_dropped_total')).toBeGreaterThan(0);
  });
});

describe('finding 6: the gateway mints no metric labels and holds few registry watches', () => {
  it('authenticates before counting, and counts unknown services under one label', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `made-up-${i}`);
    for (const n of names) expect((await fetch(`${base}/gw/${n}/`)).status).toBe(401);
    expect((await fetch(`${base}/gw/made-up-x/`, { headers: clientAuth })).status).toBe(404);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).not.toContain('made-up');
    expect(text).toMatch(/switchboard_gateway_requests_total\{service="-",outcome="unknown_service"\} 1/);
  });

  it('keeps at most limits.gatewayClients service clients, evicting the least recently used', async () => {
    for (const name of ['alpha', 'beta', 'gamma', 'alpha']) {
      const r = await fetch(`${base}/gw/${name}/`, { headers: clientAuth });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(name);
      expect(await metric('switchboard_gateway_clients')).toBeLessThanOrEqual(2);
    }
    expect(await metric('switchboard_metric_label_sets')).toBeLessThanOrEqual(10);
  });
});

describe('finding 7: sign-in is throttled; sessions are bounded, reaped, and take their sockets along', () => {
  it('answers 429 with Retry-After per user after repeated failures, from any address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await signIn({ name: 'pat', password: 'nope' }, { 'x-forwarded-for': `10.0.0.${i}` })).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    const limited = await signIn({ name: 'pat', password: 'nope' }, { 'x-forwarded-for': '10.0.1.1' });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: string }).error).toContain('"pat"');
  });

  it('answers 429 per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await signIn({ token: `wrong-${i}` }, { 'x-forwarded-for': '10.9.9.9' })).status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.at(-1)).toBe(429);
  });

  it('holds at most limits.sessions sessions and closes the WebSockets of a session that ends', async () => {
    const cookies: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await signIn({ token: 'client-token' }, { 'x-forwarded-for': `10.1.0.${i}` });
      expect(r.status).toBe(200);
      cookies.push(r.headers.get('set-cookie')!.split(';')[0]!);
    }
    expect(await metric('switchboard_sessions')).toBe(3);
    // The oldest was signed out to make room.
    const me = async (cookie: string) => ((await (await fetch(`${base}/api/session`, { headers: { cookie } })).json()) as { user: unknown }).user;
    expect(await me(cookies[0]!)).toBeNull();
    expect(await me(cookies[3]!)).toMatchObject({ name: 'checkout' });

    // A client session cannot open the topology socket (client lacks topology:read) …
    const host = new URL(base).host;
    const refused = new WebSocket(`${base.replace('http', 'ws')}/api/ws`, { headers: { cookie: cookies[3]!, origin: base, host } });
    const status = await new Promise<number>((resolve) => refused.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(403);
  });

  it('closes a signed-in operator’s WebSocket on sign-out', async () => {
    const r = await signIn({ name: 'olive', password: 'staple battery horse' }, { 'x-forwarded-for': '10.2.0.1' });
    expect(r.status).toBe(200);
    const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/ws`, { headers: { cookie, origin: base } });
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    ws.send(JSON.stringify({ type: 'subscribe' }));
    const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
    const out = await fetch(`${base}/api/session`, { method: 'DELETE', headers: { cookie, origin: base } });
    expect(out.status).toBe(200);
    await closed;
  });
});

describe('finding 9: redirects stay on our origin; cookies are Secure behind TLS', () => {
  it('sends sign-in redirects only to same-origin paths', () => {
    const origin = 'http://127.0.0.1:3000';
    for (const next of ['/\\evil.example', decodeURIComponent('/%5Cevil.example'), '//evil.example', 'https://evil.example/', '/\t/evil.example', 'javascript:alert(1)', '', null]) {
      expect(sameOriginPath(next, origin)).toBe('/');
    }
    expect(sameOriginPath('/services/embedded/dc1/pay%20ment?tab=traffic', origin)).toBe('/services/embedded/dc1/pay%20ment?tab=traffic');
  });

  it('marks the session cookie Secure when a trusted proxy says https, not otherwise', async () => {
    const viaTls = await signIn({ token: 'client-token' }, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '10.3.0.1' });
    expect(viaTls.headers.get('set-cookie')).toMatch(/; Secure$/);
    const plain = await signIn({ token: 'client-token' }, { 'x-forwarded-for': '10.3.0.2' });
    expect(plain.headers.get('set-cookie')).not.toContain('Secure');

    const untrusting = await start({ auth: { anonymousRole: null, users: [{ name: 'c', role: 'client', token: 'c-token' }] } });
    try {
      const r = await fetch(`${untrusting.base}/api/session`, { method: 'POST', headers: { ...json, 'x-forwarded-proto': 'https' }, body: JSON.stringify({ token: 'c-token' }) });
      expect(r.status).toBe(200);
      expect(r.headers.get('set-cookie')).not.toContain('Secure');
    } finally {
      await untrusting.sb.close();
    }
  });
});
