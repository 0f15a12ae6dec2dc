/**
 * The Kubernetes adapter suite against a real kube-apiserver 1.20.2 (etcd 3.4, TLS with the CA
 * from the kubeconfig, token auth, RBAC), which serves EndpointSlices only as v1beta1: the
 * adapter must discover that and say so. Plus what only a real server shows: RBAC refusals.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { KubernetesSource } from '../../server/sources/kubernetes/kubernetesSource';
import { TopologyStore } from '../../server/topology/topologyStore';
import { startFromConfig } from '../support/controlPlane';
import { startKubeApiServer, type KubeApiServer } from '../support/kubeApiServer';
import { kubernetesAdapterSuite, writeKubeconfig, type TestCluster } from '../support/kubernetesSuite';

let api: KubeApiServer & { [Symbol.asyncDispose](): Promise<void> };
let cluster: TestCluster;
const dir = mkdtempSync(join(tmpdir(), 'sb-k8s-real-'));

const PATHS = {
  services: (ns: string) => `/api/v1/namespaces/${ns}/services`,
  pods: (ns: string) => `/api/v1/namespaces/${ns}/pods`,
  endpointslices: (ns: string) => `/apis/discovery.k8s.io/v1beta1/namespaces/${ns}/endpointslices`,
};

beforeAll(async () => {
  api = (await startKubeApiServer()) as typeof api;
  expect((await api.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } })).status).toBe(201);
  // No controller-manager here to create it, and pods are refused without it.
  expect((await api.call('POST', '/api/v1/namespaces/shop/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } })).status).toBe(201);
  cluster = {
    sliceVersion: 'v1beta1',
    kubeconfig: (d, token = api.adminToken) => writeKubeconfig(d, api.url, token, { ca: api.ca }),
    async apply(resource, object) {
      const meta = object.metadata as { name: string; namespace: string };
      const base = PATHS[resource](meta.namespace);
      const created = await api.call('POST', base, object);
      if (created.status === 201) return;
      if (created.status !== 409) throw new Error(`create ${resource}/${meta.name}: ${created.status} ${JSON.stringify(created.body)}`);
      // Exists: a merge patch replaces the lists (endpoints) and keeps server-set fields (clusterIP).
      const patched = await api.call('PATCH', `${base}/${meta.name}`, object, 'application/merge-patch+json');
      if (patched.status !== 200) throw new Error(`patch ${resource}/${meta.name}: ${patched.status} ${JSON.stringify(patched.body)}`);
    },
    async remove(resource, ns, name) {
      const r = await api.call('DELETE', `${PATHS[resource](ns)}/${name}`);
      if (r.status !== 200) throw new Error(`delete ${resource}/${name}: ${r.status}`);
    },
    read: async (_resource, ns, name) => (await api.call('GET', `/api/v1/namespaces/${ns}/services/${name}`)).body as never,
    stop: () => api.stop(),
    start: () => api.start(),
  };
}, 600_000);

afterAll(async () => {
  await api?.[Symbol.asyncDispose]();
});

describe('Kubernetes adapter against a real kube-apiserver 1.20 (EndpointSlice v1beta1)', () => {
  kubernetesAdapterSuite(() => cluster, () => dir, { canCompact: false });

  it('reports an RBAC refusal clearly, and starts watching once a Role allows it', async () => {
    const source = new KubernetesSource({ name: 'limited', kubeconfig: writeKubeconfig(dir, api.url, api.limitedToken, { ca: api.ca }), context: null, inCluster: false, namespaces: ['shop'] });
    const store = new TopologyStore();
    store.addSource({ id: 'limited', kind: 'kubernetes', name: 'limited', address: source.address });
    source.start((e) => store.apply('limited', e));
    await vi.waitFor(() => expect(store.source('limited')?.lastError).toMatch(/forbidden/), { timeout: 20_000 });
    expect(store.source('limited')?.state).toBe('down');
    // The README's minimal Role: get/list/watch services, endpointslices, pods.
    const rules = [
      { apiGroups: [''], resources: ['services', 'pods', 'endpoints'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
    ];
    expect((await api.call('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'switchboard-read' }, rules })).status).toBe(201);
    expect((await api.call('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'switchboard-read' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'switchboard-read' }, subjects: [{ kind: 'User', name: 'limited', apiGroup: 'rbac.authorization.k8s.io' }] })).status).toBe(201);
    await vi.waitFor(() => expect(store.source('limited')?.state).toBe('ok'), { timeout: 60_000 });
    expect(store.service('limited/shop/web')).toBeDefined();
    await source.stop();
  }, 90_000);

  it('a token that may read but not patch services gets a clear refusal from the traffic API, not a crash', async () => {
    const { sb, base } = await startFromConfig({ sources: [{ kind: 'kubernetes', name: 'k8s', kubeconfig: writeKubeconfig(dir, api.url, api.limitedToken, { ca: api.ca }), namespaces: ['shop'] }], auth: { anonymousRole: null, users: [{ name: 'op', role: 'operator', token: 'op-token' }] } });
    try {
      await vi.waitFor(() => expect(sb.store.service('k8s/shop/web')).toBeDefined(), { timeout: 20_000 });
      const r = await fetch(`${base}/api/services/k8s/shop/web/traffic/flip`, { method: 'POST', headers: { authorization: 'Bearer op-token', 'content-type': 'application/json' }, body: '{}' });
      expect(r.status).toBe(502);
      expect(((await r.json()) as { error: string }).error).toMatch(/the registry refused: PATCH service shop\/web: HTTP 403: .*cannot patch resource "services"/);
    } finally {
      await sb.close();
    }
  });
});
