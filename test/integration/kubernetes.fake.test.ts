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
import type { SourceEvent } from '../../server/sources/source';

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

describe('at scale and against a hostile upstream (fake API server only)', () => {
  let fake: FakeKubeApiServer;
  let source: KubernetesSource;
  let store: TopologyStore;
  const events: SourceEvent[] = [];
  const states: string[] = [];
  const NS = 'many';
  const SERVICES = 60;
  const sliceOf = (s: number, notReady = -1, pods = (e: number) => `svc-${s}-${e}`): KubeObject => ({
    metadata: { name: `svc-${s}-a`, namespace: NS, labels: { 'kubernetes.io/service-name': `svc-${s}` } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: 3 }, (_, e) => ({ addresses: [`10.1.${s}.${e + 1}`], conditions: { ready: e !== notReady }, targetRef: { kind: 'Pod', name: pods(e), namespace: NS } })),
  });
  const changedSince = (mark: number) => events.slice(mark).filter((e) => e.type === 'service.changed').map((e) => (e as { service: { name: string } }).service.name).sort();
  const settle = () => new Promise((r) => setTimeout(r, 300));

  beforeAll(async () => {
    fake = await startFakeKubeApiServer();
    for (let s = 0; s < SERVICES; s++) {
      fake.put('services', { metadata: { name: `svc-${s}`, namespace: NS }, spec: { selector: { app: `svc-${s}` } } });
      for (let e = 0; e < 3; e++) fake.put('pods', { metadata: { name: `svc-${s}-${e}`, namespace: NS, labels: { app: `svc-${s}`, color: 'blue' } } });
      fake.put('endpointslices', sliceOf(s));
    }
    source = new KubernetesSource(
      { name: 'big', kubeconfig: writeKubeconfig(dir, fake.url, fake.token, { insecure: true }), context: null, inCluster: false, namespaces: [NS] },
      undefined,
      // Small bounds so the hostile cases need only small bodies.
      { limits: { maxLineBytes: 64 * 1024, maxListBytes: 256 * 1024, pageSize: 25 } },
    );
    store = new TopologyStore();
    store.addSource({ id: 'big', kind: 'kubernetes', name: 'big', address: source.address });
    source.start((e) => {
      events.push(e);
      store.apply('big', e);
      states.push(store.source('big')!.state);
    });
    await vi.waitFor(() => expect(store.source('big')?.state).toBe('ok'), { timeout: 20_000 });
  });

  afterAll(async () => {
    await source?.stop();
    await fake?.stop();
  });

  it('lists in pages and reports the namespace once', () => {
    expect(events.filter((e) => e.type === 'scope.synced')).toHaveLength(1);
    expect(store.service(`big/${NS}/svc-59`)?.instances).toHaveLength(3);
    expect(fake.requests.filter((r) => r.startsWith(`GET /api/v1/namespaces/${NS}/pods?limit=25`)).length).toBeGreaterThanOrEqual(SERVICES * 3 / 25);
  });

  it('an endpoint readiness change re-emits only that Service', async () => {
    const mark = events.length;
    fake.put('endpointslices', sliceOf(17, 1));
    await vi.waitFor(() => expect(store.service(`big/${NS}/svc-17`)?.instances.find((i) => i.address === '10.1.17.2')?.health).toBe('critical'), { timeout: 10_000 });
    await settle();
    expect(changedSince(mark)).toEqual(['svc-17']);
    expect(events.slice(mark).filter((e) => e.type !== 'service.changed')).toEqual([]);
  });

  it('a pod label change re-emits only the Services whose endpoints target that pod', async () => {
    // svc-30 and svc-31 both point an endpoint at pod svc-30-0.
    fake.put('endpointslices', sliceOf(31, -1, (e) => (e === 0 ? 'svc-30-0' : `svc-31-${e}`)));
    await vi.waitFor(() => expect(store.service(`big/${NS}/svc-31`)?.instances[0]?.tags).toContain('app=svc-30'), { timeout: 10_000 });
    await settle();
    const mark = events.length;
    fake.put('pods', { metadata: { name: 'svc-30-0', namespace: NS, labels: { app: 'svc-30', color: 'green' } } });
    await vi.waitFor(() => expect(store.service(`big/${NS}/svc-31`)?.instances[0]?.tags).toContain('color=green'), { timeout: 10_000 });
    await settle();
    expect(changedSince(mark)).toEqual(['svc-30', 'svc-31']);
    // A pod no endpoint targets changes nothing; a change that leaves the labels as they were re-emits nothing.
    const quiet = events.length;
    fake.put('pods', { metadata: { name: 'stray', namespace: NS, labels: { app: 'x' } } });
    fake.put('pods', { metadata: { name: 'svc-5-1', namespace: NS, labels: { app: 'svc-5', color: 'blue' } } });
    await settle();
    expect(events.length).toBe(quiet);
  });

  it('a policy change sends traffic.synced once; other changes never do', async () => {
    const policy = { version: 1, subsets: { blue: { tags: ['color=blue'] }, green: { tags: ['color=green'] } }, weights: { blue: 100, green: 0 }, drain: [], updatedAt: '2026-01-01T00:00:00Z', updatedBy: 'op', reason: 'test' };
    const mark = events.length;
    fake.put('services', { metadata: { name: 'svc-8', namespace: NS, annotations: { 'switchboard.dev/traffic': JSON.stringify(policy) } }, spec: { selector: { app: 'svc-8' } } });
    await vi.waitFor(() => expect(store.service(`big/${NS}/svc-8`)?.traffic?.weights).toEqual({ blue: 100, green: 0 }), { timeout: 10_000 });
    fake.put('endpointslices', sliceOf(8, 2));
    await vi.waitFor(() => expect(store.service(`big/${NS}/svc-8`)?.instances.find((i) => i.address === '10.1.8.3')?.health).toBe('critical'), { timeout: 10_000 });
    await settle();
    expect(events.slice(mark).filter((e) => e.type === 'traffic.synced')).toHaveLength(1);
  });

  const staleThenOk = async (mark: number, error: RegExp) => {
    const errors = () => events.slice(mark).flatMap((e) => (e.type === 'status' && e.state === 'down' ? [e.error ?? ''] : []));
    await vi.waitFor(() => expect(errors().some((m) => error.test(m)), errors().join(' | ')).toBe(true), { timeout: 10_000 });
    expect(states.slice(mark)).toContain('stale');
    expect(store.source('big')?.lastError ?? events.slice(mark).find((e) => e.type === 'status' && e.state === 'down')).toBeTruthy();
    // Last-known-good: nothing was removed.
    expect(events.slice(mark).filter((e) => e.type === 'service.removed' || e.type === 'scope.synced')).toEqual([]);
    expect(store.service(`big/${NS}/svc-59`)?.instances).toHaveLength(3);
  };

  it('a malformed watch line: stale with last-known-good and a clear error, then resumes', async () => {
    const mark = events.length;
    fake.injectWatchLine('endpointslices', '{"type":"MODIFIED","object":{"metadata":\n');
    await staleThenOk(mark, /malformed watch event from \/apis\/discovery\.k8s\.io\/v1\/namespaces\/many\/endpointslices/);
    await vi.waitFor(() => expect(store.source('big')?.state).toBe('ok'), { timeout: 20_000 });
    // Still following changes.
    fake.put('endpointslices', sliceOf(40, 0));
    await vi.waitFor(() => expect(store.service(`big/${NS}/svc-40`)?.instances[0]?.health).toBe('critical'), { timeout: 10_000 });
  });

  it('a watch line beyond the limit is dropped unbuffered: stale with last-known-good, then resumes', async () => {
    const mark = events.length;
    const before = process.memoryUsage().arrayBuffers;
    // 4 MiB without a newline, far beyond the 64 KiB limit.
    fake.injectWatchLine('pods', Buffer.alloc(4 * 2 ** 20, 'a'));
    await staleThenOk(mark, /watch event from \/api\/v1\/namespaces\/many\/pods exceeds 65536 bytes/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 2 ** 20);
    await vi.waitFor(() => expect(store.source('big')?.state).toBe('ok'), { timeout: 20_000 });
  });

  it('a huge or malformed list body: stale with last-known-good and a clear error, recovers when the upstream does', async () => {
    for (const [body, error] of [
      [Buffer.alloc(2 * 2 ** 20, ' '), /response from \/api\/v1\/namespaces\/many\/services exceeds 256 KiB|exceeds 262144 bytes/],
      ['{"kind":"ServiceList","items":[{"metadata":', /malformed list response from \/api\/v1\/namespaces\/many\/services/],
    ] as const) {
      const mark = events.length;
      fake.sabotageList('services', body);
      // Force a relist: watches cut, a change, history compacted → the resumed watch gets 410 → list.
      fake.dropWatches();
      fake.put('pods', { metadata: { name: 'stray', namespace: NS, labels: { app: String(mark) } } });
      fake.compact();
      await staleThenOk(mark, error);
      fake.sabotageList('services', null);
      await vi.waitFor(() => expect(store.source('big')?.state).toBe('ok'), { timeout: 30_000 });
      expect(store.service(`big/${NS}/svc-0`)?.instances).toHaveLength(3);
    }
  }, 90_000);
});

describe('a large cluster is listed before its pods are read (fake API server)', () => {
  it('lists every Service with its endpoints\' counts as pending, then its instances with their pods\' labels; nothing goes to xDS meanwhile', async () => {
    const big = await startFakeKubeApiServer();
    const NS = 'wide';
    const SERVICES = 12;
    for (let s = 0; s < SERVICES; s++) {
      big.put('services', { metadata: { name: `w-${s}`, namespace: NS }, spec: { selector: { app: `w-${s}` } } });
      for (let e = 0; e < 4; e++) big.put('pods', { metadata: { name: `w-${s}-${e}`, namespace: NS, labels: { app: `w-${s}`, color: e < 2 ? 'blue' : 'green' } } });
      big.put('endpointslices', {
        metadata: { name: `w-${s}-a`, namespace: NS, labels: { 'kubernetes.io/service-name': `w-${s}` } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        // One not-ready endpoint per Service: the counts say 3 passing, 1 critical.
        endpoints: Array.from({ length: 4 }, (_, e) => ({ addresses: [`10.2.${s}.${e + 1}`], conditions: { ready: e !== 3 }, targetRef: { kind: 'Pod', name: `w-${s}-${e}`, namespace: NS } })),
      });
    }
    const releasePods = big.holdLists('pods');
    // 48 endpoints: above a threshold of 10, so the pods are read after the listing.
    const source = new KubernetesSource({ name: 'wide', kubeconfig: writeKubeconfig(dir, big.url, big.token, { insecure: true }), context: null, inCluster: false, namespaces: [NS] }, undefined, { summaryFirstAbove: 10 });
    const store = new TopologyStore();
    store.addSource({ id: 'wide', kind: 'kubernetes', name: 'wide', address: source.address });
    source.start((e) => store.apply('wide', e));
    try {
      await vi.waitFor(() => expect(store.source('wide')?.state).toBe('ok'), { timeout: 20_000 });
      expect(store.source('wide')?.detail).toMatch(/reading pod labels/);
      expect(store.pendingCount).toBe(SERVICES);
      expect(store.isPending(`wide/${NS}/w-5`)).toBe(true);
      expect(store.summary(`wide/${NS}/w-5`)?.counts).toEqual({ passing: 3, warning: 0, critical: 1, unknown: 0 });
      expect(store.service(`wide/${NS}/w-5`)?.instances).toEqual([]);

      releasePods();
      await vi.waitFor(() => expect(store.pendingCount).toBe(0), { timeout: 20_000 });
      const svc = store.service(`wide/${NS}/w-5`)!;
      expect(svc.instances).toHaveLength(4);
      expect(svc.instances.map((i) => i.tags.find((t) => t.startsWith('color='))).sort()).toEqual(['color=blue', 'color=blue', 'color=green', 'color=green']);
      expect(store.summary(`wide/${NS}/w-5`)?.counts).toEqual({ passing: 3, warning: 0, critical: 1, unknown: 0 });
      expect(store.source('wide')?.detail ?? '').not.toMatch(/reading pod labels/);
    } finally {
      releasePods();
      await source.stop();
      await big.stop();
    }
  });
});
