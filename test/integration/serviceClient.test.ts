/**
 * The SDK's ServiceClient against real Consul 1.8.7 and real HTTP instances: it follows the
 * health list and the traffic-policy key with blocking queries, splits by weight, honours the
 * drain list, retries a dead instance elsewhere, and keeps serving through a registry outage.
 */
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TrafficPolicy } from '../../protocol/traffic';
import { ServiceClient } from '../../sdk/serviceClient';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';
import { LocalServers } from '../support/localServers';

let consul: ConsulAgent;
let client: ServiceClient;
const errors: string[] = [];
const servers = new LocalServers();
const serverOf = new Map<string, Server>();

async function instance(id: string): Promise<number> {
  const { server, port } = await servers.start((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id }));
  });
  serverOf.set(id, server);
  return port;
}

const policy = (weights: Record<string, number>, drain: string[] = []): TrafficPolicy => ({
  version: 1,
  subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } },
  weights,
  drain,
  updatedAt: new Date().toISOString(),
  updatedBy: 'test',
  reason: '',
});

async function calls(n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const { response } = await client.request('/work');
    const { id } = (await response.json()) as { id: string };
    seen[id] = (seen[id] ?? 0) + 1;
  }
  return seen;
}

const writePolicy = (p: unknown) => consul.put('/v1/kv/switchboard/traffic/payment', p);
const policyIs = (weights: Record<string, number>) => vi.waitFor(() => expect(client.view().policy?.weights).toEqual(weights), { timeout: 10_000 });

beforeAll(async () => {
  consul = await startConsulAgent();
  for (const [id, tag] of [['b1', 'blue'], ['b2', 'blue'], ['g1', 'green'], ['g2', 'green']] as const) {
    await consul.registerService({ ID: id, Name: 'payment', Address: '127.0.0.1', Port: await instance(id), Tags: [tag], Check: { CheckID: `${id}-ttl`, TTL: '10m', Status: 'passing' } });
  }
  client = new ServiceClient({ registry: consul.httpAddr, service: 'payment', onError: (e) => errors.push(e.message) });
  await client.ready();
});

afterAll(async () => {
  await client?.close();
  servers.closeAll();
  await consul?.stop();
});

describe('ServiceClient against real Consul', () => {
  it('without a policy spreads calls over every passing instance', async () => {
    expect(client.view().policy).toBeNull();
    expect(await calls(8)).toEqual({ b1: 2, b2: 2, g1: 2, g2: 2 });
  });

  it('follows a canary split written to the policy key', async () => {
    await writePolicy(policy({ blue: 80, green: 20 }));
    await policyIs({ blue: 80, green: 20 });
    const seen = await calls(100);
    expect((seen.g1 ?? 0) + (seen.g2 ?? 0)).toBe(20);
    expect((seen.b1 ?? 0) + (seen.b2 ?? 0)).toBe(80);
  });

  it('follows a flip: every call lands on green', async () => {
    await writePolicy(policy({ blue: 0, green: 100 }));
    await policyIs({ blue: 0, green: 100 });
    expect(Object.keys(await calls(10)).sort()).toEqual(['g1', 'g2']);
  });

  it('sends no new calls to a drained instance while the registry still lists it', async () => {
    await writePolicy(policy({ blue: 0, green: 100 }, ['g1']));
    await vi.waitFor(() => expect(client.view().policy?.drain).toEqual(['g1']), { timeout: 10_000 });
    expect(client.view().endpoints.map((e) => e.id)).toContain('g1');
    expect(await calls(6)).toEqual({ g2: 6 });
  });

  it('drops an instance whose check turns critical', async () => {
    await writePolicy(policy({ blue: 100, green: 0 }));
    await policyIs({ blue: 100, green: 0 });
    await consul.failTtl('b1-ttl', 'db down');
    await vi.waitFor(() => expect(client.view().endpoints.map((e) => e.id).sort()).toEqual(['b2', 'g1', 'g2']), { timeout: 10_000 });
    expect(await calls(4)).toEqual({ b2: 4 });
    await consul.passTtl('b1-ttl');
    await vi.waitFor(() => expect(client.view().endpoints).toHaveLength(4), { timeout: 10_000 });
  });

  it('keeps the last valid policy when someone writes a broken one', async () => {
    await writePolicy({ version: 1, weights: 'nonsense' });
    await vi.waitFor(() => expect(errors.some((e) => e.includes('keeping the previous policy'))).toBe(true), { timeout: 10_000 });
    expect(client.view().policy?.weights).toEqual({ blue: 100, green: 0 });
    await writePolicy(policy({ blue: 50, green: 50 }));
    await policyIs({ blue: 50, green: 50 });
  });

  it('retries a GET on another instance when the picked one refuses connections', async () => {
    await writePolicy(policy({ blue: 100, green: 0 }));
    await policyIs({ blue: 100, green: 0 });
    const b1 = serverOf.get('b1')!;
    b1.closeAllConnections();
    await new Promise<void>((r) => b1.close(() => r()));
    const results = await Promise.all(Array.from({ length: 4 }, () => client.request('/work')));
    expect(results.map((r) => r.endpoint.id)).toEqual(['b2', 'b2', 'b2', 'b2']);
    expect(results.some((r) => r.attempts === 2)).toBe(true);
    // A POST is not retried: it may have been half-done on the first instance.
    const posts = await Promise.allSettled(Array.from({ length: 2 }, () => client.request('/work', { method: 'POST', body: '{}' })));
    expect(posts.filter((p) => p.status === 'rejected')).toHaveLength(1);
  });

  it('holds back a sudden drop to zero instances until it has lasted the confirmation window', async () => {
    for (const id of ['l1', 'l2']) {
      await consul.registerService({ ID: id, Name: 'ledger', Address: '127.0.0.1', Port: await instance(id), Check: { CheckID: `${id}-ttl`, TTL: '10m', Status: 'passing' } });
    }
    const ledger = new ServiceClient({ registry: consul.httpAddr, service: 'ledger', guard: { confirmMs: 1500 } });
    await ledger.ready();
    await vi.waitFor(() => expect(ledger.view().endpoints).toHaveLength(2), { timeout: 10_000 });
    for (const id of ['l1', 'l2']) await consul.deregister(id);
    await vi.waitFor(() => expect(ledger.view().guard).toEqual({ holding: true, holds: 1 }), { timeout: 10_000 });
    // The two deregistrations may reach the client as one change (2 → 0) or two (2 → 1, an
    // ordinary change, then 1 → 0): either way the drop to zero is held and the client still
    // routes to what it had.
    expect(ledger.view().endpoints.length).toBeGreaterThan(0);
    expect((await ledger.request('/')).response.status).toBe(200);
    await vi.waitFor(() => expect(ledger.view()).toMatchObject({ endpoints: [], guard: { holding: false, holds: 1 } }), { timeout: 10_000 });
    expect(ledger.telemetry().guardHolds).toBe(1);
    await ledger.close();
  });

  it('keeps serving the last-known-good list through a 60 s registry outage: not one failed call', async () => {
    await consul.stop();
    await vi.waitFor(() => expect(client.view().staleSince).not.toBeNull(), { timeout: 15_000 });
    expect(client.view().endpoints).toHaveLength(4);
    let ok = 0;
    const failures: string[] = [];
    const until = Date.now() + 60_000;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (Date.now() < until) {
          try {
            const { response } = await client.request('/work');
            await response.arrayBuffer();
            if (response.ok) ok++;
            else failures.push(`HTTP ${response.status}`);
          } catch (err) {
            failures.push((err as Error).message);
          }
          await sleep(20);
        }
      }),
    );
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(1000);
    expect(client.view().staleSince).not.toBeNull();
  }, 90_000);
});
