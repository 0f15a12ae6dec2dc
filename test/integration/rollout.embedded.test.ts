/**
 * Rollouts on the embedded registry (one replica through startControlPlane): its KV takes the
 * rollout with `?cas=` like Consul, and leader election uses its sessions — or, where it answers
 * 404 for them, the controller runs single-replica and says so. A good canary is promoted, a
 * failing one is rolled back by itself with the metric, value and threshold in the message.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT, runCli } from '../../cli/switchboardCli';
import { startDemoFleet } from '../../demo/demoFleet';
import { RolloutView } from '../../protocol/rollout';
import { newHistogram, recordLatency } from '../../sdk/latencyHistogram';
import type { Switchboard } from '../../server/switchboard';
import { startControlPlane } from '../support/controlPlane';

let sb: Switchboard;
let base: string;
let registry: string;
const alice = { authorization: 'Bearer alice-token', 'content-type': 'application/json' };
const releases: Record<string, number> = { cart: 0, search: 0.5, wishlist: 0 };
const totals = new Map<string, { requests: number; errors: number; latency: number[] }>();
let feeding: NodeJS.Timeout | null = null;

function feed(): void {
  for (const [service, greenErrors] of Object.entries(releases)) {
    const instances = ['b1', 'g1'].map((suffix) => {
      const id = `${service}-${suffix}`;
      const t = totals.get(id) ?? { requests: 0, errors: 0, latency: newHistogram() };
      t.requests += 50;
      t.errors += suffix === 'g1' ? Math.round(50 * greenErrors) : 0;
      for (let i = 0; i < 50; i++) recordLatency(t.latency, 12);
      totals.set(id, t);
      return { id, breaker: 'closed' as const, requests: t.requests, errors: t.errors, latency: [...t.latency] };
    });
    void fetch(`${base}/api/telemetry`, { method: 'POST', headers: { authorization: 'Bearer sdk-token', 'content-type': 'application/json' }, body: JSON.stringify({ clientId: `web-${service}`, caller: 'web', service, instances }) }).catch(() => undefined);
  }
}

const rollout = async (service: string) => RolloutView.parse(await (await fetch(`${base}/api/services/embedded/dc1/${service}/rollout`, { headers: alice })).json());

beforeAll(async () => {
  ({ sb, base, registry } = await startControlPlane({ users: [{ name: 'alice', role: 'operator', token: 'alice-token' }, { name: 'sdk', role: 'client', token: 'sdk-token' }] }));
  for (const service of Object.keys(releases)) {
    for (const [suffix, tag] of [['b1', 'blue'], ['g1', 'green']]) {
      await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: service, ID: `${service}-${suffix}`, Port: 9000, Tags: [tag], Check: { CheckID: `${service}-${suffix}-ttl`, TTL: '10m', Status: 'passing' } }) });
    }
    await vi.waitFor(() => expect(sb.store.service(`embedded/dc1/${service}`)?.instances).toHaveLength(2), { timeout: 15_000 });
  }
  feeding = setInterval(feed, 200);
});

afterAll(async () => {
  if (feeding) clearInterval(feeding);
  await sb?.close();
});

describe('rollouts on the embedded registry', () => {
  it('elects itself through the registry’s sessions, or says why it runs single-replica', async () => {
    await vi.waitFor(() => expect(['leader', 'single-replica']).toContain(sb.rolloutController.status('embedded').mode), { timeout: 15_000 });
    const status = sb.rolloutController.status('embedded');
    if (status.mode === 'single-replica') expect(status.detail).toContain('/v1/session/create answered 404');
    else expect(status.detail).toContain('switchboard/leader');
  });

  it('promotes a good canary through every step', async () => {
    const r = await fetch(`${base}/api/services/embedded/dc1/cart/rollout`, { method: 'PUT', headers: alice, body: JSON.stringify({ steps: [{ weight: 25, pause: '1s' }, { weight: 100 }], analysis: { interval: '1s', minRequests: 20 } }) });
    expect(r.status).toBe(200);
    await vi.waitFor(async () => expect((await rollout('cart')).rollout).toMatchObject({ state: 'Promoted', applied: 100 }), { timeout: 60_000, interval: 250 });
    expect(await (await fetch(`${registry}/v1/kv/switchboard/traffic/cart?raw`)).json()).toMatchObject({ weights: { blue: 0, green: 100 } });
  });

  it('rolls a failing canary back by itself and says why', async () => {
    const r = await fetch(`${base}/api/services/embedded/dc1/search/rollout`, { method: 'PUT', headers: alice, body: JSON.stringify({ steps: [{ weight: 10, pause: '1m' }, { weight: 100 }], analysis: { interval: '1s', minRequests: 20, failureLimit: 1 } }) });
    expect(r.status).toBe(200);
    await vi.waitFor(async () => expect((await rollout('search')).rollout).toMatchObject({ state: 'Failed', applied: 0 }), { timeout: 60_000, interval: 250 });
    const view = await rollout('search');
    expect(view.rollout!.message).toMatch(/^canary error rate 50 % > 1 %.* for 1 interval$/);
    expect(view.canaryWeight).toBe(0);
    expect(sb.store.summary('embedded/dc1/search')?.rollout).toEqual({ state: 'Failed', step: 1, steps: 2 });
  });

  it('the CLI drives the same API: start, status --json, a second start is a conflict (exit 4), abort', async () => {
    const cli = async (...argv: string[]) => {
      let stdout = '';
      let stderr = '';
      const code = await runCli(argv, { env: { SWITCHBOARD_URL: base, SWITCHBOARD_TOKEN: 'alice-token' }, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
      return { code, stdout, stderr };
    };
    const started = await cli('rollout', 'start', 'wishlist', '--steps', '10,50,100', '--pause', '10m', '--interval', '1s', '--min-requests', '20', '--reason', 'wishlist 2.0');
    expect(started).toMatchObject({ code: EXIT.ok, stderr: '' });
    expect(started.stdout).toContain('embedded/dc1/wishlist: Progressing step 1/3, green 10%');
    const status = await cli('rollout', 'status', 'wishlist', '--json');
    expect(RolloutView.parse(JSON.parse(status.stdout)).rollout).toMatchObject({ state: 'Progressing', startedBy: 'alice', reason: 'wishlist 2.0' });
    const again = await cli('rollout', 'start', 'wishlist', '--steps', '10,100');
    expect(again.code).toBe(EXIT.conflict);
    expect(again.stderr).toContain('a rollout is already Progressing on wishlist');
    const aborted = await cli('rollout', 'abort', 'wishlist', '--reason', 'not today');
    expect(aborted.code).toBe(EXIT.ok);
    expect(aborted.stdout).toContain('Aborted');
    expect(await (await fetch(`${registry}/v1/kv/switchboard/traffic/wishlist?raw`)).json()).toMatchObject({ weights: { blue: 100, green: 0 } });
    expect((await cli('rollout', 'promote', 'wishlist')).code).toBe(EXIT.conflict);
  });

  it('the demo’s green payment release is good, failing or slow by config, and switches by an HTTP fault', async () => {
    const fleet = await startDemoFleet({ registryAddr: registry, greenRelease: 'slow', specs: [{ name: 'demo-pay', id: 'demo-pay-g1', tags: ['green'], color: 'green' }] });
    try {
      const url = fleet.instances[0]!.url;
      expect(await (await fetch(`${url}/fault`)).json()).toMatchObject({ errorRate: 0, latencyMs: 800 });
      expect(await (await fetch(`${url}/fault`, { method: 'POST', body: JSON.stringify({ release: 'failing' }) })).json()).toMatchObject({ errorRate: 0.25, latencyMs: 0, failReady: false });
      const bad = await fetch(`${url}/fault`, { method: 'POST', body: JSON.stringify({ release: 'broken' }) });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toMatch(/^release:/);
      // A failing release still passes readiness: only analysis can tell it is bad.
      expect((await fetch(`${url}/ready`)).status).toBe(200);
    } finally {
      await fleet.stop();
    }
  });
});
