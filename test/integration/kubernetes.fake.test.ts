/**
 * The Kubernetes adapter suite against the fake API server: the `discovery.k8s.io/v1` path
 * real 1.21+ clusters serve (the real test server, 1.20, has only v1beta1).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KubernetesSource } from '../../server/sources/kubernetes/kubernetesSource';
import { TopologyStore } from '../../server/topology/topologyStore';
import { startFakeKubeApiServer, type FakeKubeApiServer, type KubeObject } from '../support/fakeKubeApiServer';
import { kubernetesAdapterSuite, writeKubeconfig, type TestCluster } from '../support/kubernetesSuite';

let fake: FakeKubeApiServer;
let cluster: TestCluster;
const dir = mkdtempSync(join(tmpdir(), 'sb-k8s-fake-'));

beforeAll(async () => {
  fake = await startFakeKubeApiServer({ token: 'fake-token' });
  cluster = {
    sliceVersion: 'v1',
    // client-node 2.x refuses plain http:// unless TLS verification is explicitly off.
    kubeconfig: (d, token = fake.token) => writeKubeconfig(d, fake.url, token, { insecure: true }),
    apply: async (resource, object) => void fake.put(resource, object as unknown as KubeObject),
    remove: async (resource, ns, name) => fake.remove(resource, ns, name),
    read: async (_resource, ns, name) => {
      const r = await fetch(`${fake.url}/api/v1/namespaces/${ns}/services/${name}`, { headers: { authorization: `Bearer ${fake.token}` } });
      return r.json();
    },
    stop: () => fake.stop(),
    start: () => fake.start(),
    compact: () => fake.compact(),
  };
});

afterAll(async () => {
  await fake?.stop();
});

describe('Kubernetes adapter against the fake API server (EndpointSlice v1)', () => {
  kubernetesAdapterSuite(() => cluster, () => dir, { canCompact: true });
});

describe('a cluster that serves no EndpointSlice API', () => {
  it('falls back to core Endpoints, reads ready and not-ready addresses, and says which API it uses', async () => {
    const old = await startFakeKubeApiServer({ sliceApi: 'none' });
    try {
      old.put('services', { metadata: { name: 'legacy', namespace: 'shop' }, spec: { selector: { app: 'legacy' } } });
      old.put('endpoints', { metadata: { name: 'legacy', namespace: 'shop' }, subsets: [{ addresses: [{ ip: '192.0.2.7', nodeName: 'n1' }], notReadyAddresses: [{ ip: '192.0.2.8' }], ports: [{ name: 'http', port: 9000 }] }] });
      const source = new KubernetesSource({ name: 'old', kubeconfig: writeKubeconfig(dir, old.url, old.token, { insecure: true }), context: null, inCluster: false, namespaces: ['shop'] });
      const store = new TopologyStore();
      store.addSource({ id: 'old', kind: 'kubernetes', name: 'old', address: source.address });
      source.start((e) => store.apply('old', e));
      await vi.waitFor(() => expect(store.service('old/shop/legacy')?.instances).toHaveLength(2), { timeout: 10_000 });
      expect(store.service('old/shop/legacy')?.instances.map((i) => [i.id, i.health])).toEqual([['192.0.2.7:9000', 'passing'], ['192.0.2.8:9000', 'critical']]);
      expect(store.source('old')?.detail).toBe('core v1 Endpoints (no EndpointSlice API served)');
      await source.stop();
    } finally {
      await old.stop();
    }
  });
});
