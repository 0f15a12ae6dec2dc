/**
 * The SDK's Kubernetes mode against the fake API server (EndpointSlice v1): ready endpoints of
 * one Service become instances with their pods' labels, the `switchboard.dev/traffic`
 * annotation splits calls to real HTTP instances by weight, a flip (annotation rewritten) moves
 * every call, and an endpoint turning not-ready gets no new requests.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ServiceClient } from '../../sdk/serviceClient';
import { startFromConfig } from '../support/controlPlane';
import { startFakeKubeApiServer, type FakeKubeApiServer, type KubeObject } from '../support/fakeKubeApiServer';
import { pod, service, writeKubeconfig } from '../support/kubernetesSuite';
import { LocalServers } from '../support/localServers';

let fake: FakeKubeApiServer;
let kubeconfig: string;
let client: ServiceClient;
const servers = new LocalServers();
const ports: Record<string, number> = {};

const sliceFor = (name: string, port: number, ready: boolean) =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `web-${name}`, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready }, targetRef: { kind: 'Pod', name, namespace: 'shop' } }],
  }) as unknown as KubeObject;

const policy = (weights: Record<string, number>) =>
  JSON.stringify({ version: 1, subsets: { blue: { tags: ['color=blue'] }, green: { tags: ['color=green'] } }, weights, drain: [], updatedAt: new Date().toISOString(), updatedBy: 'test', reason: '' });

const annotate = (weights: Record<string, number>) =>
  fake.put('services', { ...(service('web') as unknown as KubeObject), metadata: { name: 'web', namespace: 'shop', annotations: { 'switchboard.dev/traffic': policy(weights) } } });

async function calls(n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const { response } = await client.request('/');
    const id = await response.text();
    seen[id] = (seen[id] ?? 0) + 1;
  }
  return seen;
}

beforeAll(async () => {
  fake = await startFakeKubeApiServer();
  for (const [name, color] of [['b1', 'blue'], ['g1', 'green']] as const) {
    ports[name] = (await servers.start((_req, res) => res.end(name))).port;
    fake.put('pods', pod(name, { app: 'web', color }) as unknown as KubeObject);
    fake.put('endpointslices', sliceFor(name, ports[name]!, true));
  }
  annotate({ blue: 80, green: 20 });
  kubeconfig = writeKubeconfig(mkdtempSync(join(tmpdir(), 'sb-sdk-k8s-')), fake.url, fake.token, { insecure: true });
  client = new ServiceClient({ kubernetes: { kubeconfig, namespace: 'shop' }, service: 'web' });
  await client.ready();
});

afterAll(async () => {
  await client?.close();
  await fake?.stop();
  servers.closeAll();
});

describe('ServiceClient in Kubernetes mode', () => {
  it('reads ready endpoints with pod labels as tags and splits calls by the annotation', async () => {
    await vi.waitFor(() => expect(client.view().endpoints).toHaveLength(2), { timeout: 10_000 });
    expect(client.view().endpoints.find((e) => e.port === ports.g1)?.tags).toEqual(['app=web', 'color=green']);
    expect(client.view().policy?.weights).toEqual({ blue: 80, green: 20 });
    expect(await calls(100)).toEqual({ b1: 80, g1: 20 });
  });

  it('follows a flip written to the annotation', async () => {
    annotate({ blue: 0, green: 100 });
    await vi.waitFor(() => expect(client.view().policy?.weights).toEqual({ blue: 0, green: 100 }), { timeout: 10_000 });
    expect(await calls(10)).toEqual({ g1: 10 });
  });

  it('sends nothing new to an endpoint that turns not-ready', async () => {
    annotate({ blue: 50, green: 50 });
    fake.put('endpointslices', sliceFor('g1', ports.g1!, false));
    await vi.waitFor(() => expect(client.view().endpoints.map((e) => e.port)).toEqual([ports.b1]), { timeout: 10_000 });
    expect(await calls(6)).toEqual({ b1: 6 });
  });

  it('lets the control plane’s gateway route to a Kubernetes service the same way', async () => {
    const { sb, base } = await startFromConfig({ sources: [{ kind: 'kubernetes', name: 'k8s', kubeconfig, namespaces: ['shop'] }], auth: { anonymousRole: null, users: [{ name: 'svc', role: 'client', token: 'client-token' }] } });
    try {
      await vi.waitFor(() => expect(sb.store.service('k8s/shop/web')).toBeDefined(), { timeout: 10_000 });
      const r = await fetch(`${base}/gw/web/`, { headers: { authorization: 'Bearer client-token' } });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('b1');
      expect(r.headers.get('x-switchboard-subset')).toBe('blue');
      expect(r.headers.get('x-switchboard-service')).toBe('k8s/shop/web');
    } finally {
      await sb.close();
    }
  });
});
