/**
 * The demo fleet against the embedded registry and against real Consul 1.8.7 — the same
 * production-style service code, unchanged: every instance registers through the `consul` npm
 * client with a deep readiness check, faults change what the registry sees, the load generator
 * produces traffic, and stopping leaves nothing registered and no process behind.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDemoFleet, type DemoFleet } from '../../demo/demoFleet';
import { startLoadGenerator } from '../../demo/loadGenerator';
import { startEmbeddedRegistry } from '../../registry/embeddedRegistry';
import { startConsulAgent } from '../support/consulAgent';

const WAIT = { timeout: 20_000, interval: 100 };

const registries: [string, () => Promise<{ httpAddr: string; close(): Promise<void> }>][] = [
  ['embedded registry', async () => {
    const r = await startEmbeddedRegistry({ dataDir: mkdtempSync(join(tmpdir(), 'sb-demo-')), httpPort: 0 });
    return { httpAddr: r.httpAddr, close: () => r.close() };
  }],
  ['real Consul 1.8.7', async () => {
    const a = await startConsulAgent({ datacenter: 'dc1' });
    return { httpAddr: a.httpAddr, close: () => a.stop() };
  }],
];

describe.each(registries)('demo fleet on the %s', (_name, startRegistry) => {
  let registry: { httpAddr: string; close(): Promise<void> };
  let fleet: DemoFleet;

  beforeAll(async () => {
    registry = await startRegistry();
    fleet = await startDemoFleet({ registryAddr: registry.httpAddr });
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
    await registry?.close();
  });

  type Entry = { Service: { ID: string; Tags: string[]; Meta: Record<string, string> | null }; Checks: { CheckID: string; Status: string; Name: string }[] };
  const health = async (name: string, query = '') => (await (await fetch(`${registry.httpAddr}/v1/health/service/${name}${query}`)).json()) as Entry[];
  const readiness = async (id: string) => (await health('payment')).find((e) => e.Service.ID === id)?.Checks.find((c) => c.Name === 'readiness')?.Status;
  const instance = (id: string) => fleet.instances.find((i) => i.id === id)!;

  describe('lifecycle', () => {
    it('registers order ×2, inventory ×2 and payment ×3 blue + ×2 green, all passing their /ready checks', async () => {
      expect(fleet.instances.map((i) => i.id).sort()).toEqual(['inventory-1', 'inventory-2', 'order-1', 'order-2', 'payment-1', 'payment-2', 'payment-3', 'payment-4', 'payment-5']);
      await vi.waitFor(async () => expect((await health('payment', '?passing=1')).length).toBe(5), WAIT);
      await vi.waitFor(async () => expect((await health('order', '?passing=1')).length).toBe(2), WAIT);
      const payment = await health('payment');
      expect(payment.filter((e) => e.Service.Tags.includes('blue')).map((e) => e.Service.Meta?.color)).toEqual(['blue', 'blue', 'blue']);
      expect(payment.filter((e) => e.Service.Tags.includes('green'))).toHaveLength(2);
    });

    it('serves /work through its dependencies, discovered in the registry', async () => {
      const r = await fetch(`${instance('order-1').url}/work`);
      expect(r.status).toBe(200);
      const body = (await r.json()) as { calls: Record<string, { service: string }> };
      expect(Object.keys(body.calls).sort()).toEqual(['inventory', 'payment']);
    });

    it('turns critical in the registry when readiness fails, and passing again when the fault clears', async () => {
      const url = `${instance('payment-2').url}/fault`;
      expect((await fetch(url, { method: 'POST', body: JSON.stringify({ failReady: true }) })).status).toBe(200);
      await vi.waitFor(async () => expect(await readiness('payment-2')).toBe('critical'), WAIT);
      expect((await fetch(url, { method: 'DELETE' })).status).toBe(200);
      await vi.waitFor(async () => expect(await readiness('payment-2')).toBe('passing'), WAIT);
    });

    it('returns 500s under an error fault while still passing readiness, and rejects a bad fault naming the field', async () => {
      const inst = instance('payment-4');
      await fetch(`${inst.url}/fault`, { method: 'POST', body: JSON.stringify({ errorRate: 1 }) });
      expect((await fetch(`${inst.url}/work`)).status).toBe(500);
      expect((await fetch(`${inst.url}/ready`)).status).toBe(200);
      const bad = await fetch(`${inst.url}/fault`, { method: 'POST', body: JSON.stringify({ errorRate: 7 }) });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toMatch(/^errorRate:/);
      await fetch(`${inst.url}/fault`, { method: 'DELETE' });
    });

    it('keeps traffic flowing with the load generator', async () => {
      const load = startLoadGenerator({ registryAddr: registry.httpAddr, rps: 20 });
      await vi.waitFor(() => expect(load.stats().ok).toBeGreaterThanOrEqual(10), WAIT);
      await load.stop();
    });

    it('stops cleanly: every instance deregistered, no process left', async () => {
      const pids = fleet.instances.map((i) => i.pid);
      await fleet.stop();
      for (const name of ['order', 'inventory', 'payment']) expect(await health(name)).toEqual([]);
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    });
  });
});
