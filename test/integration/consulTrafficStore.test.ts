/** The traffic store's CAS and audit semantics against real Consul and the embedded registry. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRegistry } from '../../registry/embeddedRegistry';
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
    store = new ConsulTrafficStore({ address: registry.httpAddr, token: null, historyLimit: 3, refusedLimit: 2 });
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
    expect(!bob.ok && 'current' in bob && bob.current.policy).toMatchObject({ updatedBy: 'alice', weights: { blue: 90, green: 10 } });
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

  it('bounds refused attempts on their own: they never push applied changes out', async () => {
    const at = () => new Date().toISOString();
    await store.audit('dc1', 'ledger', { at: at(), by: 'alice', reason: 'applied 1', before: null, after: policy(100) });
    for (let i = 0; i < 6; i++) await store.audit('dc1', 'ledger', { at: at(), by: 'mallory', reason: `junk ${i}`, outcome: 'rejected', error: 'weights: must sum to 100, got 2', before: null, after: null });
    await store.audit('dc1', 'ledger', { at: at(), by: 'alice', reason: 'applied 2', before: null, after: policy(50) });
    const history = await store.history('dc1', 'ledger');
    expect(history.map((h) => h.reason)).toEqual(['applied 2', 'junk 5', 'junk 4', 'applied 1']);
  });

  it('encodes service names into keys: "#", "?" and dot segments cannot reach another key or drop the CAS', async () => {
    const names = ['payment#', 'a?cas=0', '..', '../payment', 'x/../../y', '.'];
    for (const name of names) {
      expect((await store.put('dc1', name, policy(100), 0)).ok).toBe(true);
      const read = await store.get('dc1', name);
      expect(read.policy?.weights).toEqual({ blue: 100, green: 0 });
      // The CAS parameter reached the registry: a stale index loses.
      expect((await store.put('dc1', name, policy(0), read.modifyIndex - 1)).ok).toBe(false);
      expect((await store.put('dc1', name, policy(70), read.modifyIndex)).ok).toBe(true);
      await store.audit('dc1', name, { at: new Date().toISOString(), by: 'alice', reason: `audit ${name}`, before: null, after: policy(70) });
      expect((await store.history('dc1', name)).map((h) => h.reason)).toEqual([`audit ${name}`]);
    }
    for (const name of names) expect((await store.get('dc1', name)).policy?.weights).toEqual({ blue: 70, green: 30 });
    // "payment" itself (the first test's key) is untouched by "../payment" and friends.
    expect((await store.get('dc1', 'payment')).policy).toMatchObject({ updatedBy: 'alice', weights: { blue: 90, green: 10 } });
  });

  it('reads a value that is not a valid policy as invalid (with its index), not as an error', async () => {
    const r = await fetch(`${registry.httpAddr}/v1/kv/switchboard/traffic/broken`, { method: 'PUT', body: JSON.stringify({ ...policy(100), weights: { constructor: 100 } }) });
    expect(r.ok).toBe(true);
    const read = await store.get('dc1', 'broken');
    expect(read).toMatchObject({ policy: null, modifyIndex: expect.any(Number), invalid: expect.stringContaining('weights.constructor: unknown subset') });
    expect((await store.put('dc1', 'broken', policy(100), read.modifyIndex)).ok).toBe(true);
    expect((await store.get('dc1', 'broken')).invalid).toBeUndefined();
  });
});
