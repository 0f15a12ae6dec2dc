import { describe, expect, it } from 'vitest';
import type { Instance } from '../../protocol/model';
import { Analysis, desiredCanaryWeight, Rollout, StartRolloutBody } from '../../protocol/rollout';
import type { TrafficPolicy } from '../../protocol/traffic';
import { analyse } from './analysis';
import { isRolloutProblem, planStart, timeLeft, transition, type RolloutEvent } from './rolloutMachine';

const t0 = new Date('2026-12-01T10:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);
const inst = (id: string, tag: string, health: Instance['health'] = 'passing'): Instance => ({ id: `n/${id}`, address: '10.0.0.1', port: 80, tags: [tag], meta: {}, node: 'n', health, checks: [] });
const instances = [inst('b1', 'blue'), inst('b2', 'blue'), inst('g1', 'green')];
const policy: TrafficPolicy = { version: 1, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue: 100, green: 0 }, drain: [], updatedAt: t0.toISOString(), updatedBy: 'alice', reason: '' };
const analysis = Analysis.parse({ interval: '1s', minRequests: 50, failureLimit: 2, maxErrorRate: 0.01 });
const body = (over: object = {}) => StartRolloutBody.parse({ steps: [{ weight: 5, pause: '2m' }, { weight: 25, pause: '2m' }, { weight: 50 }, { weight: 100 }], analysis, reason: 'release 1.4', ...over });

function start(over: object = {}, ctx: Partial<Parameters<typeof planStart>[1]> = {}): Rollout {
  const r = planStart(body(over), { service: 'payment', policy, instances, existing: null, who: 'alice', now: t0, ...ctx });
  if (isRolloutProblem(r)) throw new Error(r.message);
  return r;
}
function apply(r: Rollout, e: RolloutEvent, now: Date): Rollout {
  const next = transition(r, e, now);
  if (isRolloutProblem(next)) throw new Error(next.message);
  // Every state the machine produces is one every reader accepts.
  return Rollout.parse(JSON.parse(JSON.stringify(next)));
}
const good = { type: 'measure', canary: { requests: 200, errorRate: 0, p99Ms: 40 }, stable: { requests: 4000, errorRate: 0.001, p99Ms: 38 } } as const;
const bad = { type: 'measure', canary: { requests: 200, errorRate: 0.214, p99Ms: 40 }, stable: { requests: 4000, errorRate: 0.001, p99Ms: 38 } } as const;
const thin = { type: 'measure', canary: { requests: 3, errorRate: 1, p99Ms: 9000 }, stable: { requests: 4000, errorRate: 0, p99Ms: 38 } } as const;

describe('starting a rollout', () => {
  it('starts at step 1 between the policy’s subsets (stable: most weight)', () => {
    const r = start();
    expect(r).toMatchObject({ version: 1, stable: 'blue', canary: 'green', state: 'Progressing', step: 1, startedBy: 'alice', failures: 0 });
    expect(desiredCanaryWeight(r)).toBe(5);
  });

  it('names the field for bad input', () => {
    const problem = (over: object, ctx: object = {}) => planStart(body(over), { service: 'payment', policy, instances, existing: null, who: 'alice', now: t0, ...ctx });
    expect(problem({ steps: [{ weight: 5 }, { weight: 50 }] })).toEqual({ code: 'invalid', message: 'steps: the last step must be 100, got 50' });
    expect(problem({ steps: [{ weight: 25 }, { weight: 20 }, { weight: 100 }] })).toMatchObject({ code: 'invalid', message: 'steps.1.weight: must be more than the step before (25), got 20' });
    expect(problem({ canary: 'red' })).toMatchObject({ code: 'invalid', message: 'canary: unknown subset "red" (known: blue, green)' });
    expect(problem({ canary: 'blue', stable: 'blue' })).toMatchObject({ code: 'invalid', message: expect.stringContaining('canary: must differ') });
    expect(problem({}, { instances: [inst('b1', 'blue'), inst('g1', 'green', 'critical')] })).toEqual({ code: 'guardrail', message: 'canary: subset "green" has no passing instance' });
    expect(problem({}, { existing: start() })).toMatchObject({ code: 'conflict', message: expect.stringContaining('a rollout is already Progressing on payment (step 1/4, started by alice)') });
    expect(StartRolloutBody.safeParse({ steps: [{ weight: 100 }], analysis: { maxErrorRate: 2 } }).error?.issues[0]).toMatchObject({ path: ['analysis', 'maxErrorRate'] });
    expect(StartRolloutBody.safeParse({ steps: [{ weight: 100, pause: 'soon' }] }).error?.issues[0]).toMatchObject({ path: ['steps', 0, 'pause'] });
  });

  it('replaces a finished rollout', () => {
    const aborted = apply(start(), { type: 'action', action: 'abort', who: 'bob' }, at(1000));
    expect(isRolloutProblem(planStart(body(), { service: 'payment', policy, instances, existing: aborted, who: 'alice', now: at(2000) }))).toBe(false);
  });
});

describe('analysis', () => {
  it('passes, fails naming metric, value and threshold, and is inconclusive below minRequests', () => {
    expect(analyse(good.canary, good.stable, analysis)).toEqual({ ok: true });
    expect(analyse(bad.canary, bad.stable, analysis)).toMatchObject({ ok: false, why: expect.stringContaining('canary error rate 21.4 % > 1 %') });
    expect(analyse({ requests: 200, errorRate: 0, p99Ms: 900 }, good.stable, analysis)).toMatchObject({ ok: false, why: 'canary p99 900 ms > 500 ms; canary p99 900 ms > 1.5× stable 38 ms' });
    expect(analyse(thin.canary, thin.stable, analysis)).toEqual({ ok: null, why: 'inconclusive: 3 canary requests < 50' });
  });
});

describe('the rollout machine', () => {
  it('holds a timed step while inconclusive: never promotes on too little data', () => {
    let r = start();
    r = apply(r, thin, at(1000));
    r = apply(r, { type: 'tick' }, at(121_000));
    expect(r).toMatchObject({ state: 'Progressing', step: 1 });
    expect(r.measurements.at(-1)).toMatchObject({ ok: null, step: 1 });
  });

  it('goes through every step on passing analysis, waits for a promote where a step has no pause, then promotes', () => {
    let r = start();
    r = apply(r, good, at(60_000));
    r = apply(r, { type: 'tick' }, at(60_500));
    expect(r.step).toBe(1); // time not up yet
    expect(timeLeft(r, at(60_500))).toBe(59_500);
    r = apply(apply(r, good, at(120_000)), { type: 'tick' }, at(120_000));
    expect(r).toMatchObject({ step: 2, state: 'Progressing' });
    r = apply(apply(r, good, at(240_000)), { type: 'tick' }, at(240_000));
    expect(r).toMatchObject({ step: 3 });
    expect(desiredCanaryWeight(r)).toBe(50);
    r = apply(apply(r, good, at(900_000)), { type: 'tick' }, at(900_000));
    expect(r).toMatchObject({ step: 3, state: 'Progressing' }); // no pause: waits for a promote
    expect(timeLeft(r, at(900_000))).toBeNull();
    r = apply(r, { type: 'action', action: 'promote', who: 'bob' }, at(901_000));
    expect(r).toMatchObject({ step: 4, state: 'Promoted', message: 'promoted by bob; promoted' });
    expect(desiredCanaryWeight(r)).toBe(100);
  });

  it('fails after failureLimit consecutive failed intervals, naming metric, value and threshold', () => {
    let r = start();
    r = apply(r, bad, at(1000));
    expect(r).toMatchObject({ state: 'Progressing', failures: 1 });
    r = apply(r, good, at(2000));
    expect(r.failures).toBe(0); // not consecutive
    r = apply(apply(r, bad, at(3000)), bad, at(4000));
    expect(r.state).toBe('Failed');
    expect(r.message).toMatch(/^canary error rate 21.4 % > 1 %.* for 2 intervals$/);
    expect(desiredCanaryWeight(r)).toBe(0);
    expect(transition(r, { type: 'action', action: 'promote', who: 'bob' }, at(5000))).toMatchObject({ code: 'conflict' });
  });

  it('aborts on request: weights back to stable', () => {
    const r = apply(start(), { type: 'action', action: 'abort', who: 'bob', reason: 'bad release' }, at(1000));
    expect(r).toMatchObject({ state: 'Aborted', message: 'aborted by bob: bad release' });
    expect(desiredCanaryWeight(r)).toBe(0);
  });

  it('pauses (the clock and analysis stop) and resumes where it was', () => {
    let r = apply(start(), good, at(30_000));
    r = apply(r, { type: 'action', action: 'pause', who: 'bob' }, at(90_000));
    expect(r).toMatchObject({ state: 'Paused', elapsedMs: 90_000 });
    expect(apply(r, bad, at(100_000)).measurements).toHaveLength(1);
    expect(apply(r, { type: 'tick' }, at(10_000_000)).step).toBe(1);
    expect(timeLeft(r, at(10_000_000))).toBe(30_000);
    r = apply(r, { type: 'action', action: 'resume', who: 'bob' }, at(1_000_000));
    expect(r.state).toBe('Progressing');
    expect(timeLeft(r, at(1_000_000))).toBe(30_000);
    expect(transition(r, { type: 'action', action: 'resume', who: 'bob' }, at(1_000_001))).toMatchObject({ code: 'conflict' });
    r = apply(apply(r, good, at(1_030_000)), { type: 'tick' }, at(1_030_000));
    expect(r.step).toBe(2);
  });

  it('resumes after a leader change from the stored JSON alone', () => {
    let r = apply(apply(start(), good, at(120_000)), { type: 'tick' }, at(120_000));
    r = apply(r, bad, at(121_000));
    // The old leader is gone; a new one reads the JSON back from the registry.
    const stored = Rollout.parse(JSON.parse(JSON.stringify(r)));
    expect(stored).toMatchObject({ step: 2, failures: 1, state: 'Progressing' });
    const failed = apply(stored, bad, at(130_000));
    expect(failed).toMatchObject({ state: 'Failed', step: 2 });
    const passed = apply(apply(stored, good, at(240_000)), { type: 'tick' }, at(240_000));
    expect(passed.step).toBe(3);
  });
});

describe('analysis floors', () => {
  it('does not call a fast canary slow because a faster stable p99 is tiny', () => {
    expect(analyse({ requests: 100, errorRate: 0, p99Ms: 43 }, { requests: 1000, errorRate: 0, p99Ms: 9 }, analysis)).toEqual({ ok: true });
    expect(analyse({ requests: 100, errorRate: 0, p99Ms: 80 }, { requests: 1000, errorRate: 0, p99Ms: 9 }, analysis)).toMatchObject({ ok: false, why: 'canary p99 80 ms > 1.5× stable 9 ms' });
    // One error in 500 against an error-free stable is under the 0.1 % floor × 2.
    expect(analyse({ requests: 500, errorRate: 0.002, p99Ms: 10 }, { requests: 1000, errorRate: 0, p99Ms: 9 }, analysis)).toEqual({ ok: true });
  });
});
