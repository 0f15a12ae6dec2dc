/** The traffic store's CAS and audit semantics against real Consul and the embedded registry. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRegistry } from '../../server/registry/embeddedRegistry';
import { ConsulTrafficStore } from '../../server/traffic/consulTrafficStore';
import type { TrafficPolicy } from '../../server/traffic/trafficPolicy';
import { startConsulAgent } from '../support/consulAgent';

const registries: [string, () => Promise<{ httpAddr: string; close(): Promise<void> }>][] = [
  ['real Consul 1.8.7', async () => {
    const a = await startConsulAgent({ datacenter: 'dc1' });
    return { httpAddr: a.httpAddr, close: () => a.stop() };
  }],
  ['embedded registry', async () => {
    const r = await startEmbeddedRegistry({ dataDir: mkdtempSync(join(tmpdir(), 'sb-traffic-')), httpPort: 0 });
    return { httpAddr: r.httpAddr, close: () => r.close() };
  }],
];

const policy = (blue: number, by = 'alice'): TrafficPolicy => ({
  version: 1, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue, green: 100 - blue },
  drain: [], updatedAt: new Date().toISOString(), updatedBy: by, reason: `${blue}/${100 - blue}`,
});

describe.each(registries)('ConsulTrafficStore on the %s', (_name, start) => {
  let registry: { httpAddr: string; close(): Promise<void> };
  let store: ConsulTrafficStore;
  beforeAll(async () => {
    registry = await start();
    store = new ConsulTrafficStore({ address: registry.httpAddr, token: null, historyLimit: 3 });
  });
  afterAll(async () => {
    await registry?.close();
  });

  it('creates with cas=0, updates with the ModifyIndex, and loses a race with the current policy back', async () => {
    expect(await store.get('dc1', 'payment')).toEqual({ policy: null, modifyIndex: 0 });
    const created = await store.put('dc1', 'payment', policy(100), 0);
    expect(created.ok).toBe(true);
    const read = await store.get('dc1', 'payment');
    expect(read.policy?.weights).toEqual({ blue: 100, green: 0 });

    const alice = await store.put('dc1', 'payment', policy(90, 'alice'), read.modifyIndex);
    expect(alice.ok).toBe(true);
    // Bob read the same version as Alice: his write must not silently overwrite hers.
    const bob = await store.put('dc1', 'payment', policy(50, 'bob'), read.modifyIndex);
    expect(bob.ok).toBe(false);
    expect(!bob.ok && bob.current.policy).toMatchObject({ updatedBy: 'alice', weights: { blue: 90, green: 10 } });
    // A second create also loses once the key exists.
    expect((await store.put('dc1', 'payment', policy(0), 0)).ok).toBe(false);
  });

  it('keeps a bounded audit trail, newest first', async () => {
    for (const blue of [100, 80, 60, 40]) {
      await store.audit('dc1', 'checkout', { at: new Date().toISOString(), by: 'alice', reason: `to ${blue}`, before: null, after: policy(blue) });
    }
    const history = await store.history('dc1', 'checkout');
    expect(history.map((h) => h.reason)).toEqual(['to 40', 'to 60', 'to 80']);
    expect(history[0]!.id).toMatch(/^\d{15}$/);
  });
});
