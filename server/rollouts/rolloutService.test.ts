/**
 * RolloutService and RolloutController over in-memory stores (compare-and-set like the real
 * ones) and the real TrafficService: the branches integration tests cannot reach on purpose —
 * the guardrail refusing a step up, and a controller pass driving analysis from injected metrics.
 */
import { describe, expect, it } from 'vitest';
import type { Instance, Service } from '../../protocol/model';
import { StartRolloutBody, type Rollout, type SubsetMetrics } from '../../protocol/rollout';
import type { TrafficPolicy } from '../../protocol/traffic';
import type { AuditEntry, StoredPolicy, TrafficStore, WriteResult } from '../traffic/trafficStore';
import { TrafficService } from '../traffic/trafficService';
import { RolloutController } from './rolloutController';
import type { RolloutMetrics } from './rolloutMetrics';
import { RolloutService } from './rolloutService';
import type { RolloutStore, RolloutWrite, StoredRollout } from './rolloutStore';

class MemoryTraffic implements TrafficStore {
  policy: TrafficPolicy | null = null;
  index = 0;
  entries: AuditEntry[] = [];
  puts = 0;
  /** Set: a mesh route bound to the Service was edited outside Switchboard (kubernetesTrafficStore's 409). */
  routeEdited: string | null = null;
  async get(): Promise<StoredPolicy> {
    return { policy: this.policy, modifyIndex: this.index };
  }
  async put(_s: string, _n: string, policy: TrafficPolicy, expected: number): Promise<WriteResult> {
    this.puts++;
    if (expected !== this.index) return { ok: false, current: await this.get() };
    if (this.routeEdited) return { ok: false, current: await this.get(), reason: this.routeEdited };
    this.policy = policy;
    return { ok: true, modifyIndex: ++this.index };
  }
  async audit(_s: string, _n: string, entry: Omit<AuditEntry, 'id'>): Promise<AuditEntry> {
    const full = { id: String(this.entries.length), ...entry } as AuditEntry;
    this.entries.unshift(full);
    return full;
  }
  async history(): Promise<AuditEntry[]> {
    return this.entries;
  }
}

class MemoryRollouts implements RolloutStore {
  stored: StoredRollout = { rollout: null, modifyIndex: 0 };
  async get(): Promise<StoredRollout> {
    return this.stored;
  }
  async put(_s: string, _n: string, rollout: Rollout, expected: number): Promise<RolloutWrite> {
    if (expected !== this.stored.modifyIndex) return { ok: false, current: this.stored };
    this.stored = { rollout: JSON.parse(JSON.stringify(rollout)), modifyIndex: this.stored.modifyIndex + 1 };
    return { ok: true, modifyIndex: this.stored.modifyIndex };
  }
  async list(): Promise<{ service: string; stored: StoredRollout }[]> {
    return this.stored.rollout ? [{ service: 'payment', stored: this.stored }] : [];
  }
}

const inst = (id: string, tag: string, health: Instance['health'] = 'passing'): Instance => ({ id: `n/${id}`, address: '10.0.0.1', port: 80, tags: [tag], meta: {}, node: 'n', health, checks: [] });

function setup(instances: Instance[]) {
  let now = new Date('2026-12-01T10:00:00Z');
  const traffic = new MemoryTraffic();
  const rollouts = new MemoryRollouts();
  const service = (): Service => ({ id: 'c/dc1/payment', sourceId: 'c', scope: 'dc1', name: 'payment', tags: ['blue', 'green'], traffic: traffic.policy, instances });
  const trafficService = new TrafficService({ storeFor: () => traffic, service: () => service(), now: () => now });
  const svc = new RolloutService({ storeFor: () => rollouts, traffic: trafficService, service: () => service(), controllerStatus: () => ({ mode: 'leader', holder: 'me', detail: '' }), now: () => now });
  let next: { canary: SubsetMetrics; stable: SubsetMetrics } = { canary: { requests: 100, errorRate: 0, p99Ms: 10 }, stable: { requests: 1000, errorRate: 0, p99Ms: 10 } };
  const metrics: RolloutMetrics = { begin: () => undefined, measure: async () => next, forget: () => undefined };
  const controller = new RolloutController({ rollouts: svc, storeFor: () => rollouts, sources: () => [{ id: 'c', scopes: ['dc1'] }], electorFor: () => null, metrics, service: () => service(), now: () => now });
  return { traffic, rollouts, svc, controller, advance: (ms: number) => (now = new Date(now.getTime() + ms)), setMetrics: (m: typeof next) => (next = m) };
}

const body = StartRolloutBody.parse({ steps: [{ weight: 10, pause: '1s' }, { weight: 50, pause: '1s' }, { weight: 100 }], analysis: { interval: '1s', minRequests: 10, failureLimit: 1 } });

describe('RolloutService and RolloutController', () => {
  it('enables traffic control, starts, and the controller analyses, steps and promotes — every weight change audited', async () => {
    const t = setup([inst('b1', 'blue'), inst('g1', 'green')]);
    const started = await t.svc.start('c/dc1/payment', body, 'alice');
    expect(started).toMatchObject({ ok: true, value: { rollout: { state: 'Progressing', step: 1, applied: 10 }, canaryWeight: 10 } });
    for (let i = 0; i < 6 && t.rollouts.stored.rollout?.state !== 'Promoted'; i++) {
      await t.controller.pass();
      t.advance(1_000);
    }
    expect(t.rollouts.stored.rollout).toMatchObject({ state: 'Promoted', applied: 100 });
    expect(t.traffic.entries.filter((e) => e.outcome === 'applied').map((e) => `${e.by}: ${e.reason}`).reverse()).toEqual([
      'alice: traffic control enabled',
      'rollout: rollout payment step 1/3: green 10%',
      'rollout: rollout payment step 2/3: green 50%',
      'rollout: rollout payment promoted: green 100%',
    ]);
  });

  it('a failing interval fails the rollout and puts the weight back on stable in the same pass', async () => {
    const t = setup([inst('b1', 'blue'), inst('g1', 'green')]);
    await t.svc.start('c/dc1/payment', body, 'alice');
    t.setMetrics({ canary: { requests: 100, errorRate: 0.2, p99Ms: 10 }, stable: { requests: 1000, errorRate: 0, p99Ms: 10 } });
    await t.controller.pass(); // the interval begins
    t.advance(1_000);
    await t.controller.pass();
    expect(t.rollouts.stored.rollout).toMatchObject({ state: 'Failed', applied: 0 });
    expect(t.traffic.policy?.weights).toEqual({ blue: 100, green: 0 });
  });

  it('pauses, saying why, when the guardrail refuses the next step (the canary lost its passing instances)', async () => {
    const instances = [inst('b1', 'blue'), inst('g1', 'green')];
    const t = setup(instances);
    await t.svc.start('c/dc1/payment', body, 'alice');
    instances[1] = inst('g1', 'green', 'critical');
    const promoted = await t.svc.act('c/dc1/payment', 'promote', 'bob');
    expect(promoted).toMatchObject({ ok: true, value: { rollout: { state: 'Paused', step: 2 } } });
    expect(t.rollouts.stored.rollout!.message).toContain('paused: weights.green: subset "green" has no passing instance');
    expect(t.traffic.policy?.weights).toEqual({ blue: 90, green: 10 });
  });

  it('pauses with the route\'s reason when a step\'s weights meet a mesh route edited outside Switchboard, and stops retrying until resumed', async () => {
    const t = setup([inst('b1', 'blue'), inst('g1', 'green')]);
    await t.svc.start('c/dc1/payment', body, 'alice');
    const why = 'HTTPRoute shop/payment was changed outside Switchboard: rules[0] now gives blue 70 / green 30, where Switchboard last wrote blue 90 / green 10 (rollout, 2026-12-01T10:00:00.000Z). Nothing was written.';
    t.traffic.routeEdited = why;
    const putsBefore = t.traffic.puts;
    // The step's pause runs out; the controller advances to step 2 and tries to write 50 %.
    for (let i = 0; i < 4; i++) {
      await t.controller.pass();
      t.advance(1_000);
    }
    expect(t.rollouts.stored.rollout).toMatchObject({ state: 'Paused', step: 2, applied: 10, updatedBy: 'rollout', message: `paused: ${why}` });
    // One attempt: a refusal from beside the policy is not a lost race worth retrying.
    expect(t.traffic.puts - putsBefore).toBe(1);
    const view = await t.svc.view('c/dc1/payment');
    expect(view).toMatchObject({ ok: true, value: { rollout: { state: 'Paused', message: expect.stringContaining('HTTPRoute shop/payment was changed outside Switchboard') }, canaryWeight: 10 } });
    // Later passes leave it alone: no write, no refused audit entry per interval.
    for (let i = 0; i < 5; i++) {
      await t.controller.pass();
      t.advance(1_000);
    }
    expect(t.traffic.puts - putsBefore).toBe(1);
    expect(t.traffic.entries.filter((e) => e.outcome !== 'applied')).toHaveLength(1);
    expect(t.traffic.policy?.weights).toEqual({ blue: 90, green: 10 });

    // Someone puts the route right; an operator resumes and the step lands.
    t.traffic.routeEdited = null;
    const resumed = await t.svc.act('c/dc1/payment', 'resume', 'bob');
    expect(resumed).toMatchObject({ ok: true, value: { rollout: { state: 'Progressing', step: 2, applied: 50 }, canaryWeight: 50 } });
    expect(t.traffic.policy?.weights).toEqual({ blue: 50, green: 50 });
  });

  it('a lost race on the policy itself is still retried on a fresh read, not paused', async () => {
    const t = setup([inst('b1', 'blue'), inst('g1', 'green')]);
    await t.svc.start('c/dc1/payment', body, 'alice');
    // Another writer lands between every read and write, twice.
    let races = 2;
    const put = t.traffic.put.bind(t.traffic);
    t.traffic.put = async (s, n, p, expected) => {
      if (races-- > 0) t.traffic.index++;
      return put(s, n, p, expected);
    };
    const promoted = await t.svc.act('c/dc1/payment', 'promote', 'bob');
    expect(promoted).toMatchObject({ ok: true, value: { rollout: { state: 'Progressing', step: 2, applied: 50 } } });
    expect(t.traffic.policy?.weights).toEqual({ blue: 50, green: 50 });
  });

  it('refuses a canary with no passing instance and a second rollout, naming them', async () => {
    const t = setup([inst('b1', 'blue'), inst('g1', 'green', 'critical')]);
    expect(await t.svc.start('c/dc1/payment', body, 'alice')).toMatchObject({ ok: false, error: { code: 'guardrail', message: 'canary: subset "green" has no passing instance' } });
    const u = setup([inst('b1', 'blue'), inst('g1', 'green')]);
    await u.svc.start('c/dc1/payment', body, 'alice');
    expect(await u.svc.start('c/dc1/payment', body, 'bob')).toMatchObject({ ok: false, error: { code: 'conflict', current: { rollout: { startedBy: 'alice' } } } });
  });

  it('says why a service without blue/green tags cannot have a rollout', async () => {
    const t = setup([inst('a1', 'v1')]);
    expect(await t.svc.start('c/dc1/payment', body, 'alice')).toMatchObject({ ok: false, error: { code: 'invalid', message: expect.stringContaining('traffic policy: traffic control needs instances in at least two tag-defined subsets') } });
  });
});
