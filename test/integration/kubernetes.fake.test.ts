/**
 * The Kubernetes adapter suite against the fake API server: the `discovery.k8s.io/v1` path
 * real 1.21+ clusters serve (the real test server, 1.20, has only v1beta1).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
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
