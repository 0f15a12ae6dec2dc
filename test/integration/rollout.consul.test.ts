/**
 * Rollouts end to end against a real Consul 1.8.7 agent and two control-plane replicas (one
 * leader by Consul session + KV lock): a good canary goes to 100 % through every step, a bad
 * one fails at its first analysed step and traffic returns to stable, the leader dying mid-
 * rollout hands the rollout to the other replica at the same step, and two operators starting
 * at once get one 200 and one 409. Telemetry is fed through the real POST /api/telemetry (the
 * store's ingest), so the analysis reads what SDK clients would report. No timing is asserted.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the assertions read JSON answers loosely; shapes are checked by the server */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fromRaw } from '../../server/config/loadConfig';
import { createLogger } from '../../server/log';
import { createSwitchboard, type Switchboard } from '../../server/switchboard';
import { LATENCY_BUCKETS_MS, newHistogram, recordLatency } from '../../sdk/latencyHistogram';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';

interface Replica {
  name: string;
  sb: Switchboard;
  base: string;
  closed: boolean;
}

let agent: ConsulAgent;
const replicas: Replica[] = [];
const alice = { authorization: 'Bearer alice-token', 'content-type': 'application/json' };
const bob = { authorization: 'Bearer bob-token', 'content-type': 'application/json' };
const vic = { authorization: 'Bearer vic-token', 'content-type': 'application/json' };
const SERVICES = ['payment', 'ledger', 'billing', 'checkout'];

async function startReplica(name: string): Promise<Replica> {
  const config = fromRaw(
    {
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: mkdtempSync(join(tmpdir(), 'sb-rollout-')),
      embedded: { enabled: false },
      sources: [{ kind: 'consul', name: 'prod', address: agent.httpAddr }],
      auth: {
        anonymousRole: null,
        users: [
          { name: 'alice', role: 'operator', token: 'alice-token' },
          { name: 'bob', role: 'operator', token: 'bob-token' },
          { name: 'vic', role: 'viewer', token: 'vic-token' },
          { name: 'sdk', role: 'client', token: 'sdk-token' },
        ],
      },
    },
    { file: null, env: {}, cwd: process.cwd() },
  );
  const sb = createSwitchboard({ config, logger: createLogger({ level: 'silent' }), rollouts: { pollMs: 200, ttlSeconds: 10, identity: name } });
  return { name, sb, base: `http://127.0.0.1:${await sb.listen()}`, closed: false };
}

/** What SDK clients of every service would report: cumulative counters per instance. */
const health: Record<string, { errorRate: number; latencyMs: number }> = {};
const totals = new Map<string, { requests: number; errors: number; latency: number[] }>();
let feeding: NodeJS.Timeout | null = null;
function feed(): void {
  for (const service of SERVICES) {
    const instances = ['blue-1', 'blue-2', 'green-1'].map((suffix) => {
      const id = `${service}-${suffix}`;
      const t = totals.get(id) ?? { requests: 0, errors: 0, latency: newHistogram() };
      const canary = suffix.startsWith('green');
      const h = canary ? (health[service] ?? { errorRate: 0, latencyMs: 20 }) : { errorRate: 0, latencyMs: 20 };
      t.requests += 40;
      t.errors += Math.round(40 * h.errorRate);
      for (let i = 0; i < 40; i++) recordLatency(t.latency, h.latencyMs);
      totals.set(id, t);
      return { id, breaker: 'closed' as const, requests: t.requests, errors: t.errors, latency: [...t.latency] };
    });
    for (const r of replicas.filter((x) => !x.closed)) {
      void fetch(`${r.base}/api/telemetry`, { method: 'POST', headers: { authorization: 'Bearer sdk-token', 'content-type': 'application/json' }, body: JSON.stringify({ clientId: `order-${service}`, caller: 'order', service, instances }) }).catch(() => undefined);
    }
  }
}

const call = async (r: Replica, method: string, path: string, headers: Record<string, string>, body?: unknown) => {
  const res = await fetch(`${r.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
const svcPath = (name: string) => `/api/services/prod/dc1/${name}/rollout`;
const leader = () => replicas.find((r) => !r.closed && r.sb.rolloutController.status('prod').mode === 'leader');
const kv = async (key: string) => {
  const r = await fetch(`${agent.httpAddr}/v1/kv/${key}?raw`);
  return r.ok ? ((await r.json()) as Record<string, any>) : null;
};
const analysis = { interval: '1s', minRequests: 20, failureLimit: 2, maxErrorRate: 0.01, maxP99Ms: 500 };

beforeAll(async () => {
  expect(LATENCY_BUCKETS_MS.length).toBeGreaterThan(0);
  agent = await startConsulAgent({ datacenter: 'dc1' });
  for (const service of SERVICES) {
    for (const [suffix, tag] of [['blue-1', 'blue'], ['blue-2', 'blue'], ['green-1', 'green']] as const) {
      await agent.registerService({ ID: `${service}-${suffix}`, Name: service, Port: 9000, Tags: [tag], Check: { CheckID: `${service}-${suffix}-ttl`, TTL: '10m', Status: 'passing' } });
    }
  }
  replicas.push(await startReplica('replica-a'), await startReplica('replica-b'));
  for (const r of replicas) await vi.waitFor(() => expect(SERVICES.every((s) => r.sb.store.service(`prod/dc1/${s}`)?.instances.length === 3)).toBe(true), { timeout: 30_000 });
  await vi.waitFor(() => expect(leader()).toBeDefined(), { timeout: 30_000 });
  feeding = setInterval(feed, 200);
});

afterAll(async () => {
  if (feeding) clearInterval(feeding);
  for (const r of replicas) if (!r.closed) await r.sb.close();
  await agent?.stop();
});

describe('rollouts on Consul', () => {
  it('elects exactly one leader; the other follows and names it', async () => {
    // The second replica may still be reading the lock when the first has taken it ("starting").
    await vi.waitFor(() => {
      const modes = replicas.map((r) => r.sb.rolloutController.status('prod'));
      expect(modes.map((m) => m.mode).sort()).toEqual(['follower', 'leader']);
      expect(modes.find((m) => m.mode === 'follower')!.holder).toBe(leader()!.name);
    }, { timeout: 30_000 });
  });

  it('refuses bad input naming the field, and viewers', async () => {
    const r = replicas[0]!;
    expect(await call(r, 'PUT', svcPath('payment'), alice, { steps: [{ weight: 5 }, { weight: 50 }] })).toMatchObject({ status: 400, body: { error: 'steps: the last step must be 100, got 50' } });
    expect((await call(r, 'PUT', svcPath('payment'), alice, { steps: [{ weight: 100 }], analysis: { maxErrorRate: 5 } })).body.error).toContain('analysis.maxErrorRate');
    expect((await call(r, 'PUT', svcPath('payment'), alice, { steps: [{ weight: 100 }], canary: 'red' })).body.error).toContain('canary: unknown subset "red"');
    expect((await call(r, 'PUT', svcPath('payment'), vic, { steps: [{ weight: 100 }] })).status).toBe(403);
    expect(await call(r, 'GET', svcPath('payment'), vic)).toMatchObject({ status: 200, body: { rollout: null, modifyIndex: 0 } });
  });

  it('takes a good canary to 100 % through every step, each weight change audited', async () => {
    const r = replicas[0]!;
    const started = await call(r, 'PUT', svcPath('payment'), alice, { steps: [{ weight: 20, pause: '1s' }, { weight: 50, pause: '1s' }, { weight: 100 }], analysis, reason: 'release 1.4' });
    expect(started).toMatchObject({ status: 200, body: { rollout: { state: 'Progressing', step: 1, stable: 'blue', canary: 'green', startedBy: 'alice' }, canaryWeight: 20 } });
    // Traffic control was enabled from the blue/green tags on the way.
    await vi.waitFor(async () => expect(await kv('switchboard/rollout/payment')).toMatchObject({ state: 'Promoted', applied: 100 }), { timeout: 60_000, interval: 200 });
    expect(await kv('switchboard/traffic/payment')).toMatchObject({ weights: { blue: 0, green: 100 } });
    const stored = (await kv('switchboard/rollout/payment'))!;
    expect(stored.measurements.length).toBeGreaterThanOrEqual(2);
    expect(stored.measurements.every((m: { ok: boolean | null }) => m.ok !== false)).toBe(true);
    const history = (await call(r, 'GET', '/api/services/prod/dc1/payment/traffic/history', vic)).body as unknown as { reason: string; by: string; outcome: string }[];
    expect(history.filter((h) => h.outcome === 'applied').map((h) => h.reason).reverse()).toEqual(['traffic control enabled', 'rollout payment step 1/3: green 20%', 'rollout payment step 2/3: green 50%', 'rollout payment promoted: green 100%']);
    await vi.waitFor(() => expect(r.sb.store.summary('prod/dc1/payment')?.rollout).toEqual({ state: 'Promoted', step: 3, steps: 3 }));
  });

  it('fails a bad canary at its first analysed step and puts every request back on stable', async () => {
    health.ledger = { errorRate: 0.3, latencyMs: 20 };
    const r = replicas[1]!;
    const started = await call(r, 'PUT', svcPath('ledger'), bob, { steps: [{ weight: 10, pause: '30s' }, { weight: 50, pause: '30s' }, { weight: 100 }], analysis });
    expect(started.status).toBe(200);
    await vi.waitFor(async () => expect(await kv('switchboard/rollout/ledger')).toMatchObject({ state: 'Failed', applied: 0 }), { timeout: 60_000, interval: 200 });
    const failed = (await call(r, 'GET', svcPath('ledger'), vic)).body;
    expect(failed.rollout).toMatchObject({ state: 'Failed', step: 1, applied: 0 });
    expect(failed.rollout.message).toMatch(/^canary error rate 30 % > 1 %.* for 2 intervals$/);
    expect(failed.canaryWeight).toBe(0);
    expect(await kv('switchboard/traffic/ledger')).toMatchObject({ weights: { blue: 100, green: 0 } });
    expect((await call(r, 'POST', `${svcPath('ledger')}/promote`, alice)).status).toBe(409);
  });

  it('fails a slow release (p99) the same way', async () => {
    health.checkout = { errorRate: 0, latencyMs: 900 };
    const r = replicas[0]!;
    expect((await call(r, 'PUT', svcPath('checkout'), alice, { steps: [{ weight: 10, pause: '30s' }, { weight: 100 }], analysis })).status).toBe(200);
    await vi.waitFor(async () => expect((await kv('switchboard/rollout/checkout'))?.state).toBe('Failed'), { timeout: 60_000, interval: 200 });
    expect((await kv('switchboard/rollout/checkout'))!.message).toMatch(/canary p99 \d+(\.\d+)? ms > 500 ms/);
    health.checkout = { errorRate: 0, latencyMs: 20 };
  });

  it('two operators at once: one starts the rollout, the other gets 409 with it', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const body = { steps: [{ weight: 10 }, { weight: 100 }], analysis };
    const answers = await Promise.all([call(a, 'PUT', svcPath('checkout'), alice, body), call(b, 'PUT', svcPath('checkout'), bob, body)]);
    expect(answers.map((x) => x.status).sort()).toEqual([200, 409]);
    const lost = answers.find((x) => x.status === 409)!;
    expect(lost.body.current.rollout).toMatchObject({ state: 'Progressing', startedBy: answers[0]!.status === 200 ? 'alice' : 'bob' });
    // Actions too: an abort and a pause at once — the pause loses (the rollout is over by then) or lands first.
    const [abort, pause] = await Promise.all([call(a, 'POST', `${svcPath('checkout')}/abort`, alice, { reason: 'wrong build' }), call(b, 'POST', `${svcPath('checkout')}/pause`, bob)]);
    expect(abort.status).toBe(200);
    expect([200, 409]).toContain(pause.status);
    expect(await kv('switchboard/rollout/checkout')).toMatchObject({ state: 'Aborted', message: 'aborted by alice: wrong build' });
    await vi.waitFor(async () => expect(await kv('switchboard/traffic/checkout')).toMatchObject({ weights: { blue: 100, green: 0 } }));
  });

  it('a leader that dies mid-rollout is replaced, and the new one continues from the same step', async () => {
    const first = leader()!;
    const other = replicas.find((r) => r !== first)!;
    const started = await call(other, 'PUT', svcPath('billing'), alice, { steps: [{ weight: 10, pause: '1s' }, { weight: 30 }, { weight: 60, pause: '1s' }, { weight: 100 }], analysis });
    expect(started.status).toBe(200);
    // Step 2 has no pause: the leader gets there and waits for a promote.
    await vi.waitFor(async () => expect((await kv('switchboard/rollout/billing'))).toMatchObject({ step: 2, applied: 30 }), { timeout: 60_000, interval: 200 });
    // The leader crashes: its session is not released, Consul expires it after its TTL.
    await first.sb.rolloutController.stop({ release: false });
    first.closed = true;
    await first.sb.close();
    await vi.waitFor(() => expect(other.sb.rolloutController.status('prod')).toMatchObject({ mode: 'leader', holder: other.name }), { timeout: 60_000, interval: 250 });
    expect((await kv('switchboard/rollout/billing'))).toMatchObject({ state: 'Progressing', step: 2 });
    const promoted = await call(other, 'POST', `${svcPath('billing')}/promote`, bob);
    expect(promoted).toMatchObject({ status: 200, body: { rollout: { step: 3 }, canaryWeight: 60, controller: { mode: 'leader', holder: other.name } } });
    await vi.waitFor(async () => expect(await kv('switchboard/rollout/billing')).toMatchObject({ state: 'Promoted', applied: 100 }), { timeout: 60_000, interval: 200 });
    expect(await kv('switchboard/traffic/billing')).toMatchObject({ weights: { blue: 0, green: 100 } });
  });
});
