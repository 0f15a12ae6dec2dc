/**
 * SDK clients reporting to a real control plane: a ServiceClient with `report` set, calling
 * real instances registered in the embedded registry, one of which answers 500s. Its breaker
 * view arrives in the topology (and GET /api/services/…), the request series fill, bad reports
 * are refused naming the field, and a client that stops reporting ages out.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Switchboard } from '../../server/switchboard';
import { startControlPlane } from '../support/controlPlane';
import { ServiceClient } from '../../sdk/serviceClient';
import { LocalServers } from '../support/localServers';

let sb: Switchboard;
let base: string;
let registry: string;
let client: ServiceClient;
const servers = new LocalServers();
const viewer = { authorization: 'Bearer vic-token' };

async function instance(status: number): Promise<number> {
  const { port } = await servers.start((_req, res) => {
    res.writeHead(status);
    res.end();
  });
  return port;
}

beforeAll(async () => {
  ({ sb, base, registry } = await startControlPlane({ anonymousRole: null, users: [{ name: 'checkout', role: 'client', token: 'client-token' }, { name: 'vic', role: 'viewer', token: 'vic-token' }] }));
  for (const [id, status] of [['good-1', 200], ['bad-1', 500]] as const) {
    await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'payment', ID: id, Address: '127.0.0.1', Port: await instance(status) }) });
  }
  await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances).toHaveLength(2), { timeout: 15_000 });
  client = new ServiceClient({ registry, service: 'payment', report: { url: base, token: 'client-token', caller: 'checkout' }, breaker: { consecutiveFailures: 3, coolDownMs: 60_000 } });
  await client.ready();
});

afterAll(async () => {
  await client?.close();
  await sb?.close();
  servers.closeAll();
});

describe('SDK telemetry in the control plane', () => {
  it('shows an instance’s open breaker in the topology and in GET /api/services', async () => {
    // POSTs are not retried, so the failing instance's 500s reach its breaker.
    for (let i = 0; i < 10; i++) await (await client.request('/pay', { method: 'POST' })).response.arrayBuffer();
    expect(client.breakers()).toMatchObject({ 'bad-1': 'open', 'good-1': 'closed' });
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances.find((i) => i.id.endsWith('/bad-1'))?.breaker).toEqual({ state: 'open', clients: 1, open: 1, halfOpen: 0 }), { timeout: 10_000 });
    const api = (await (await fetch(`${base}/api/services/embedded/dc1/payment`, { headers: viewer })).json()) as { service: { instances: { id: string; breaker?: { state: string } }[] } };
    expect(api.service.instances.map((i) => [i.id.split('/')[1], i.breaker?.state])).toEqual(expect.arrayContaining([['bad-1', 'open'], ['good-1', 'closed']]));
  });

  it('serves request rate, error rate and latency per service and instance', async () => {
    await vi.waitFor(async () => {
      const t = (await (await fetch(`${base}/api/services/embedded/dc1/payment/telemetry`, { headers: viewer })).json()) as { service: { rps: number; errorRate: number | null }[]; instances: Record<string, { errorRate: number | null }[]>; reporters: { caller: string }[] };
      expect(t.reporters.map((r) => r.caller)).toEqual(['checkout']);
      const total = t.service.reduce((a, p) => a + p.rps * 5, 0);
      expect(total).toBe(10);
      const bad = Object.entries(t.instances).find(([id]) => id.endsWith('/bad-1'))![1];
      expect(bad.every((p) => p.errorRate === 1)).toBe(true);
    }, { timeout: 10_000 });
  });

  it('refuses reports that are malformed or unauthenticated', async () => {
    const bad = await fetch(`${base}/api/telemetry`, { method: 'POST', headers: { authorization: 'Bearer client-token', 'content-type': 'application/json' }, body: JSON.stringify({ clientId: 'x', caller: 'y', service: 'payment', instances: [{ id: 'a', breaker: 'melted', requests: 1, errors: 0, latency: [] }] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('instances.0.breaker');
    expect((await fetch(`${base}/api/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  });

  it('ages out a client that stops reporting', async () => {
    await client.close();
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances.every((i) => i.breaker === undefined)).toBe(true), { timeout: 25_000 });
  }, 30_000);
});
