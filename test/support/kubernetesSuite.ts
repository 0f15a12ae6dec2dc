/**
 * The Kubernetes adapter's integration suite, written once and run against every cluster the
 * tests can stand up: the fake API server (EndpointSlice v1) and a real kube-apiserver 1.20
 * (EndpointSlice v1beta1). Each cluster is driven through its REST API as an operator would.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { KubernetesSource } from '../../server/sources/kubernetes/kubernetesSource';
import { TopologyStore } from '../../server/topology/topologyStore';
import type { SourceEvent } from '../../server/sources/source';
import { startFromConfig } from './controlPlane';

export interface TestCluster {
  /** Writes a kubeconfig for `token` into `dir` and returns its path. */
  kubeconfig(dir: string, token?: string): string;
  /** EndpointSlice API version the cluster serves. */
  sliceVersion: 'v1' | 'v1beta1';
  apply(resource: 'services' | 'pods' | 'endpointslices', object: Record<string, unknown>): Promise<void>;
  remove(resource: 'services' | 'pods' | 'endpointslices', namespace: string, name: string): Promise<void>;
  read(resource: 'services', namespace: string, name: string): Promise<{ metadata: { resourceVersion?: string; annotations?: Record<string, string> }; spec?: { selector?: Record<string, string> } }>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Forces the next watch resume to meet 410 Gone, if the cluster can (the fake can). */
  compact?: () => void;
}

export function writeKubeconfig(dir: string, server: string, token: string, extra: { ca?: string; insecure?: boolean; namespace?: string } = {}): string {
  const file = join(dir, `kubeconfig-${token.slice(0, 6)}`);
  const cluster = [`    server: ${server}`, extra.ca ? `    certificate-authority-data: ${Buffer.from(extra.ca).toString('base64')}` : '', extra.insecure ? '    insecure-skip-tls-verify: true' : ''].filter(Boolean).join('\n');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
${cluster}
users:
- name: tester
  user:
    token: ${token}
contexts:
- name: test
  context:
    cluster: test
    user: tester
    namespace: ${extra.namespace ?? 'shop'}
current-context: test
`,
  );
  return file;
}

const NS = 'shop';

export function slice(name: string, service: string, endpoints: { ip: string; ready: boolean; terminating?: boolean; serving?: boolean; pod?: string; node?: string }[], version: 'v1' | 'v1beta1'): Record<string, unknown> {
  return {
    apiVersion: `discovery.k8s.io/${version}`,
    kind: 'EndpointSlice',
    metadata: { name, namespace: NS, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: version === 'v1' ? { ready: e.ready, serving: e.serving ?? e.ready, terminating: e.terminating ?? false } : { ready: e.ready },
      ...(e.pod ? { targetRef: { kind: 'Pod', name: e.pod, namespace: NS } } : {}),
      ...(version === 'v1' ? (e.node ? { nodeName: e.node } : {}) : e.node ? { topology: { 'kubernetes.io/hostname': e.node } } : {}),
    })),
  };
}

export function service(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...extra } };
}

export function pod(name: string, labels: Record<string, string>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels }, spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'example/app:1' }] } };
}

/** Registers the suite's tests; `cluster()` returns the cluster set up in the caller's beforeAll. */
export function kubernetesAdapterSuite(cluster: () => TestCluster, dir: () => string, options: { canCompact: boolean }): void {
  let source: KubernetesSource;
  let store: TopologyStore;
  /** Every event the source has sent, in order. */
  const events: SourceEvent[] = [];
  const SVC = `k8s/${NS}/web`;
  const instance = (ip: string) => store.service(SVC)?.instances.find((i) => i.address === ip);

  it('shows a Service with its endpoints, readiness, pod labels as tags, and which endpoints API it uses', async () => {
    const c = cluster();
    const v = c.sliceVersion;
    await c.apply('pods', pod('web-1', { app: 'web', color: 'blue' }));
    await c.apply('pods', pod('web-2', { app: 'web', color: 'green' }));
    await c.apply('services', service('web'));
    await c.apply('services', service('db', { clusterIP: 'None' }));
    await c.apply('endpointslices', slice('web-abc', 'web', [{ ip: '192.0.2.1', ready: true, pod: 'web-1', node: 'node-a' }, { ip: '192.0.2.2', ready: true, pod: 'web-2', node: 'node-b' }], v));
    source = new KubernetesSource({ name: 'k8s', kubeconfig: c.kubeconfig(dir()), context: null, inCluster: false, namespaces: [NS] });
    store = new TopologyStore();
    store.addSource({ id: source.id, kind: source.kind, name: source.name, address: source.address });
    source.start((e) => {
      events.push(e);
      store.apply(source.id, e);
    });
    await vi.waitFor(() => expect(store.service(SVC)?.instances).toHaveLength(2), { timeout: 20_000 });
    expect(store.source('k8s')).toMatchObject({ state: 'ok', detail: `EndpointSlices discovery.k8s.io/${v}`, scopes: [NS] });
    expect(instance('192.0.2.1')).toMatchObject({ id: '192.0.2.1:8080', port: 8080, health: 'passing', node: 'node-a', tags: ['app=web', 'color=blue'], meta: { pod: 'web-1' } });
    expect(store.service(`k8s/${NS}/db`)?.tags).toEqual(['headless']);
  });

  it('follows an endpoint turning not-ready, and a terminating one that still serves (draining)', async () => {
    const c = cluster();
    const v = c.sliceVersion;
    await c.apply('endpointslices', slice('web-abc', 'web', [{ ip: '192.0.2.1', ready: false, pod: 'web-1' }, { ip: '192.0.2.2', ready: false, serving: true, terminating: true, pod: 'web-2' }], v));
    await vi.waitFor(() => expect(instance('192.0.2.1')?.health).toBe('critical'), { timeout: 20_000 });
    // v1beta1 in 1.20 has no serving/terminating: not-ready is all it can say.
    expect(instance('192.0.2.2')?.health).toBe(v === 'v1' ? 'warning' : 'critical');
    if (v === 'v1') expect(instance('192.0.2.2')?.meta.terminating).toBe('true');
  });

  it('re-reports only the Service whose endpoint changed, and only the Services targeting a relabelled pod', async () => {
    const c = cluster();
    const v = c.sliceVersion;
    await c.apply('pods', pod('api-1', { app: 'api', color: 'blue' }));
    await c.apply('services', service('api'));
    await c.apply('endpointslices', slice('api-abc', 'api', [{ ip: '192.0.2.31', ready: true, pod: 'api-1' }], v));
    await vi.waitFor(() => expect(store.service(`k8s/${NS}/api`)?.instances).toHaveLength(1), { timeout: 20_000 });
    const changedSince = (mark: number) => events.slice(mark).filter((e) => e.type === 'service.changed').map((e) => (e as { service: { id: string } }).service.id);

    let mark = events.length;
    await c.apply('endpointslices', slice('api-abc', 'api', [{ ip: '192.0.2.31', ready: false, pod: 'api-1' }], v));
    await vi.waitFor(() => expect(store.service(`k8s/${NS}/api`)?.instances[0]?.health).toBe('critical'), { timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(changedSince(mark)).toEqual([`k8s/${NS}/api`]);
    expect(events.slice(mark).some((e) => e.type === 'scope.synced')).toBe(false);

    // web-1 is targeted by web only: relabelling it re-reports web, not api or db.
    mark = events.length;
    await c.apply('pods', pod('web-1', { app: 'web', color: 'green' }));
    await vi.waitFor(() => expect(instance('192.0.2.1')?.tags).toEqual(['app=web', 'color=green']), { timeout: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(changedSince(mark)).toEqual([SVC]);
    await c.apply('pods', pod('web-1', { app: 'web', color: 'blue' }));
    await vi.waitFor(() => expect(instance('192.0.2.1')?.tags).toEqual(['app=web', 'color=blue']), { timeout: 20_000 });
  });

  it('unions several slices of one Service and drops a deleted one', async () => {
    const c = cluster();
    const v = c.sliceVersion;
    await c.apply('endpointslices', slice('web-def', 'web', [{ ip: '192.0.2.3', ready: true }], v));
    await vi.waitFor(() => expect(store.service(SVC)?.instances).toHaveLength(3), { timeout: 20_000 });
    await c.remove('endpointslices', NS, 'web-def');
    await vi.waitFor(() => expect(store.service(SVC)?.instances).toHaveLength(2), { timeout: 20_000 });
  });

  it('flips traffic on Kubernetes: annotation and selector patched with a resourceVersion precondition; a stale write gets 409', async () => {
    const c = cluster();
    await c.apply('endpointslices', slice('web-abc', 'web', [{ ip: '192.0.2.1', ready: true, pod: 'web-1' }, { ip: '192.0.2.2', ready: true, pod: 'web-2' }], c.sliceVersion));
    const { sb, base } = await startFromConfig({ sources: [{ kind: 'kubernetes', name: 'k8s', kubeconfig: c.kubeconfig(dir()), namespaces: [NS] }], auth: { anonymousRole: null, users: [{ name: 'op', role: 'operator', token: 'op-token' }] } });
    try {
      await vi.waitFor(() => expect(sb.store.service(SVC)?.instances.filter((i) => i.health === 'passing')).toHaveLength(2), { timeout: 20_000 });
      const api = `${base}/api/services/k8s/${NS}/web/traffic`;
      const headers = { authorization: 'Bearer op-token', 'content-type': 'application/json' };
      const enabled = await fetch(`${api}/enable`, { method: 'POST', headers });
      expect(enabled.status).toBe(200);
      expect(await enabled.json()).toMatchObject({ policy: { subsets: { blue: { tags: ['color=blue'] }, green: { tags: ['color=green'] } }, weights: { blue: 100, green: 0 } } });
      let svc = await c.read('services', NS, 'web');
      expect(svc.spec?.selector).toEqual({ app: 'web', color: 'blue' });
      expect(JSON.parse(svc.metadata.annotations!['switchboard.dev/traffic']!)).toMatchObject({ weights: { blue: 100, green: 0 } });
      const staleVersion = Number(svc.metadata.annotations!['switchboard.dev/traffic-revision']);
      expect(staleVersion).toBe(1);

      const flipped = await fetch(`${api}/flip`, { method: 'POST', headers, body: '{}' });
      expect(flipped.status).toBe(200);
      svc = await c.read('services', NS, 'web');
      expect(svc.spec?.selector).toEqual({ app: 'web', color: 'green' });
      expect(JSON.parse(svc.metadata.annotations!['switchboard.dev/traffic']!)).toMatchObject({ weights: { blue: 0, green: 100 }, updatedBy: 'op' });
      // The policy also reaches the topology through the watch, like a change made with kubectl would.
      await vi.waitFor(() => expect(sb.store.service(SVC)?.traffic?.weights).toEqual({ blue: 0, green: 100 }), { timeout: 20_000 });

      const stale = await fetch(api, { method: 'PUT', headers: { ...headers, 'if-match': String(staleVersion) }, body: JSON.stringify({ weights: { blue: 50, green: 50 } }) });
      expect(stale.status).toBe(409);
      expect(await stale.json()).toMatchObject({ current: { policy: { weights: { blue: 0, green: 100 } } } });
      const history = (await (await fetch(`${api}/history`, { headers })).json()) as { outcome: string; reason: string }[];
      expect(history.filter((h) => h.outcome === 'applied').map((h) => h.reason)).toEqual(['flip to green', 'traffic control enabled']);
    } finally {
      await sb.close();
    }
  });

  // Only a cluster whose history can be compacted on demand (the fake) can force a 410.
  if (options.canCompact) it('relists after 410 Gone and sees what changed meanwhile', async () => {
    const c = cluster();
    await c.stop();
    await c.start();
    await c.apply('endpointslices', slice('web-ghi', 'web', [{ ip: '192.0.2.4', ready: true }], c.sliceVersion));
    c.compact!();
    await vi.waitFor(() => expect(instance('192.0.2.4')).toBeDefined(), { timeout: 30_000 });
    await c.remove('endpointslices', NS, 'web-ghi');
    await vi.waitFor(() => expect(instance('192.0.2.4')).toBeUndefined(), { timeout: 30_000 });
  });

  it('keeps the last-known-good view, marked stale, while the API server is down, and recovers', async () => {
    const c = cluster();
    await c.stop();
    try {
      await vi.waitFor(() => expect(store.source('k8s')?.state).toBe('stale'), { timeout: 40_000 });
      expect(store.service(SVC)?.instances.length).toBeGreaterThan(0);
    } finally {
      // Whatever happened above, the next tests need the server back.
      await c.start();
    }
    await vi.waitFor(() => expect(store.source('k8s')?.state).toBe('ok'), { timeout: 60_000 });
    await source.stop();
  }, 120_000);

  it('says what a wrong token gets, instead of crashing', async () => {
    const c = cluster();
    const bad = new KubernetesSource({ name: 'bad', kubeconfig: c.kubeconfig(dir(), 'wrong-token'), context: null, inCluster: false, namespaces: [NS] });
    const s = new TopologyStore();
    s.addSource({ id: 'bad', kind: 'kubernetes', name: 'bad', address: bad.address });
    bad.start((e) => s.apply('bad', e));
    await vi.waitFor(() => expect(s.source('bad')?.state).toBe('down'), { timeout: 20_000 });
    expect(s.source('bad')?.lastError).toMatch(/401|Unauthorized/);
    await bad.stop();
  });
}
