/**
 * The rollout state machine (DESIGN.md "Rollouts"): starting one (validation against the
 * service, its policy and any rollout already there) and every transition — time passing, an
 * analysis interval, promote, pause, resume, abort — as pure functions of the stored rollout
 * and an injected `now`. Whatever replica or leader holds the JSON can continue from it: the
 * only in-memory state anywhere is when the next analysis is due.
 */
import type { Instance } from '../../protocol/model';
import { durationMs, isActive, MAX_MEASUREMENTS, Rollout, stepProblems, type RolloutAction, type StartRolloutBody, type SubsetMetrics } from '../../protocol/rollout';
import { inSubset, isDrained, own, type TrafficPolicy } from '../../protocol/traffic';
import { analyse } from './analysis';

export type RolloutProblem =
  | { code: 'invalid'; message: string }
  | { code: 'guardrail'; message: string }
  | { code: 'conflict'; message: string };

export type RolloutEvent =
  | { type: 'tick' }
  | { type: 'measure'; canary: SubsetMetrics; stable: SubsetMetrics }
  | { type: 'action'; action: RolloutAction; who: string; reason?: string };

export function isRolloutProblem(x: unknown): x is RolloutProblem {
  return typeof x === 'object' && x !== null && 'code' in x && 'message' in x && !('version' in x);
}

/**
 * A new rollout from an operator's request, or the problem that names the field. `policy` is
 * the service's traffic policy (the caller enables one from blue/green tags first if needed).
 */
export function planStart(body: StartRolloutBody, ctx: { service: string; policy: TrafficPolicy; instances: readonly Instance[]; existing: Rollout | null; who: string; now: Date }): Rollout | RolloutProblem {
  const { policy, existing } = ctx;
  if (existing && isActive(existing)) {
    return { code: 'conflict', message: `a rollout is already ${existing.state} on ${ctx.service} (step ${existing.step}/${existing.steps.length}, started by ${existing.startedBy}); abort it first` };
  }
  const steps = stepProblems(body.steps);
  if (steps.length) return { code: 'invalid', message: steps.map((s) => s.message).join('; ') };
  const names = Object.keys(policy.subsets);
  const byWeight = [...names].sort((a, b) => (own(policy.weights, b) ?? 0) - (own(policy.weights, a) ?? 0));
  const stable = body.stable ?? (body.canary ? byWeight.find((n) => n !== body.canary) : byWeight[0]);
  const canary = body.canary ?? (names.length === 2 ? names.find((n) => n !== stable) : undefined);
  const known = names.join(', ');
  if (!stable) return { code: 'invalid', message: `stable: the policy has no other subset than the canary (known: ${known})` };
  if (!canary) return { code: 'invalid', message: `canary: which subset? the policy has ${names.length} (${known})` };
  if (!Object.hasOwn(policy.subsets, stable)) return { code: 'invalid', message: `stable: unknown subset "${stable}" (known: ${known})` };
  if (!Object.hasOwn(policy.subsets, canary)) return { code: 'invalid', message: `canary: unknown subset "${canary}" (known: ${known})` };
  if (canary === stable) return { code: 'invalid', message: `canary: must differ from stable ("${stable}")` };
  for (const n of names) {
    if (n !== canary && n !== stable && (own(policy.weights, n) ?? 0) > 0) return { code: 'invalid', message: `weights.${n}: subset "${n}" has ${own(policy.weights, n)}%; a rollout moves weight between ${stable} and ${canary} only, set it to 0 first` };
  }
  const passing = ctx.instances.filter((i) => i.health === 'passing' && !isDrained(policy.drain, i.id) && inSubset(i, policy.subsets[canary]!)).length;
  if (passing === 0) return { code: 'guardrail', message: `canary: subset "${canary}" has no passing instance` };
  const now = ctx.now.toISOString();
  const parsed = Rollout.safeParse({
    version: 1,
    stable,
    canary,
    steps: body.steps,
    analysis: body.analysis,
    // A single step of 100 is a straight switch: nothing to progress through.
    state: body.steps[0]?.weight === 100 ? 'Promoted' : 'Progressing',
    step: 1,
    since: now,
    measurements: [],
    startedBy: ctx.who,
    reason: body.reason,
    failures: 0,
    message: `started by ${ctx.who}`,
    updatedAt: now,
    updatedBy: ctx.who,
  });
  if (!parsed.success) return { code: 'invalid', message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return parsed.data;
}

/** The next rollout, the same object when nothing changed, or why the event is refused (actions only). */
export function transition(r: Rollout, event: RolloutEvent, now: Date, who = 'switchboard'): Rollout | RolloutProblem {
  switch (event.type) {
    case 'tick':
      return tick(r, now, who);
    case 'measure':
      return measure(r, event.canary, event.stable, now, who);
    case 'action':
      return act(r, event.action, event.who, event.reason, now);
  }
}

/** How long the current step still holds (ms); null when it waits for a promote or is not running. */
export function timeLeft(r: Rollout, now: Date): number | null {
  const pause = r.steps[r.step - 1]?.pause;
  if (!pause || !isActive(r)) return null;
  const elapsed = r.state === 'Paused' ? (r.elapsedMs ?? 0) : now.getTime() - Date.parse(r.since);
  return Math.max(0, durationMs(pause)! - elapsed);
}

function tick(r: Rollout, now: Date, who: string): Rollout {
  if (r.state !== 'Progressing') return r;
  const left = timeLeft(r, now);
  if (left === null || left > 0) return r;
  // The step's time is up; it moves on only on a passing interval of its own (inconclusive holds).
  const last = r.measurements.at(-1);
  if (!last || last.step !== r.step || last.ok !== true) return r;
  return advance(r, now, who, `step ${r.step} passed analysis`);
}

function measure(r: Rollout, canary: SubsetMetrics, stable: SubsetMetrics, now: Date, who: string): Rollout {
  if (r.state !== 'Progressing') return r;
  const verdict = analyse(canary, stable, r.analysis);
  const m = { at: now.toISOString(), step: r.step, canary, stable, ok: verdict.ok, ...(verdict.why ? { why: verdict.why } : {}) };
  const measurements = [...r.measurements, m].slice(-MAX_MEASUREMENTS);
  const failures = verdict.ok === false ? r.failures + 1 : verdict.ok === true ? 0 : r.failures;
  const next = { ...r, measurements, failures, updatedAt: m.at, updatedBy: who };
  if (failures >= r.analysis.failureLimit) {
    return { ...next, state: 'Failed', since: m.at, message: `${verdict.why} for ${failures} interval${failures === 1 ? '' : 's'}` };
  }
  return next;
}

function act(r: Rollout, action: RolloutAction, who: string, reason: string | undefined, now: Date): Rollout | RolloutProblem {
  if (!isActive(r)) return { code: 'conflict', message: `the rollout is already ${r.state}${r.message ? ` (${r.message})` : ''}` };
  const at = now.toISOString();
  const why = reason ? `: ${reason}` : '';
  switch (action) {
    case 'promote':
      return advance({ ...r, state: 'Progressing', elapsedMs: undefined }, now, who, `promoted by ${who}${why}`);
    case 'pause':
      if (r.state === 'Paused') return { code: 'conflict', message: 'the rollout is already Paused' };
      return { ...r, state: 'Paused', elapsedMs: Math.max(0, now.getTime() - Date.parse(r.since)), message: `paused by ${who}${why}`, updatedAt: at, updatedBy: who };
    case 'resume': {
      if (r.state !== 'Paused') return { code: 'conflict', message: `the rollout is ${r.state}, not Paused` };
      const { elapsedMs, ...rest } = r;
      return { ...rest, state: 'Progressing', since: new Date(now.getTime() - (elapsedMs ?? 0)).toISOString(), message: `resumed by ${who}${why}`, updatedAt: at, updatedBy: who };
    }
    case 'abort':
      return { ...r, state: 'Aborted', since: at, elapsedMs: undefined, message: `aborted by ${who}${why}`, updatedAt: at, updatedBy: who };
  }
}

function advance(r: Rollout, now: Date, who: string, message: string): Rollout {
  const at = now.toISOString();
  const { elapsedMs: _e, ...rest } = r;
  const step = Math.min(r.step + 1, r.steps.length);
  const promoted = r.steps[step - 1]!.weight === 100;
  return { ...rest, step, state: promoted ? 'Promoted' : 'Progressing', since: at, failures: 0, message: promoted ? `${message}; promoted` : message, updatedAt: at, updatedBy: who };
}
