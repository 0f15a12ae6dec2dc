/**
 * The control plane's gateway, `/gw/<service>/<path>`, end to end: a real control plane with
 * the embedded registry, real HTTP instances, and the traffic policy set through the REST API.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Switchboard } from '../../server/switchboard';
import { startControlPlane } from '../support/controlPlane';
import { LocalServers } from '../support/localServers';

let sb: Switchboard;
let base: string;
let registry: string;
const servers = new LocalServers();
const operator = { authorization: 'Bearer op-token', 'content-type': 'application/json' };
const client = { authorization: 'Bearer client-token' };
const subsets = { blue: { tags: ['blue'] }, green: { tags: ['green'] } };

/** An instance that echoes what it received, so the test sees what the gateway forwarded. */
async function echo(id: string): Promise<number> {
  const { port } = await servers.start(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    res.writeHead(200, { 'content-type': 'application/json', 'x-instance': id });
    res.end(JSON.stringify({ id, method: req.method, url: req.url, headers: req.headers, body }));
  });
  return port;
}

const gw = (path: string, init: RequestInit = {}) => fetch(`${base}/gw/${path}`, { ...init, headers: { ...client, ...(init.headers as object) } });
const setWeights = async (weights: Record<string, number>, force = false) => {
  const r = await fetch(`${base}/api/services/embedded/dc1/payment/traffic`, { method: 'PUT', headers: operator, body: JSON.stringify({ weights, subsets, force }) });
  expect(r.status).toBe(200);
};
/** Waits until the gateway's client routes by the new policy: it must reach `subset` once. */
const routesTo = (subset: string) =>
  vi.waitFor(async () => expect((await gw('payment/')).headers.get('x-switchboard-subset')).toBe(subset), { timeout: 10_000, interval: 50 });

beforeAll(async () => {
  ({ sb, base, registry } = await startControlPlane({ anonymousRole: 'viewer', users: [{ name: 'op', role: 'operator', token: 'op-token' }, { name: 'checkout', role: 'client', token: 'client-token' }] }));
  for (const [id, tag] of [['b1', 'blue'], ['b2', 'blue'], ['g1', 'green'], ['g2', 'green']] as const) {
    const port = await echo(id);
    await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'payment', ID: id, Address: '127.0.0.1', Port: port, Tags: [tag], Check: { CheckID: `${id}-ttl`, TTL: '10m', Status: 'passing' } }) });
  }
  await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances).toHaveLength(4), { timeout: 15_000 });
});

afterAll(async () => {
  await sb?.close();
  servers.closeAll();
});

describe('gateway /gw/<service>/<path>', () => {
  it('is not an open proxy: it needs a Bearer token and a registered service', async () => {
    const anonymous = await fetch(`${base}/gw/payment/`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toContain('Bearer');
    expect((await fetch(`${base}/gw/payment/`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const unknown = await gw('nope/x');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no registered service named "nope"' });
  });

  it('forwards method, path, query and body, but not the caller’s credentials', async () => {
    const r = await gw('payment/charge/42?currency=EUR', { method: 'POST', body: '{"amount":5}', headers: { 'content-type': 'application/json', cookie: 'sb_session=x' } });
    expect(r.status).toBe(200);
    const seen = (await r.json()) as { id: string; method: string; url: string; body: string; headers: Record<string, string> };
    expect(seen).toMatchObject({ method: 'POST', url: '/charge/42?currency=EUR', body: '{"amount":5}' });
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(r.headers.get('x-switchboard-service')).toBe('embedded/dc1/payment');
    expect(r.headers.get('x-switchboard-instance')).toBe(seen.id);
    expect(r.headers.get('x-instance')).toBe(seen.id);
  });

  it('splits traffic by the policy set through the API: 20% canary over 200 requests', async () => {
    await setWeights({ blue: 0, green: 100 });
    await routesTo('green');
    await setWeights({ blue: 80, green: 20 });
    await routesTo('blue');
    const subsetsSeen: string[] = [];
    for (let i = 0; i < 200; i++) subsetsSeen.push((await gw('payment/')).headers.get('x-switchboard-subset')!);
    const green = subsetsSeen.filter((s) => s === 'green').length;
    // Smooth weighted round-robin is exact per 100 picks from where it starts; the probe above
    // may have started mid-cycle, so allow one either way.
    expect(green).toBeGreaterThanOrEqual(39);
    expect(green).toBeLessThanOrEqual(41);
  });

  it('follows a flip, and says 503 when the policy leaves no instance to route to', async () => {
    await setWeights({ blue: 0, green: 100 });
    await routesTo('green');
    for (const id of ['g1', 'g2']) await fetch(`${registry}/v1/agent/check/fail/${id}-ttl`, { method: 'PUT' });
    await vi.waitFor(async () => expect((await gw('payment/')).status).toBe(503), { timeout: 10_000, interval: 50 });
    const r = await gw('payment/');
    expect(((await r.json()) as { error: string }).error).toBe('payment: no instance can take traffic under its traffic policy');
    for (const id of ['g1', 'g2']) await fetch(`${registry}/v1/agent/check/pass/${id}-ttl`, { method: 'PUT' });
    await vi.waitFor(async () => expect((await gw('payment/')).status).toBe(200), { timeout: 10_000, interval: 50 });
  });

  it('counts requests by outcome in /metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/switchboard_gateway_requests_total\{service="payment",outcome="2xx"\} [1-9]\d*/);
    expect(text).toMatch(/switchboard_gateway_requests_total\{service="payment",outcome="no_instance"\} [1-9]/);
  });
});
