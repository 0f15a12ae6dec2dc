/**
 * Rollouts on a real kube-apiserver 1.20.2: the rollout lives in the Service annotation
 * `switchboard.dev/rollout` (resourceVersion-guarded), the weights in `switchboard.dev/traffic`,
 * and two control-plane replicas elect a leader with the coordination.k8s.io/v1 Lease
 * `switchboard-leader`. A good canary goes to 100 % (and the final step patches the selector as
 * a flip does); the leader dying mid-rollout hands it to the other replica at the same step.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the assertions read JSON answers loosely */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { drainId } from '../../protocol/traffic';
import { fromRaw } from '../../server/config/loadConfig';
import { createLogger } from '../../server/log';
import { createSwitchboard, type Switchboard } from '../../server/switchboard';
import { newHistogram, recordLatency } from '../../sdk/latencyHistogram';
import { startKubeApiServer, type KubeApiServer } from '../support/kubeApiServer';
import { pod, service, slice, writeKubeconfig } from '../support/kubernetesSuite';

interface Replica {
  name: string;
  sb: Switchboard;
  base: string;
  closed: boolean;
}

let api: KubeApiServer & { [Symbol.asyncDispose](): Promise<void> };
const replicas: Replica[] = [];
const dir = mkdtempSync(join(tmpdir(), 'sb-k8s-rollout-'));
const alice = { authorization: 'Bearer alice-token', 'content-type': 'application/json' };
const SERVICES = ['pay', 'ship'];
const totals = new Map<string, { requests: number; errors: number; latency: number[] }>();
let feeding: NodeJS.Timeout | null = null;

async function startReplica(name: string): Promise<Replica> {
  const kubeconfig = writeKubeconfig(dir, api.url, api.adminToken, { ca: api.ca });
  const config = fromRaw(
    {
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: mkdtempSync(join(tmpdir(), 'sb-rollout-')),
      embedded: { enabled: false },
      sources: [{ kind: 'kubernetes', name: 'k8s', kubeconfig, namespaces: ['shop'] }],
      auth: { anonymousRole: null, users: [{ name: 'alice', role: 'operator', token: 'alice-token' }, { name: 'sdk', role: 'client', token: 'sdk-token' }] },
    },
    { file: null, env: {}, cwd: process.cwd() },
  );
  const sb = createSwitchboard({ config, logger: createLogger({ level: 'silent' }), rollouts: { pollMs: 200, ttlSeconds: 5, identity: name } });
  return { name, sb, base: `http://127.0.0.1:${await sb.listen()}`, closed: false };
}

function feed(): void {
  const live = replicas.filter((r) => !r.closed);
  for (const svc of SERVICES) {
    const topo = live[0]?.sb.store.service(`k8s/shop/${svc}`);
    if (!topo) continue;
    const instances = topo.instances.map((i) => {
      const id = drainId(i.id);
      const t = totals.get(`${svc}/${id}`) ?? { requests: 0, errors: 0, latency: newHistogram() };
      t.requests += 40;
      for (let n = 0; n < 40; n++) recordLatency(t.latency, 15);
      totals.set(`${svc}/${id}`, t);
      return { id, breaker: 'closed' as const, requests: t.requests, errors: t.errors, latency: [...t.latency] };
    });
    for (const r of live) {
      void fetch(`${r.base}/api/telemetry`, { method: 'POST', headers: { authorization: 'Bearer sdk-token', 'content-type': 'application/json' }, body: JSON.stringify({ clientId: `web-${svc}`, caller: 'web', service: svc, instances }) }).catch(() => undefined);
    }
  }
}

const annotation = async (svc: string, key: string) => {
  const body = (await api.call('GET', `/api/v1/namespaces/shop/services/${svc}`)).body as any;
  const raw = body.metadata?.annotations?.[key];
  return raw ? JSON.parse(raw) : null;
};
const leader = () => replicas.find((r) => !r.closed && r.sb.rolloutController.status('k8s').mode === 'leader');
const analysis = { interval: '1s', minRequests: 20, failureLimit: 2 };

beforeAll(async () => {
  api = (await startKubeApiServer()) as typeof api;
  expect((await api.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } })).status).toBe(201);
  expect((await api.call('POST', '/api/v1/namespaces/shop/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } })).status).toBe(201);
  for (const [n, svc] of SERVICES.entries()) {
    for (const [i, color] of [[1, 'blue'], [2, 'blue'], [3, 'green']] as const) {
      expect((await api.call('POST', '/api/v1/namespaces/shop/pods', pod(`${svc}-${i}`, { app: svc, color }))).status).toBe(201);
    }
    expect((await api.call('POST', '/api/v1/namespaces/shop/services', service(svc))).status).toBe(201);
    const endpoints = [1, 2, 3].map((i) => ({ ip: `192.0.2.${n * 10 + i}`, ready: true, pod: `${svc}-${i}` }));
    expect((await api.call('POST', '/apis/discovery.k8s.io/v1beta1/namespaces/shop/endpointslices', slice(`${svc}-abc`, svc, endpoints, 'v1beta1'))).status).toBe(201);
  }
  replicas.push(await startReplica('replica-a'), await startReplica('replica-b'));
  for (const r of replicas) await vi.waitFor(() => expect(SERVICES.every((s) => r.sb.store.service(`k8s/shop/${s}`)?.instances.filter((i) => i.health === 'passing').length === 3)).toBe(true), { timeout: 30_000 });
  await vi.waitFor(() => expect(replicas.map((r) => r.sb.rolloutController.status('k8s'))).toContainEqual(expect.objectContaining({ mode: 'leader' })), { timeout: 30_000 });
  feeding = setInterval(feed, 200);
}, 600_000);

afterAll(async () => {
  if (feeding) clearInterval(feeding);
  for (const r of replicas) if (!r.closed) await r.sb.close();
  await api?.[Symbol.asyncDispose]();
});

describe('rollouts on a real kube-apiserver', () => {
  it('elects one leader with the Lease switchboard-leader', async () => {
    expect(replicas.map((r) => r.sb.rolloutController.status('k8s').mode).sort()).toEqual(['follower', 'leader']);
    const lease = (await api.call('GET', '/apis/coordination.k8s.io/v1/namespaces/shop/leases/switchboard-leader')).body as any;
    expect(lease.spec).toMatchObject({ holderIdentity: leader()!.name, leaseDurationSeconds: 5 });
  });

  it('takes a good canary to 100 % through the annotations, and the last step moves the selector', async () => {
    const r = replicas[0]!;
    const started = await fetch(`${r.base}/api/services/k8s/shop/pay/rollout`, { method: 'PUT', headers: alice, body: JSON.stringify({ steps: [{ weight: 20, pause: '1s' }, { weight: 100 }], analysis }) });
    expect(started.status).toBe(200);
    expect(await annotation('pay', 'switchboard.dev/traffic')).toMatchObject({ weights: { 'blue': 80, 'green': 20 } });
    await vi.waitFor(async () => expect(await annotation('pay', 'switchboard.dev/rollout')).toMatchObject({ state: 'Promoted', applied: 100 }), { timeout: 60_000, interval: 250 });
    expect(await annotation('pay', 'switchboard.dev/traffic')).toMatchObject({ weights: { blue: 0, green: 100 } });
    const svc = (await api.call('GET', '/api/v1/namespaces/shop/services/pay')).body as any;
    expect(svc.spec.selector).toEqual({ app: 'pay', color: 'green' });
  });

  it('a leader that dies mid-rollout is replaced via the Lease; the rollout continues from the same step', async () => {
    const first = leader()!;
    const other = replicas.find((r) => r !== first)!;
    const started = await fetch(`${other.base}/api/services/k8s/shop/ship/rollout`, { method: 'PUT', headers: alice, body: JSON.stringify({ steps: [{ weight: 10, pause: '1s' }, { weight: 30 }, { weight: 100 }], analysis }) });
    expect(started.status).toBe(200);
    await vi.waitFor(async () => expect(await annotation('ship', 'switchboard.dev/rollout')).toMatchObject({ step: 2, applied: 30 }), { timeout: 60_000, interval: 250 });
    await first.sb.rolloutController.stop({ release: false });
    first.closed = true;
    await first.sb.close();
    await vi.waitFor(() => expect(other.sb.rolloutController.status('k8s')).toMatchObject({ mode: 'leader', holder: other.name }), { timeout: 60_000, interval: 250 });
    const promoted = await fetch(`${other.base}/api/services/k8s/shop/ship/rollout/promote`, { method: 'POST', headers: alice });
    expect(promoted.status).toBe(200);
    await vi.waitFor(async () => expect(await annotation('ship', 'switchboard.dev/rollout')).toMatchObject({ state: 'Promoted', applied: 100 }), { timeout: 60_000, interval: 250 });
  });
});
