/**
 * Switchboard as an xDS control plane on top of each registry it watches — a real Consul
 * 1.8.7 agent, the embedded registry, a real kube-apiserver 1.20 — with the whole control plane
 * (config `xds`), real gRPC payment servers registered in the registry, and two real
 * @grpc/grpc-js-xds clients in child processes dialing `xds:///payment`.
 *
 * Per registry, one control plane for every step: traffic control enabled from the blue/green
 * tags (100/0), a canary 80/20 and a flip to 0/100 PUT through the REST API by an operator
 * (If-Match: the policy's modifyIndex), an instance drained through the REST API, another one
 * failing its check in the registry itself. Every call after the first must succeed; the 80/20
 * split must hold within ±3 % over 2,000 calls (> 4 standard deviations). Then the control
 * plane is stopped (calls go on with the last configuration) and started again on the same
 * xDS port (the clients reconnect, resync, and follow the next change).
 */
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPaymentServer, type PaymentServer } from '../../demo/grpc/paymentServer';
import { drainId } from '../../protocol/traffic';
import type { Switchboard } from '../../server/switchboard';
import { startConsulAgent, freePorts, type ConsulAgent } from '../support/consulAgent';
import { startFromConfig } from '../support/controlPlane';
import { startKubeApiServer, type KubeApiServer } from '../support/kubeApiServer';
import { pod, service as kubeService, writeKubeconfig } from '../support/kubernetesSuite';
import { CallerGroup, share, total } from '../support/xdsCallers';

const OPERATOR = { authorization: 'Bearer op-token', 'content-type': 'application/json' };
const MESH_TOKEN = 'mesh-client-token';
const users = [
  { name: 'op', role: 'operator', token: 'op-token' },
  { name: 'mesh', role: 'client', token: MESH_TOKEN },
];
const SERVERS = ['b1', 'b2', 'g1', 'g2'] as const;
type ServerId = (typeof SERVERS)[number];
const colour = (id: string) => (id.startsWith('b') ? 'blue' : 'green');

/** What differs between registries; everything else is the shared scenario below. */
interface Registry {
  /** The payment service's id in the topology. */
  serviceId: string;
  /** Starts the registry (if it is not the control plane's own) and registers the payment servers. */
  setUp(servers: Record<ServerId, PaymentServer>): Promise<void>;
  /** Config for the control plane (xds and auth are added). */
  config(): Record<string, unknown>;
  /** Called once the control plane is up (the embedded registry lives in it). */
  afterStart?(sb: Switchboard): Promise<void>;
  /** The instance's health check fails in the registry. */
  failCheck(id: ServerId): Promise<void>;
  tearDown(): Promise<void>;
}

function meshScenario(name: string, registry: () => Registry): void {
  describe(`xDS over ${name}`, () => {
    const servers = {} as Record<ServerId, PaymentServer>;
    let reg: Registry;
    let xdsPort: number;
    let sb: Switchboard;
    let base: string;
    let group: CallerGroup;

    const start = async () => {
      ({ sb, base } = await startFromConfig({ ...reg.config(), auth: { anonymousRole: null, users }, xds: { port: xdsPort, host: '127.0.0.1' } }));
      await reg.afterStart?.(sb);
      await vi.waitFor(() => expect(sb.store.service(reg.serviceId)?.instances.filter((i) => i.health === 'passing').length).toBeGreaterThanOrEqual(3), { timeout: 30_000, interval: 100 });
    };
    const api = (suffix = '') => `${base}/api/services/${reg.serviceId}/traffic${suffix}`;
    const instanceOf = (id: ServerId) => sb.store.service(reg.serviceId)!.instances.find((i) => i.port === servers[id].port)!;

    /** A change as an operator makes it: read the policy, PUT with If-Match, see it reach the topology (and so xDS). */
    const change = async (body: { weights: Record<string, number>; drain?: string[]; reason: string }) => {
      const current = (await (await fetch(api(), { headers: OPERATOR })).json()) as { modifyIndex: number };
      const r = await fetch(api(), { method: 'PUT', headers: { ...OPERATOR, 'if-match': String(current.modifyIndex) }, body: JSON.stringify(body) });
      expect(r.status, await r.clone().text()).toBe(200);
      await vi.waitFor(() => expect(sb.store.service(reg.serviceId)?.traffic).toMatchObject({ weights: body.weights, ...(body.drain ? { drain: body.drain } : {}) }), { timeout: 20_000, interval: 50 });
    };

    beforeAll(async () => {
      reg = registry();
      for (const id of SERVERS) servers[id] = await startPaymentServer({ instanceId: id });
      [xdsPort] = (await freePorts(1)) as [number];
      await reg.setUp(servers);
      await start();
      await vi.waitFor(
        () => {
          const instances = sb.store.service(reg.serviceId)?.instances ?? [];
          const view = instances.map((i) => `${i.id} ${i.health}: ${i.checks.map((c) => `${c.name} ${c.status} ${c.output.slice(0, 120)}`).join('; ')}`);
          expect(instances.filter((i) => i.health === 'passing').length, `${reg.serviceId}, source ${JSON.stringify(sb.store.source(reg.serviceId.split('/')[0]!))}:\n${view.join('\n')}`).toBe(4);
        },
        { timeout: 30_000, interval: 100 },
      );
      const enabled = await fetch(api('/enable'), { method: 'POST', headers: OPERATOR });
      expect(enabled.status, await enabled.clone().text()).toBe(200);
      expect(await enabled.json()).toMatchObject({ policy: { weights: { blue: 100, green: 0 } } });
      await vi.waitFor(() => expect(sb.store.service(reg.serviceId)?.traffic?.weights).toEqual({ blue: 100, green: 0 }), { timeout: 20_000, interval: 50 });
      group = CallerGroup.start(2, { nodeIdPrefix: `${name.split(' ')[0]!.toLowerCase()}-caller`, xdsPort, token: MESH_TOKEN }, () => sb.xds!);
      await group.answering();
    }, 180_000);

    afterAll(async () => {
      await group?.stop();
      await sb?.close();
      await reg?.tearDown();
      await Promise.all(Object.values(servers).map((s) => s.close()));
    });

    it('every call answered while weights move, an instance drains and another fails its check; down and back up', async () => {
      // 100/0 (from the tags): blue only, both blue instances.
      let counts = await group.sample(300);
      expect(share(counts, 'b')).toBe(1);
      expect(counts.get('b1')).toBeGreaterThan(0);
      expect(counts.get('b2')).toBeGreaterThan(0);

      // Canary 80/20: within ±3 % over 2,000 calls.
      await change({ weights: { blue: 80, green: 20 }, reason: 'canary 20%' });
      counts = await group.sample(1000);
      expect(total(counts)).toBeGreaterThanOrEqual(2000);
      expect(share(counts, 'g')).toBeGreaterThan(0.17);
      expect(share(counts, 'g')).toBeLessThan(0.23);

      // b1 drained through the API: DRAINING, no new calls; the split holds.
      const b1 = drainId(instanceOf('b1').id);
      await change({ weights: { blue: 80, green: 20 }, drain: [b1], reason: 'drain b1' });
      counts = await group.sample(1000);
      expect(counts.get('b1') ?? 0).toBe(0);
      expect(share(counts, 'g')).toBeGreaterThan(0.17);
      expect(share(counts, 'g')).toBeLessThan(0.23);

      // g2's check fails in the registry: UNHEALTHY, no calls; green's share goes to g1.
      await reg.failCheck('g2');
      await vi.waitFor(() => expect(instanceOf('g2').health).toBe('critical'), { timeout: 20_000, interval: 50 });
      counts = await group.sample(500);
      expect(counts.get('g2') ?? 0).toBe(0);
      expect(counts.get('g1')).toBeGreaterThan(0);

      // Flip 0/100: everything on green, i.e. on g1.
      await change({ weights: { blue: 0, green: 100 }, reason: 'flip to green' });
      counts = await group.sample(500);
      expect([...counts.keys()]).toEqual(['g1']);

      // Switchboard stops: the clients keep calling the last configuration.
      await sb.close();
      counts = await group.sample(300, { sync: false });
      expect([...counts.keys()]).toEqual(['g1']);

      // Back on the same xDS port: the clients reconnect, resync, and follow the next flip.
      await start();
      await group.connected();
      // A fresh process re-reads its registry first (a kube-apiserver sharing CI's two cores
      // with another suite can take a while), so the first full set of versions may come late.
      await group.synced(['listener', 'route', 'cluster', 'endpoint'], 90_000);
      await change({ weights: { blue: 100, green: 0 }, reason: 'back to blue' });
      counts = await group.sample(300);
      expect([...counts.keys()]).toEqual(['b2']);

      expect(group.errors()).toEqual([]);
      const mesh = sb.xds!.mesh(reg.serviceId)!;
      expect(mesh.clients.map((c) => c.nodeId).sort()).toEqual(group.callers.map((c) => c.nodeId).sort());
      expect(mesh.clients.every((c) => c.user === 'mesh' && c.nacks.length === 0)).toBe(true);
    }, 240_000);
  });
}

// ---- the registries ----

meshScenario('Consul 1.8.7', () => {
  let agent: ConsulAgent;
  return {
    serviceId: 'prod/dc1/payment',
    async setUp(servers) {
      agent = await startConsulAgent();
      for (const id of SERVERS) {
        await agent.registerService({ ID: `payment-${id}`, Name: 'payment', Address: '127.0.0.1', Port: servers[id].port, Tags: [colour(id)], Check: { CheckID: `payment-${id}-ttl`, TTL: '10m', Status: 'passing' } });
      }
    },
    config: () => ({ embedded: { enabled: false }, sources: [{ kind: 'consul', name: 'prod', address: agent.httpAddr }] }),
    failCheck: (id) => agent.failTtl(`payment-${id}-ttl`, 'payment gRPC check failing'),
    tearDown: async () => agent?.stop(),
  };
});

meshScenario('the embedded registry', () => {
  // The registry lives in the control plane: the same data directory and port across its restart.
  // It recomputes health after a restart (every check starts critical until probed), so the
  // instances carry HTTP readiness checks it probes at once, served here: g2's starts failing.
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-xds-embedded-'));
  let httpPort: number;
  let registry = '';
  let servers: Record<ServerId, PaymentServer>;
  let registered = false;
  const failing = new Set<string>();
  const readiness = createServer((req, res) => res.writeHead(failing.has(req.url!.slice('/ready/'.length)) ? 503 : 200).end());
  return {
    serviceId: 'embedded/dc1/payment',
    async setUp(s) {
      servers = s;
      [httpPort] = (await freePorts(1)) as [number];
      await new Promise<void>((r) => readiness.listen(0, '127.0.0.1', r));
    },
    config: () => ({ dataDir, embedded: { enabled: true, httpPort, dnsPort: 0 } }),
    async afterStart(sb) {
      registry = sb.store.source('embedded')!.address!;
      if (registered) return;
      registered = true;
      const ready = (readiness.address() as AddressInfo).port;
      for (const id of SERVERS) {
        const check = { CheckID: `payment-${id}-ready`, Name: 'readiness', HTTP: `http://127.0.0.1:${ready}/ready/${id}`, Interval: '1s', Timeout: '1s' };
        const r = await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ ID: `payment-${id}`, Name: 'payment', Address: '127.0.0.1', Port: servers[id].port, Tags: [colour(id)], Check: check }) });
        expect(r.status).toBe(200);
      }
    },
    async failCheck(id) {
      failing.add(id);
    },
    tearDown: () => new Promise<void>((r) => readiness.close(() => r())),
  };
});

meshScenario('a real kube-apiserver 1.20', () => {
  let api: KubeApiServer & { [Symbol.asyncDispose](): Promise<void> };
  const dir = mkdtempSync(join(tmpdir(), 'sb-xds-k8s-'));
  let kubeconfig = '';
  // One EndpointSlice per instance: every payment server listens on its own port of 127.0.0.1.
  const sliceOf = (id: ServerId, port: number, ready: boolean) => ({
    apiVersion: 'discovery.k8s.io/v1beta1',
    kind: 'EndpointSlice',
    metadata: { name: `payment-${id}`, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'payment' } },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready }, targetRef: { kind: 'Pod', name: `payment-${id}`, namespace: 'shop' } }],
  });
  let ports = {} as Record<ServerId, number>;
  return {
    serviceId: 'k8s/shop/payment',
    async setUp(servers) {
      api = (await startKubeApiServer()) as typeof api;
      const ok = async (p: Promise<{ status: number; body: unknown }>) => {
        const r = await p;
        expect(r.status, JSON.stringify(r.body)).toBe(201);
      };
      await ok(api.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } }));
      await ok(api.call('POST', '/api/v1/namespaces/shop/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }));
      ports = Object.fromEntries(SERVERS.map((id) => [id, servers[id].port])) as Record<ServerId, number>;
      for (const id of SERVERS) await ok(api.call('POST', '/api/v1/namespaces/shop/pods', pod(`payment-${id}`, { app: 'payment', color: colour(id) })));
      await ok(api.call('POST', '/api/v1/namespaces/shop/services', kubeService('payment')));
      for (const id of SERVERS) await ok(api.call('POST', '/apis/discovery.k8s.io/v1beta1/namespaces/shop/endpointslices', sliceOf(id, ports[id], true)));
      kubeconfig = writeKubeconfig(dir, api.url, api.adminToken, { ca: api.ca });
    },
    config: () => ({ embedded: { enabled: false }, sources: [{ kind: 'kubernetes', name: 'k8s', kubeconfig, namespaces: ['shop'] }] }),
    async failCheck(id) {
      // Readiness fails: the endpoint turns not-ready in its slice, as the endpoint controller would write it.
      const r = await api.call('PATCH', `/apis/discovery.k8s.io/v1beta1/namespaces/shop/endpointslices/payment-${id}`, { endpoints: sliceOf(id, ports[id], false).endpoints }, 'application/merge-patch+json');
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    },
    tearDown: async () => api?.[Symbol.asyncDispose](),
  };
});
