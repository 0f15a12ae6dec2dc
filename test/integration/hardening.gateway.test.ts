/**
 * Finding 6 against a real Consul agent: each service the gateway routes to holds a
 * ServiceClient with two long-polls, and Consul caps connections per client address (200 by
 * default). With limits.gatewayClients the gateway keeps at most that many, evicting the least
 * recently used, and an evicted service is still served (its client is made again).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Switchboard } from '../../server/switchboard';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';
import { startFromConfig } from '../support/controlPlane';
import { LocalServers } from '../support/localServers';

let agent: ConsulAgent;
let sb: Switchboard;
let base: string;
const servers = new LocalServers();
const client = { authorization: 'Bearer client-token' };
const NAMES = Array.from({ length: 8 }, (_, i) => `svc-${i}`);

beforeAll(async () => {
  agent = await startConsulAgent({ datacenter: 'dc1' });
  for (const name of NAMES) {
    const { port } = await servers.start((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(name));
    await agent.registerService({ ID: `${name}-1`, Name: name, Address: '127.0.0.1', Port: port, Check: { CheckID: `${name}-ttl`, TTL: '10m', Status: 'passing' } });
  }
  ({ sb, base } = await startFromConfig({
    sources: [{ kind: 'consul', name: 'prod', address: agent.httpAddr }],
    auth: { anonymousRole: null, users: [{ name: 'svc', role: 'client', token: 'client-token' }] },
    limits: { gatewayClients: 3 },
  }));
  await vi.waitFor(() => expect(sb.store.service('prod/dc1/svc-7')?.instances).toHaveLength(1), { timeout: 20_000 });
});

afterAll(async () => {
  await sb?.close();
  await agent?.stop();
  servers.closeAll();
});

const gauge = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${base}/metrics`)).text())?.[1]);

describe('gateway clients against real Consul', () => {
  it('holds at most limits.gatewayClients registry watches, and still serves every service', async () => {
    for (const round of [0, 1]) {
      for (const name of NAMES) {
        const r = await fetch(`${base}/gw/${name}/`, { headers: client });
        expect(r.status, `${name}, round ${round}`).toBe(200);
        expect(await r.text()).toBe(name);
        expect(await gauge('switchboard_gateway_clients')).toBeLessThanOrEqual(3);
      }
    }
    // Labels stay bounded by the real services, whatever was asked for.
    for (let i = 0; i < 10; i++) await fetch(`${base}/gw/nope-${i}/`, { headers: client });
    expect(await gauge('switchboard_metric_label_sets{metric="switchboard_gateway_requests_total"}')).toBeLessThanOrEqual(NAMES.length + 1);
  });
});
