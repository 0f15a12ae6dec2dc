/**
 * Mesh route weights on a real kube-apiserver 1.20.2: minimal CRDs for Gateway API HTTPRoutes
 * (v1 + v1beta1) and Istio VirtualServices (v1beta1), installed here (the API server only stores
 * and validates what they declare; no mesh runs). Services bound to a route with the annotation
 * `switchboard.dev/route` get their policy's weights written to it by flips and canaries made
 * through Switchboard's REST API as an operator; an edited route gets 409, RBAC refusals and
 * missing CRDs or routes are named, and the weights read back appear in the traffic view.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the assertions read JSON answers loosely */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadKubeConfig } from '../../clients/kubernetes/kubeConfig';
import type { Switchboard } from '../../server/switchboard';
import { KubernetesTrafficStore } from '../../server/traffic/kubernetesTrafficStore';
import { startFromConfig } from '../support/controlPlane';
import { startKubeApiServer, type KubeApiServer } from '../support/kubeApiServer';
import { pod, service, slice, writeKubeconfig } from '../support/kubernetesSuite';

let api: KubeApiServer & { [Symbol.asyncDispose](): Promise<void> };
let sb: Switchboard;
let base: string;
const dir = mkdtempSync(join(tmpdir(), 'sb-k8s-mesh-'));
const op = { authorization: 'Bearer op-token', 'content-type': 'application/json' };
const HTTPROUTES = '/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes';
const VIRTUALSERVICES = '/apis/networking.istio.io/v1beta1/namespaces/shop/virtualservices';

// ── Minimal CRDs: structural schemas with just the fields the routes use ────────────────────

const preserve = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
const httpRouteSchema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        parentRefs: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, namespace: { type: 'string' } } } },
        hostnames: { type: 'array', items: { type: 'string' } },
        rules: {
          type: 'array',
          maxItems: 16,
          items: {
            type: 'object',
            properties: {
              matches: { type: 'array', items: preserve },
              backendRefs: {
                type: 'array',
                maxItems: 16,
                items: {
                  type: 'object',
                  required: ['name'],
                  properties: {
                    group: { type: 'string' }, kind: { type: 'string' }, name: { type: 'string', minLength: 1 }, namespace: { type: 'string' },
                    port: { type: 'integer', minimum: 1, maximum: 65535 }, weight: { type: 'integer', minimum: 0, maximum: 1000000 },
                  },
                },
              },
            },
          },
        },
      },
    },
    status: preserve,
  },
};
const virtualServiceSchema = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      properties: {
        hosts: { type: 'array', items: { type: 'string' } },
        gateways: { type: 'array', items: { type: 'string' } },
        http: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              match: { type: 'array', items: preserve },
              route: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    destination: { type: 'object', required: ['host'], properties: { host: { type: 'string' }, subset: { type: 'string' }, port: { type: 'object', properties: { number: { type: 'integer' } } } } },
                    weight: { type: 'integer', minimum: 0, maximum: 100 },
                  },
                },
              },
            },
          },
        },
      },
    },
    status: preserve,
  },
};

function crd(group: string, plural: string, kind: string, versions: string[], schema: unknown) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    // *.k8s.io groups are protected: the real Gateway API CRDs carry this approval too.
    metadata: { name: `${plural}.${group}`, ...(group.endsWith('.k8s.io') ? { annotations: { 'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api/pull/2466' } } : {}) },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
      versions: versions.map((name, i) => ({ name, served: true, storage: i === 0, schema: { openAPIV3Schema: schema }, subresources: { status: {} } })),
    },
  };
}

async function installCrd(body: ReturnType<typeof crd>, listPath: string): Promise<void> {
  const created = await api.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  await vi.waitFor(async () => {
    const got = (await api.call('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${body.metadata.name}`)).body as any;
    expect(got.status?.conditions?.find((c: any) => c.type === 'Established')?.status).toBe('True');
    expect((await api.call('GET', listPath)).status).toBe(200);
  }, { timeout: 30_000, interval: 250 });
}

// ── Helpers ─────────────────────────────────────────────────────────────────────────────────

const route = async (path: string, name: string) => (await api.call('GET', `${path}/${name}`)).body as any;
const httpWeights = async (name: string) => (await route(HTTPROUTES, name)).spec.rules.map((r: any) => r.backendRefs.map((b: any) => [b.name, b.weight]));
const policyOn = async (svc: string) => JSON.parse(((await api.call('GET', `/api/v1/namespaces/shop/services/${svc}`)).body as any).metadata.annotations['switchboard.dev/traffic']);
const traffic = (svc: string, path = '') => `${base}/api/services/k8s/shop/${svc}/traffic${path}`;
async function send(method: string, url: string, body: unknown = {}, headers: Record<string, string> = op): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { method, headers, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}
const view = async (svc: string) => (await (await fetch(traffic(svc), { headers: op })).json()) as any;

async function fleet(svc: string, n: number, annotations: Record<string, string>): Promise<void> {
  for (const [i, color] of [[1, 'blue'], [2, 'blue'], [3, 'green']] as const) {
    expect((await api.call('POST', '/api/v1/namespaces/shop/pods', pod(`${svc}-${i}`, { app: svc, color }))).status).toBe(201);
  }
  const main = service(svc);
  (main.metadata as any).annotations = annotations;
  expect((await api.call('POST', '/api/v1/namespaces/shop/services', main)).status).toBe(201);
  // One Service per subset: what the route's backends point at.
  for (const color of ['blue', 'green']) {
    const sub = service(`${svc}-${color}`);
    (sub.spec as any).selector = { app: svc, color };
    expect((await api.call('POST', '/api/v1/namespaces/shop/services', sub)).status).toBe(201);
  }
  const endpoints = [1, 2, 3].map((i) => ({ ip: `192.0.2.${n * 10 + i}`, ready: true, pod: `${svc}-${i}` }));
  expect((await api.call('POST', '/apis/discovery.k8s.io/v1beta1/namespaces/shop/endpointslices', slice(`${svc}-abc`, svc, endpoints, 'v1beta1'))).status).toBe(201);
}

const paymentRoute = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'payment', namespace: 'shop' },
  spec: {
    parentRefs: [{ name: 'edge' }],
    hostnames: ['pay.example.com'],
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'payment-blue', port: 80, weight: 1 }, { name: 'payment-green', port: 80, weight: 1 }, { name: 'audit-sink', port: 80, weight: 0 }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/static' } }], backendRefs: [{ name: 'cdn', port: 80 }] },
    ],
  },
};

beforeAll(async () => {
  api = (await startKubeApiServer()) as typeof api;
  expect((await api.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } })).status).toBe(201);
  expect((await api.call('POST', '/api/v1/namespaces/shop/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } })).status).toBe(201);
  await installCrd(crd('gateway.networking.k8s.io', 'httproutes', 'HTTPRoute', ['v1', 'v1beta1'], httpRouteSchema), HTTPROUTES);
  expect((await api.call('POST', HTTPROUTES, paymentRoute)).status).toBe(201);
  await fleet('payment', 1, { 'switchboard.dev/route': 'httproute/payment' });
  await fleet('ship', 2, { 'switchboard.dev/route': 'virtualservice/ship' });
  await fleet('cart', 3, { 'switchboard.dev/route': 'httproute/cart-missing' });
  ({ sb, base } = await startFromConfig({
    embedded: { enabled: false },
    sources: [{ kind: 'kubernetes', name: 'k8s', kubeconfig: writeKubeconfig(dir, api.url, api.adminToken, { ca: api.ca }), namespaces: ['shop'] }],
    auth: { anonymousRole: null, users: [{ name: 'op', role: 'operator', token: 'op-token' }] },
  }));
  for (const svc of ['payment', 'ship', 'cart']) {
    await vi.waitFor(() => expect(sb.store.service(`k8s/shop/${svc}`)?.instances.filter((i) => i.health === 'passing')).toHaveLength(3), { timeout: 30_000 });
  }
}, 600_000);

afterAll(async () => {
  await sb?.close();
  await api?.[Symbol.asyncDispose]();
});

describe('HTTPRoute weights through the traffic API', () => {
  it('enable, flip and canary change the route objects; other backends and rules keep theirs', async () => {
    expect((await send('POST', traffic('payment', '/enable'))).status).toBe(200);
    expect(await httpWeights('payment')).toEqual([[['payment-blue', 100], ['payment-green', 0], ['audit-sink', 0]], [['cdn', undefined]]]);

    const flipped = await send('POST', traffic('payment', '/flip'));
    expect(flipped.status).toBe(200);
    expect(flipped.body.meshRoute).toMatchObject({ kind: 'HTTPRoute', namespace: 'shop', name: 'payment', weights: { blue: 0, green: 100 }, inSync: true, writtenBy: 'op' });
    expect(await httpWeights('payment')).toEqual([[['payment-blue', 0], ['payment-green', 100], ['audit-sink', 0]], [['cdn', undefined]]]);

    const canary = await send('PUT', traffic('payment'), { weights: { blue: 90, green: 10 }, reason: 'canary back' });
    expect(canary.status).toBe(200);
    expect(await httpWeights('payment')).toEqual([[['payment-blue', 90], ['payment-green', 10], ['audit-sink', 0]], [['cdn', undefined]]]);
    expect(await policyOn('payment')).toMatchObject({ weights: { blue: 90, green: 10 } });
    const stored = await route(HTTPROUTES, 'payment');
    expect(stored.spec.hostnames).toEqual(['pay.example.com']);
    expect(JSON.parse(stored.metadata.annotations['switchboard.dev/route-weights'])).toEqual({ payment: { weights: { blue: 90, green: 10 }, at: expect.any(String), by: 'op' } });
  });

  it('shows the weights read back from the route in the traffic view (what the panel shows)', async () => {
    const v = await view('payment');
    expect(v.meshRoute).toEqual({
      kind: 'HTTPRoute', namespace: 'shop', name: 'payment', apiVersion: 'gateway.networking.k8s.io/v1',
      backends: { blue: 'payment-blue', green: 'payment-green' }, weights: { blue: 90, green: 10 }, inSync: true,
      writtenAt: v.policy.updatedAt, writtenBy: 'op',
    });
  });

  it('a route edited by someone else gets 409 naming it; nothing is written; removing the record lets Switchboard take it over', async () => {
    const edited = structuredClone(paymentRoute.spec.rules) as { backendRefs: { weight?: number }[] }[];
    edited[0]!.backendRefs[0]!.weight = 50;
    edited[0]!.backendRefs[1]!.weight = 50;
    expect((await api.call('PATCH', `${HTTPROUTES}/payment`, { spec: { rules: edited } }, 'application/merge-patch+json')).status).toBe(200);
    expect((await view('payment')).meshRoute).toMatchObject({ weights: { blue: 50, green: 50 }, inSync: false });

    const refused = await send('PUT', traffic('payment'), { weights: { blue: 80, green: 20 } });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatch(/^HTTPRoute shop\/payment was changed outside Switchboard: spec\.rules\[0\] now gives blue 50 \/ green 50, where Switchboard last wrote blue 90 \/ green 10 \(op, .*\)\. Nothing was written\./);
    expect(refused.body.current).toMatchObject({ policy: { weights: { blue: 90, green: 10 } }, meshRoute: { weights: { blue: 50, green: 50 }, inSync: false } });
    expect(await httpWeights('payment')).toEqual([[['payment-blue', 50], ['payment-green', 50], ['audit-sink', 0]], [['cdn', undefined]]]);
    expect(await policyOn('payment')).toMatchObject({ weights: { blue: 90, green: 10 } });
    const history = (await (await fetch(traffic('payment', '/history'), { headers: op })).json()) as any[];
    expect(history[0]).toMatchObject({ outcome: 'rejected', error: expect.stringContaining('HTTPRoute shop/payment was changed outside Switchboard') });

    const unrecord = { metadata: { annotations: { 'switchboard.dev/route-weights': null } } };
    expect((await api.call('PATCH', `${HTTPROUTES}/payment`, unrecord, 'application/merge-patch+json')).status).toBe(200);
    expect((await send('PUT', traffic('payment'), { weights: { blue: 80, green: 20 } })).status).toBe(200);
    expect(await httpWeights('payment')).toEqual([[['payment-blue', 80], ['payment-green', 20], ['audit-sink', 0]], [['cdn', undefined]]]);
  });

  it('a route changed between Switchboard reading and writing it: 409 from the API server, the policy is not written', async () => {
    const kc = loadKubeConfig({ kubeconfig: writeKubeconfig(dir, api.url, api.adminToken, { ca: api.ca }) });
    const store = new KubernetesTrafficStore(kc, 20, 20, {
      beforeReplace: async () => {
        expect((await api.call('PATCH', `${HTTPROUTES}/payment`, { metadata: { labels: { touched: 'yes' } } }, 'application/merge-patch+json')).status).toBe(200);
      },
    });
    const before = await store.get('shop', 'payment');
    const next = { ...before.policy!, weights: { blue: 70, green: 30 }, updatedBy: 'race' };
    const result = await store.put('shop', 'payment', next, before.modifyIndex);
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/^HTTPRoute shop\/payment was changed by someone else while Switchboard was writing it \(it is no longer at resourceVersion \d+\)\. Nothing was written/) });
    expect(await httpWeights('payment')).toEqual([[['payment-blue', 80], ['payment-green', 20], ['audit-sink', 0]], [['cdn', undefined]]]);
    expect(await policyOn('payment')).toMatchObject({ weights: { blue: 80, green: 20 } });
  });
  it('another policy change landing while the route is written: the route is put back and the operator gets the conflict', async () => {
    const kc = loadKubeConfig({ kubeconfig: writeKubeconfig(dir, api.url, api.adminToken, { ca: api.ca }) });
    const before = await route(HTTPROUTES, 'payment');
    let revision = '';
    const store = new KubernetesTrafficStore(kc, 20, 20, {
      beforeReplace: async () => {
        // Another replica's write: the policy's revision moves on.
        revision = String(Number(((await api.call('GET', '/api/v1/namespaces/shop/services/payment')).body as any).metadata.annotations['switchboard.dev/traffic-revision']) + 1);
        const moved = { metadata: { annotations: { 'switchboard.dev/traffic-revision': revision } } };
        expect((await api.call('PATCH', '/api/v1/namespaces/shop/services/payment', moved, 'application/merge-patch+json')).status).toBe(200);
      },
    });
    const stored = await store.get('shop', 'payment');
    const result = await store.put('shop', 'payment', { ...stored.policy!, weights: { blue: 60, green: 40 }, updatedBy: 'late' }, stored.modifyIndex);
    expect(result).toMatchObject({ ok: false, current: { modifyIndex: Number(revision) }, reason: 'another change landed first; HTTPRoute shop/payment was put back as it was' });
    const after = await route(HTTPROUTES, 'payment');
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata.annotations).toEqual(before.metadata.annotations);
  });
});

describe('RBAC', () => {
  const grant = async (rules: unknown[]) => {
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'switchboard-mesh' }, rules };
    const existing = await api.call('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/switchboard-mesh');
    if (existing.status === 404) {
      expect((await api.call('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', role)).status).toBe(201);
      const binding = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'switchboard-mesh' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'switchboard-mesh' }, subjects: [{ kind: 'User', name: 'limited', apiGroup: 'rbac.authorization.k8s.io' }] };
      expect((await api.call('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding)).status).toBe(201);
    } else {
      expect((await api.call('PUT', '/apis/rbac.authorization.k8s.io/v1/clusterroles/switchboard-mesh', role)).status).toBe(200);
    }
  };
  const read = [
    { apiGroups: [''], resources: ['services', 'pods', 'endpoints'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
  ];

  async function limitedPlane<T>(work: (url: string) => Promise<T>): Promise<T> {
    const limited = await startFromConfig({
      embedded: { enabled: false },
      sources: [{ kind: 'kubernetes', name: 'k8s', kubeconfig: writeKubeconfig(dir, api.url, api.limitedToken, { ca: api.ca }), namespaces: ['shop'] }],
      auth: { anonymousRole: null, users: [{ name: 'op', role: 'operator', token: 'op-token' }] },
    });
    try {
      await vi.waitFor(() => expect(limited.sb.store.service('k8s/shop/payment')?.instances).toHaveLength(3), { timeout: 30_000 });
      return await work(`${limited.base}/api/services/k8s/shop/payment/traffic`);
    } finally {
      await limited.sb.close();
    }
  }

  it('may not update the route: 502 naming the verb and resource; neither route nor policy changes', async () => {
    await grant([...read, { apiGroups: [''], resources: ['services'], verbs: ['patch'] }, { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get'] }]);
    const r = await limitedPlane((url) => send('POST', `${url}/flip`));
    expect(r.status).toBe(502);
    expect(r.body.error).toMatch(/^the registry refused: update HTTPRoute shop\/payment: forbidden by Kubernetes RBAC \(HTTP 403: .*cannot update resource "httproutes" in API group "gateway.networking.k8s.io".*\); Switchboard's identity needs get and update on httproutes.gateway.networking.k8s.io in namespace shop$/);
    expect(await httpWeights('payment')).toEqual([[['payment-blue', 80], ['payment-green', 20], ['audit-sink', 0]], [['cdn', undefined]]]);
    expect(await policyOn('payment')).toMatchObject({ weights: { blue: 80, green: 20 } });
  });

  it('may not read the route: the traffic view still answers, its meshRoute naming the refusal', async () => {
    await grant(read);
    const v = await limitedPlane(async (url) => (await (await fetch(url, { headers: op })).json()) as any);
    expect(v.policy.weights).toEqual({ blue: 80, green: 20 });
    expect(v.meshRoute).toMatchObject({ kind: 'HTTPRoute', name: 'payment', weights: null, inSync: false, error: expect.stringMatching(/^get HTTPRoute shop\/payment: forbidden by Kubernetes RBAC \(HTTP 403: .*cannot get resource "httproutes"/) });
  });

  it('may update the route but not patch the Service: the route is put back as it was, and the error says so', async () => {
    await grant([...read, { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: ['get', 'update'] }]);
    const before = await route(HTTPROUTES, 'payment');
    const r = await limitedPlane((url) => send('POST', `${url}/flip`));
    expect(r.status).toBe(502);
    expect(r.body.error).toMatch(/^the registry refused: PATCH service shop\/payment: HTTP 403: .*cannot patch resource "services".*; HTTPRoute shop\/payment was put back as it was$/);
    const after = await route(HTTPROUTES, 'payment');
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata.annotations).toEqual(before.metadata.annotations);
    expect(await policyOn('payment')).toMatchObject({ weights: { blue: 80, green: 20 } });
  });
});

describe('VirtualService weights, missing CRDs and routes', () => {
  it('a Service bound to a kind the cluster does not serve: 400 naming it, nothing written', async () => {
    const r = await send('POST', traffic('ship', '/enable'));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('the cluster does not serve VirtualService (virtualservices.networking.istio.io, versions v1, v1beta1, v1alpha3): install its CRD, or remove the annotation switchboard.dev/route from the Service');
    expect(((await api.call('GET', '/api/v1/namespaces/shop/services/ship')).body as any).metadata.annotations['switchboard.dev/traffic']).toBeUndefined();
  });

  it('once the CRD and route exist, enable, flip and canary write the destinations (DestinationRule subsets)', async () => {
    await installCrd(crd('networking.istio.io', 'virtualservices', 'VirtualService', ['v1beta1'], virtualServiceSchema), VIRTUALSERVICES);
    const vs = {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: 'ship', namespace: 'shop' },
      spec: { hosts: ['ship'], http: [{ name: 'main', route: [{ destination: { host: 'ship', subset: 'blue' }, weight: 100 }, { destination: { host: 'ship.shop.svc.cluster.local', subset: 'green' }, weight: 0 }] }] },
    };
    expect((await api.call('POST', VIRTUALSERVICES, vs)).status).toBe(201);
    const destinations = async () => (await route(VIRTUALSERVICES, 'ship')).spec.http[0].route.map((d: any) => [d.destination.subset, d.weight]);

    expect((await send('POST', traffic('ship', '/enable'))).status).toBe(200);
    expect((await send('POST', traffic('ship', '/flip'))).status).toBe(200);
    expect(await destinations()).toEqual([['blue', 0], ['green', 100]]);
    expect((await send('PUT', traffic('ship'), { weights: { blue: 75, green: 25 } })).status).toBe(200);
    expect(await destinations()).toEqual([['blue', 75], ['green', 25]]);
    expect((await view('ship')).meshRoute).toMatchObject({
      kind: 'VirtualService', name: 'ship', apiVersion: 'networking.istio.io/v1beta1',
      backends: { blue: 'ship subset blue', green: 'ship.shop.svc.cluster.local subset green' }, weights: { blue: 75, green: 25 }, inSync: true,
    });
  });

  it('a Service bound to a route that does not exist: 400 naming the route', async () => {
    const r = await send('POST', traffic('cart', '/enable'));
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('HTTPRoute shop/cart-missing does not exist (named by annotation switchboard.dev/route on service shop/cart)');
  });
});
