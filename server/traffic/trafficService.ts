/**
 * Traffic changes as an operator makes them: read the service and its policy, check the change
 * (validation + guardrail), write with compare-and-set, and leave an audit entry. Errors are
 * values with a closed code so the HTTP layer maps them to 400/404/409 without guessing.
 */
import type { Service } from '../../protocol/model';
import type { AuditEntry, StoredPolicy, TrafficStore } from './trafficStore';
import { applyChange, checkChange, flipWeights, inSubset, isDrained, isProblem, policyFromTags, policyProblem, type PolicyChange, type TrafficPolicy } from './trafficPolicy';

export type TrafficError =
  | { code: 'not_found'; message: string }
  | { code: 'invalid'; message: string }
  | { code: 'guardrail'; message: string }
  | { code: 'conflict'; message: string; current: StoredPolicy }
  /** The registry refused or failed the read/write (e.g. Kubernetes RBAC without `patch services`). */
  | { code: 'registry'; message: string };

export type TrafficResult<T> = { ok: true; value: T } | { ok: false; error: TrafficError };

export interface TrafficView extends StoredPolicy {
  /** Per subset: instances and how many are passing (drained ones excluded). */
  subsets: Record<string, { instances: number; passing: number }>;
}

export interface TrafficServiceDeps {
  /** The store for a source, or null if that source cannot hold traffic policies. */
  storeFor(sourceId: string): TrafficStore | null;
  /** The service with its instances (a pending one is read first: see TopologyStore.loaded). */
  service(id: string): Service | undefined | Promise<Service | undefined>;
  now?: () => Date;
}

export class TrafficService {
  private readonly now: () => Date;
  constructor(private readonly deps: TrafficServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async view(serviceId: string): Promise<TrafficResult<TrafficView>> {
    const ctx = await this.context(serviceId);
    if (!ctx.ok) return ctx;
    const stored = await ctx.value.store.get(ctx.value.svc.scope, ctx.value.svc.name);
    return { ok: true, value: { ...stored, subsets: subsetHealth(ctx.value.svc, stored.policy) } };
  }

  async history(serviceId: string): Promise<TrafficResult<AuditEntry[]>> {
    const ctx = await this.context(serviceId);
    if (!ctx.ok) return ctx;
    return { ok: true, value: await ctx.value.store.history(ctx.value.svc.scope, ctx.value.svc.name) };
  }

  /** `ifMatch`: the ModifyIndex the operator saw; without it the current one is used. */
  async change(serviceId: string, change: PolicyChange, who: string, ifMatch?: number): Promise<TrafficResult<TrafficView>> {
    const ctx = await this.context(serviceId);
    if (!ctx.ok) return ctx;
    const { store, svc } = ctx.value;
    const stored = await store.get(svc.scope, svc.name);
    if (ifMatch !== undefined && ifMatch !== stored.modifyIndex) {
      await this.auditRejected(store, svc, who, change, stored.policy, null, 'the policy changed since you loaded it');
      return { ok: false, error: { code: 'conflict', message: 'the policy changed since you loaded it', current: stored } };
    }
    if (stored.invalid && !change.subsets) {
      const message = `subsets: ${stored.invalid}; send subsets with the weights to overwrite it`;
      await this.auditRejected(store, svc, who, change, null, null, message);
      return { ok: false, error: { code: 'invalid', message } };
    }
    const problems = checkChange(change, stored.policy, svc.instances);
    if (problems.length) {
      const code = problems.some((p) => p.code === 'invalid') ? 'invalid' : 'guardrail';
      const message = problems.map((p) => p.message).join('; ');
      const attempted = code === 'guardrail' ? applyChange(change, stored.policy, who, this.now()) : null;
      await this.auditRejected(store, svc, who, change, stored.policy, attempted, message);
      return { ok: false, error: { code, message } };
    }
    const next = applyChange(change, stored.policy, who, this.now());
    // Never write what a reader would refuse (or misread): integer weights over the real subsets, sum 100.
    const bad = policyProblem(next);
    if (bad) {
      await this.auditRejected(store, svc, who, change, stored.policy, null, bad.message);
      return { ok: false, error: bad };
    }
    const written = await store.put(svc.scope, svc.name, next, stored.modifyIndex);
    if (!written.ok && 'refused' in written) {
      await this.auditRejected(store, svc, who, change, stored.policy, next, written.refused);
      return { ok: false, error: { code: 'invalid', message: written.refused } };
    }
    if (!written.ok) {
      const message = written.reason ?? 'another change landed first';
      await this.auditRejected(store, svc, who, change, written.current.policy, next, message);
      return { ok: false, error: { code: 'conflict', message, current: written.current } };
    }
    const forced = change.force && checkChange({ ...change, force: false }, stored.policy, svc.instances).length > 0;
    await store.audit(svc.scope, svc.name, { at: next.updatedAt, by: who, reason: next.reason, outcome: 'applied', forced, before: stored.policy, after: next });
    return { ok: true, value: { policy: next, modifyIndex: written.modifyIndex, subsets: subsetHealth(svc, next), ...(written.meshRoute ? { meshRoute: written.meshRoute } : {}) } };
  }

  async flip(serviceId: string, who: string, opts: { reason?: string; force?: boolean; ifMatch?: number }): Promise<TrafficResult<TrafficView>> {
    const ctx = await this.context(serviceId);
    if (!ctx.ok) return ctx;
    const { store, svc } = ctx.value;
    const stored = await store.get(svc.scope, svc.name);
    let current = stored.policy;
    if (stored.invalid) return { ok: false, error: { code: 'invalid', message: `${stored.invalid}; PUT a policy with subsets (or enable traffic control) to overwrite it` } };
    if (!current) {
      const fresh = policyFromTags(svc.instances, who, this.now());
      if (isProblem(fresh)) return { ok: false, error: fresh };
      current = fresh;
    }
    const weights = flipWeights(current);
    if (isProblem(weights)) return { ok: false, error: weights };
    const target = Object.entries(weights).find(([, w]) => w === 100)![0];
    return this.change(serviceId, { weights, subsets: current.subsets, reason: opts.reason || `flip to ${target}`, force: opts.force ?? false }, who, opts.ifMatch ?? stored.modifyIndex);
  }

  /** "Enable traffic control": a first policy from the instances' tags (blue/green), all weight where it already goes. */
  async enable(serviceId: string, who: string): Promise<TrafficResult<TrafficView>> {
    const ctx = await this.context(serviceId);
    if (!ctx.ok) return ctx;
    const stored = await ctx.value.store.get(ctx.value.svc.scope, ctx.value.svc.name);
    if (stored.policy) return { ok: false, error: { code: 'conflict', message: 'this service already has a traffic policy', current: stored } };
    const fresh = policyFromTags(ctx.value.svc.instances, who, this.now());
    if (isProblem(fresh)) return { ok: false, error: fresh };
    return this.change(serviceId, { weights: fresh.weights, subsets: fresh.subsets, reason: 'traffic control enabled', force: false }, who, stored.modifyIndex);
  }

  async rollback(serviceId: string, entryId: string, who: string, opts: { force?: boolean }): Promise<TrafficResult<TrafficView>> {
    const history = await this.history(serviceId);
    if (!history.ok) return history;
    // Only applied changes are rollback targets (a refusal may share an id's millisecond).
    const entry = history.value.find((h) => h.id === entryId && h.outcome === 'applied') ?? history.value.find((h) => h.id === entryId);
    if (!entry) return { ok: false, error: { code: 'not_found', message: `no history entry "${entryId}" for ${serviceId}` } };
    const target = entry.after;
    if (entry.outcome === 'rejected' || !target) return { ok: false, error: { code: 'invalid', message: `history entry "${entryId}" was a rejected change; roll back to an applied one` } };
    return this.change(serviceId, { weights: target.weights, subsets: target.subsets, drain: target.drain, reason: `roll back to ${entry.id} (${entry.reason || 'no reason given'})`, force: opts.force ?? false }, who);
  }

  /** Refusals go into the audit trail too. A failing audit write must not hide the refusal itself. */
  private async auditRejected(store: TrafficStore, svc: Service, who: string, change: PolicyChange, before: TrafficPolicy | null, attempted: TrafficPolicy | null, error: string): Promise<void> {
    await store
      .audit(svc.scope, svc.name, { at: this.now().toISOString(), by: who, reason: change.reason, outcome: 'rejected', forced: change.force, error, before, after: attempted })
      .catch(() => undefined);
  }

  private async context(serviceId: string): Promise<TrafficResult<{ svc: Service; store: TrafficStore }>> {
    const svc = await this.deps.service(serviceId);
    if (!svc) return { ok: false, error: { code: 'not_found', message: `service "${serviceId}" not found` } };
    if (svc.pending) return { ok: false, error: { code: 'registry', message: `the instances of "${serviceId}" are still being read from the registry; retry shortly` } };
    const store = this.deps.storeFor(svc.sourceId);
    if (!store) return { ok: false, error: { code: 'invalid', message: `source "${svc.sourceId}" cannot hold traffic policies` } };
    return { ok: true, value: { svc, store } };
  }
}

function subsetHealth(svc: Service, policy: TrafficPolicy | null): TrafficView['subsets'] {
  if (!policy) return {};
  return Object.fromEntries(
    Object.entries(policy.subsets).map(([name, subset]) => {
      const members = svc.instances.filter((i) => inSubset(i, subset));
      return [name, { instances: members.length, passing: members.filter((i) => i.health === 'passing' && !isDrained(policy.drain, i.id)).length }];
    }),
  );
}
