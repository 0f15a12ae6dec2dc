/**
 * Rollouts as operators drive them (REST, CLI, UI) on any replica: start one, promote, pause,
 * resume, abort — each a compare-and-set write of the stored rollout, followed at once by the
 * weight change it implies. Every weight change goes through the TrafficService (guardrail,
 * compare-and-set, audit "rollout payment step 2/4: green 25%"). The leader's controller
 * (rolloutController.ts) does the rest: analysis, timed steps, and finishing any weight change a
 * replica started but did not see land.
 */
import type { Service } from '../../protocol/model';
import { desiredCanaryWeight, isActive, rolloutReason, type ControllerStatus, type Rollout, type RolloutAction, type RolloutView, type StartRolloutBody } from '../../protocol/rollout';
import { weightOf } from '../../protocol/traffic';
import type { TrafficService } from '../traffic/trafficService';
import { isRolloutProblem, planStart, transition } from './rolloutMachine';
import type { RolloutStore, StoredRollout } from './rolloutStore';

export type RolloutError =
  | { code: 'not_found' | 'invalid' | 'guardrail' | 'registry'; message: string }
  | { code: 'conflict'; message: string; current: { rollout: Rollout | null; modifyIndex: number } };
export type RolloutResult<T> = { ok: true; value: T } | { ok: false; error: RolloutError };

/** Who the traffic audit names for weight changes a rollout makes. */
export const ROLLOUT_ACTOR = 'rollout';

export interface RolloutServiceDeps {
  storeFor(sourceId: string): RolloutStore | null;
  traffic: TrafficService;
  /** The service with its instances (a pending one is read first: see TopologyStore.loaded). */
  service(id: string): Service | undefined | Promise<Service | undefined>;
  controllerStatus(sourceId: string): ControllerStatus;
  /** A rollout was written (badge, wake the controller). */
  onWrite?(serviceId: string, rollout: Rollout): void;
  now?: () => Date;
}

export class RolloutService {
  private readonly now: () => Date;
  constructor(private readonly deps: RolloutServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async view(id: string): Promise<RolloutResult<RolloutView>> {
    const ctx = await this.context(id);
    if (!ctx.ok) return ctx;
    const stored = await ctx.value.store.get(ctx.value.svc.scope, ctx.value.svc.name);
    return { ok: true, value: await this.viewOf(ctx.value.svc, stored) };
  }

  async start(id: string, body: StartRolloutBody, who: string, ifMatch?: number): Promise<RolloutResult<RolloutView>> {
    const ctx = await this.context(id);
    if (!ctx.ok) return ctx;
    const { svc, store } = ctx.value;
    for (let attempt = 0; ; attempt++) {
      const stored = await store.get(svc.scope, svc.name);
      const done = await this.startOnce(svc, store, stored, body, who, ifMatch);
      // A lost race against the controller finishing the previous rollout (its last write) is
      // retried on a fresh read; against another start, the retry finds that rollout and says so.
      if (done.ok || done.error.code !== 'conflict' || ifMatch !== undefined || attempt >= 3 || isActive(done.error.current.rollout)) return done;
    }
  }

  private async startOnce(svc: Service, store: RolloutStore, stored: StoredRollout, body: StartRolloutBody, who: string, ifMatch: number | undefined): Promise<RolloutResult<RolloutView>> {
    const id = svc.id;
    if (ifMatch !== undefined && ifMatch !== stored.modifyIndex) return conflict('the rollout changed since you loaded it', stored);
    let view = await this.deps.traffic.view(id);
    if (!view.ok) return { ok: false, error: trafficError(view.error) };
    if (view.value.invalid) return { ok: false, error: { code: 'invalid', message: `traffic policy: ${view.value.invalid}` } };
    if (!view.value.policy) {
      // No policy yet: enable traffic control from the blue/green tags, or say why it cannot be.
      view = await this.deps.traffic.enable(id, who);
      if (!view.ok) return { ok: false, error: view.error.code === 'conflict' ? { code: 'invalid', message: `traffic policy: ${view.error.message}` } : { ...trafficError(view.error), message: `traffic policy: ${view.error.message}` } };
    }
    const plan = planStart(body, { service: svc.name, policy: view.value.policy!, instances: svc.instances, existing: stored.rollout, who, now: this.now() });
    if (isRolloutProblem(plan)) return plan.code === 'conflict' ? conflict(plan.message, stored) : { ok: false, error: plan };
    const written = await store.put(svc.scope, svc.name, plan, stored.modifyIndex);
    if (!written.ok) return conflict('another change to the rollout landed first', written.current);
    this.deps.onWrite?.(id, plan);
    const settled = await this.settleWeights(svc, store, plan, written.modifyIndex);
    return { ok: true, value: await this.viewOf(svc, settled) };
  }

  async act(id: string, action: RolloutAction, who: string, reason?: string, ifMatch?: number): Promise<RolloutResult<RolloutView>> {
    const ctx = await this.context(id);
    if (!ctx.ok) return ctx;
    const { svc, store } = ctx.value;
    // Without If-Match the action applies to whatever step the rollout is at: a lost race with
    // the controller's own write is retried on a fresh read, never reported to the operator.
    for (let attempt = 0; ; attempt++) {
      const stored = await store.get(svc.scope, svc.name);
      if (!stored.rollout) return { ok: false, error: { code: 'not_found', message: stored.invalid ?? `no rollout on ${svc.name}` } };
      if (ifMatch !== undefined && ifMatch !== stored.modifyIndex) return conflict('the rollout changed since you loaded it', stored);
      const next = transition(stored.rollout, { type: 'action', action, who, reason }, this.now(), who);
      if (isRolloutProblem(next)) return next.code === 'conflict' ? conflict(next.message, stored) : { ok: false, error: next };
      const written = await store.put(svc.scope, svc.name, next, stored.modifyIndex);
      if (!written.ok) {
        if (ifMatch === undefined && attempt < 3) continue;
        return conflict('another change to the rollout landed first', written.current);
      }
      this.deps.onWrite?.(id, next);
      const settled = await this.settleWeights(svc, store, next, written.modifyIndex);
      return { ok: true, value: await this.viewOf(svc, settled) };
    }
  }

  /**
   * Makes the traffic policy carry the weight the rollout wants, through the TrafficService,
   * then records it in the rollout (`applied`). A step that cannot be written pauses the rollout
   * and says why: a guardrail refusal on the way up, or a refusal from beside the policy (a
   * Kubernetes mesh route edited outside Switchboard: the 409 names the route and its weights).
   * A rollout paused that way stays put until an operator resumes it (no retry, and no refused
   * audit entry, every controller pass); the way back to stable is retried until it lands.
   */
  async settleWeights(svc: Service, store: RolloutStore, rollout: Rollout, modifyIndex: number): Promise<StoredRollout> {
    const want = desiredCanaryWeight(rollout);
    if (rollout.applied === want || pausedByRefusal(rollout)) return { rollout, modifyIndex };
    let next: Rollout = rollout;
    // Compare-and-set on the policy too: a replica answering an operator and the leader may
    // settle the same step at once, and only one of them may write it.
    for (let attempt = 0; ; attempt++) {
      const view = await this.deps.traffic.view(svc.id);
      if (!view.ok) return { rollout, modifyIndex };
      const policy = view.value.policy;
      if (policy && weightOf(policy, rollout.canary) === want && weightOf(policy, rollout.stable) === 100 - want) break;
      const changed = await this.deps.traffic.change(svc.id, { weights: { [rollout.stable]: 100 - want, [rollout.canary]: want }, reason: rolloutReason(svc.name, rollout), force: false }, ROLLOUT_ACTOR, view.value.modifyIndex);
      if (changed.ok) break;
      // A 409 whose policy is still the one we wrote against was not a lost race on the policy:
      // something written beside it refused (a mesh route someone else edited). Retrying cannot help.
      const besidePolicy = changed.error.code === 'conflict' && changed.error.current.modifyIndex === view.value.modifyIndex;
      if (changed.error.code === 'conflict' && !besidePolicy && attempt < 3) continue;
      const pause = besidePolicy || (changed.error.code === 'guardrail' && want > (rollout.applied ?? 0));
      if (!pause || rollout.state !== 'Progressing') return { rollout, modifyIndex };
      const at = this.now().toISOString();
      next = { ...rollout, state: 'Paused', elapsedMs: Math.max(0, Date.parse(at) - Date.parse(rollout.since)), message: `${PAUSED_PREFIX}${changed.error.message}`, updatedAt: at, updatedBy: ROLLOUT_ACTOR };
      const paused = await store.put(svc.scope, svc.name, next, modifyIndex);
      if (paused.ok) this.deps.onWrite?.(svc.id, next);
      return paused.ok ? { rollout: next, modifyIndex: paused.modifyIndex } : paused.current;
    }
    next = { ...next, applied: want };
    const written = await store.put(svc.scope, svc.name, next, modifyIndex);
    return written.ok ? { rollout: next, modifyIndex: written.modifyIndex } : written.current;
  }

  private async viewOf(svc: Service, stored: StoredRollout): Promise<RolloutView> {
    const r = stored.rollout;
    // The registry's policy, not the topology's copy of it (which follows a watch and may lag).
    const tv = r ? await this.deps.traffic.view(svc.id).catch(() => null) : null;
    const policy = tv?.ok ? tv.value.policy : (svc.traffic ?? null);
    return {
      rollout: r,
      modifyIndex: stored.modifyIndex,
      ...(stored.invalid ? { invalid: stored.invalid } : {}),
      canaryWeight: r && policy ? weightOf(policy, r.canary) : null,
      controller: this.deps.controllerStatus(svc.sourceId),
    };
  }

  private async context(id: string): Promise<RolloutResult<{ svc: Service; store: RolloutStore }>> {
    const svc = await this.deps.service(id);
    if (!svc) return { ok: false, error: { code: 'not_found', message: `service "${id}" not found` } };
    if (svc.pending) return { ok: false, error: { code: 'registry', message: `the instances of "${id}" are still being read from the registry; retry shortly` } };
    const store = this.deps.storeFor(svc.sourceId);
    if (!store) return { ok: false, error: { code: 'invalid', message: `source "${svc.sourceId}" cannot hold rollouts` } };
    return { ok: true, value: { svc, store } };
  }
}

const PAUSED_PREFIX = 'paused: ';

/** Paused by settleWeights because its step could not be written (guardrail, mesh route): an operator resumes it. */
function pausedByRefusal(r: Rollout): boolean {
  return r.state === 'Paused' && r.updatedBy === ROLLOUT_ACTOR && r.message.startsWith(PAUSED_PREFIX);
}

function conflict(message: string, stored: StoredRollout): { ok: false; error: RolloutError } {
  return { ok: false, error: { code: 'conflict', message, current: { rollout: stored.rollout, modifyIndex: stored.modifyIndex } } };
}

function trafficError(e: { code: string; message: string }): RolloutError {
  switch (e.code) {
    case 'not_found':
    case 'invalid':
    case 'guardrail':
    case 'registry':
      return { code: e.code, message: e.message };
    default:
      return { code: 'invalid', message: e.message };
  }
}
