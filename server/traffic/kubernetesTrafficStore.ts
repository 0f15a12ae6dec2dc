/**
 * Traffic policies on Kubernetes (DESIGN.md): the same JSON in the Service annotation
 * `switchboard.dev/traffic`, written as a merge patch carrying `metadata.resourceVersion`, so a
 * concurrent change gets 409 Conflict instead of being overwritten. A blue/green flip (all
 * weight on one subset whose tags are pod labels, `color=green`) also patches the Service
 * selector, so plain kube-proxy traffic follows. The audit trail is a bounded list in the
 * annotation `switchboard.dev/traffic-history`. Compare-and-set is on the policy's revision
 * (see REVISION_ANNOTATION), each write guarded by the resourceVersion it read.
 *
 * A Service bound to a mesh route (annotation `switchboard.dev/route`, kubernetesMeshRoutes.ts)
 * gets the weights written to that route too, in this order, so nothing half-applies silently:
 * the route first (replace with its resourceVersion; a route changed by someone else, missing or
 * forbidden stops the change before anything is written), then the Service annotation. If the
 * Service write then fails or loses a race, the route is put back as it was (guarded by the
 * resourceVersion our write produced); only if that restore fails too does the error say the
 * route carries weights the policy does not.
 */
import type * as k8s from '@kubernetes/client-node';
import { kubernetesClient, mergePatchOptions } from '../../clients/kubernetes/kubernetesClient';
import { z } from 'zod';
import { decodePolicyJson, type TrafficPolicy } from '../../protocol/traffic';
import { TRAFFIC_ANNOTATION } from '../../clients/kubernetes/kubernetesObjects';
import { describeKubeFailure, kubeFailure } from '../../clients/kubernetes/kubeApiError';
import type { MeshRoute } from '../../protocol/api';
import { describeRoute, formatWeights, routeBinding, type RouteBinding } from './kubernetesMeshRoutes';
import { KubernetesMeshRoutes, type MeshRoutesOptions, type RouteWrite } from './kubernetesMeshRoutesClient';

export { TRAFFIC_ANNOTATION };
import { AuditEntry, type StoredPolicy, type TrafficStore, type WriteResult } from './trafficStore';

export const HISTORY_ANNOTATION = 'switchboard.dev/traffic-history';
/**
 * The policy's own version. The Service's resourceVersion moves with every write to it (the
 * history annotation, other controllers), so it cannot be what an operator compares against;
 * this counter moves only when the policy does, and each write still carries the
 * resourceVersion it read, so the read-modify-write itself is atomic.
 */
export const REVISION_ANNOTATION = 'switchboard.dev/traffic-revision';


/** Refused attempts, a bounded list of their own (so they never push applied changes out). */
export const REFUSED_ANNOTATION = 'switchboard.dev/traffic-refused';
/**
 * The Service's own selector, recorded the first time Switchboard patches it: the labels a
 * flip must keep. A flip only ever adds or changes the label keys that tell the policy's
 * subsets apart (`color`), never these (`app`), so the Service can only ever select pods its
 * own selector already covers. An administrator may edit it with kubectl.
 */
export const BASE_SELECTOR_ANNOTATION = 'switchboard.dev/base-selector';

export type SelectorDecision =
  /** No selector change (a canary split, or subsets that are not pod labels). */
  | { kind: 'none' }
  | { kind: 'patch'; patch: Record<string, string | null>; base: Record<string, string> }
  | { kind: 'refused'; why: string };

const LABEL = /^([^=]+)=([^=]*)$/;

function labelsOf(tags: readonly string[]): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const t of tags) {
    const m = LABEL.exec(t);
    if (!m) return null;
    out.set(m[1]!, m[2]!);
  }
  return out;
}

/** Label keys whose values differ between the policy's subsets (absent counts as a value). */
export function flipKeys(policy: Pick<TrafficPolicy, 'subsets'>): Set<string> | null {
  const all: Map<string, string>[] = [];
  for (const subset of Object.values(policy.subsets)) {
    const labels = labelsOf(subset.tags);
    if (!labels) return null;
    all.push(labels);
  }
  const keys = new Set(all.flatMap((l) => [...l.keys()]));
  return new Set([...keys].filter((k) => new Set(all.map((l) => l.get(k) ?? '\u0000absent')).size > 1));
}

/**
 * The Service's base selector: the recorded one, or (before anything was recorded) the current
 * selector without the keys the stored policy flips.
 */
export function baseSelector(service: { selector: Readonly<Record<string, string>> | undefined; baseAnnotation: string | undefined; stored: TrafficPolicy | null }): { ok: true; base: Record<string, string> } | { ok: false; why: string } {
  if (service.baseAnnotation !== undefined) {
    const parsed = z.record(z.string(), z.string()).safeParse(safeJson(service.baseAnnotation));
    return parsed.success ? { ok: true, base: parsed.data } : { ok: false, why: `annotation ${BASE_SELECTOR_ANNOTATION} is not a JSON object of labels; fix or remove it` };
  }
  const storedKeys = service.stored ? (flipKeys(service.stored) ?? new Set<string>()) : new Set<string>();
  return { ok: true, base: Object.fromEntries(Object.entries(service.selector ?? {}).filter(([k]) => !storedKeys.has(k))) };
}

/**
 * The selector patch a policy implies (DESIGN.md: a blue/green flip also patches the Service
 * selector), under one rule: the patch may only touch label keys that differ between the
 * policy's subsets, and never a key of the Service's base selector. The base is the recorded
 * one (BASE_SELECTOR_ANNOTATION) or, the first time, the current selector without the keys the
 * stored policy already flips. Pure.
 */
export function selectorDecision(
  policy: TrafficPolicy,
  service: { selector: Readonly<Record<string, string>> | undefined; baseAnnotation: string | undefined; stored: TrafficPolicy | null },
): SelectorDecision {
  const full = Object.entries(policy.weights).find(([, w]) => w === 100)?.[0];
  const target = full !== undefined && Object.hasOwn(policy.subsets, full) ? labelsOf(policy.subsets[full]!.tags) : null;
  const keys = flipKeys(policy);
  if (!target || !keys || keys.size === 0) return { kind: 'none' };
  const selector = service.selector ?? {};
  const found = baseSelector(service);
  if (!found.ok) return { kind: 'refused', why: found.why };
  const base = found.base;
  const baseText = Object.entries(base).map(([k, v]) => `${k}=${v}`).join(',');
  if (Object.keys(base).length === 0) {
    return { kind: 'refused', why: 'the Service has no base selector of its own to keep (e.g. app=web); a flip will not choose its pods from the whole namespace' };
  }
  for (const [k, v] of Object.entries(base)) {
    if (selector[k] !== v) return { kind: 'refused', why: `the Service's selector no longer carries its base label ${k}=${v} (${BASE_SELECTOR_ANNOTATION}); fix the selector or the annotation first` };
  }
  const patch: Record<string, string | null> = {};
  for (const k of [...keys].sort()) {
    const want = target.get(k) ?? null;
    if (Object.hasOwn(base, k)) {
      if (want !== base[k]) return { kind: 'refused', why: `subset "${full}" would change the selector label ${k}, which belongs to the Service's base selector (${baseText}); a flip may only change the labels that tell its subsets apart` };
      continue;
    }
    if (want === null && !Object.hasOwn(selector, k)) continue;
    patch[k] = want;
  }
  return { kind: 'patch', patch, base };
}

export class KubernetesTrafficStore implements TrafficStore {
  private readonly core: k8s.CoreV1Api;
  private readonly routes: KubernetesMeshRoutes;

  constructor(kc: k8s.KubeConfig, private readonly historyLimit = 20, private readonly refusedLimit = 20, meshRoutes: MeshRoutesOptions = {}) {
    this.core = kc.makeApiClient(kubernetesClient().CoreV1Api);
    this.routes = new KubernetesMeshRoutes(kc, meshRoutes);
  }

  async get(namespace: string, name: string): Promise<StoredPolicy> {
    const svc = await this.read(namespace, name);
    const stored = storedOf(svc, namespace, name);
    const meshRoute = await this.meshRoute(svc, namespace, name, stored.policy);
    return meshRoute ? { ...stored, meshRoute } : stored;
  }

  async put(namespace: string, name: string, policy: TrafficPolicy, expected: number): Promise<WriteResult> {
    // The mesh route is written once, before the first Service write, and undone if the policy
    // itself is not written (see the file comment). undefined: not decided yet; null: no route.
    let mesh: { binding: RouteBinding; write: RouteWrite } | null | undefined;
    for (let attempt = 0; ; attempt++) {
      const svc = await this.read(namespace, name);
      if (revisionOf(svc) !== expected) {
        const undone = await this.undoRoute(mesh, policy);
        return { ok: false, current: await this.get(namespace, name), ...(undone ? { reason: `another change landed first${undone}` } : {}) };
      }
      const annotations = svc.metadata?.annotations ?? {};
      const facts = { selector: svc.spec?.selector, baseAnnotation: annotations[BASE_SELECTOR_ANNOTATION], stored: storedOf(svc, namespace, name).policy };
      const decision = selectorDecision(policy, facts);
      if (decision.kind === 'refused') return { ok: false, refused: `selector of service ${namespace}/${name}: ${decision.why}${await this.undoRoute(mesh, policy)}` };
      if (mesh === undefined) {
        const bound = routeBinding({ namespace, name, annotations }, Object.keys(policy.subsets));
        if (bound && !bound.ok) return { ok: false, refused: bound.why };
        mesh = bound ? { binding: bound.binding, write: await this.routes.write(bound.binding, policy) } : null;
        if (mesh?.write.kind === 'refused') return { ok: false, refused: mesh.write.why };
        if (mesh?.write.kind === 'conflict') return { ok: false, current: await this.get(namespace, name), reason: mesh.write.why };
      }
      // The base is recorded with the first policy written, whatever it is (a canary too), so a
      // later flip cannot count a base label as one the policy's subsets tell apart.
      const base = facts.baseAnnotation === undefined ? baseSelector(facts) : null;
      const recordBase = base?.ok && Object.keys(base.base).length ? { [BASE_SELECTOR_ANNOTATION]: JSON.stringify(base.base) } : {};
      const revision = expected + 1;
      const body = {
        metadata: {
          resourceVersion: svc.metadata?.resourceVersion,
          annotations: {
            [TRAFFIC_ANNOTATION]: JSON.stringify(policy),
            [REVISION_ANNOTATION]: String(revision),
            ...recordBase,
          },
        },
        ...(decision.kind === 'patch' && Object.keys(decision.patch).length ? { spec: { selector: decision.patch } } : {}),
      };
      try {
        await this.core.patchNamespacedService({ name, namespace, body }, mergePatchOptions());
        return { ok: true, modifyIndex: revision, ...(mesh && 'view' in mesh.write ? { meshRoute: mesh.write.view } : {}) };
      } catch (err) {
        // 409: the Service changed between our read and write; re-read and decide again.
        if ((err as { code?: number }).code !== 409 || attempt >= 4) throw new Error(`PATCH service ${namespace}/${name}: ${describeKubeFailure(kubeFailure(err))}${await this.undoRoute(mesh, policy)}`, { cause: err });
      }
    }
  }

  /** Puts a route this write changed back as it was; says how that went, for the error it joins. */
  private async undoRoute(mesh: { binding: RouteBinding; write: RouteWrite } | null | undefined, policy: TrafficPolicy): Promise<string> {
    if (mesh?.write.kind !== 'written') return '';
    const route = describeRoute(mesh.binding);
    try {
      await this.routes.restore(mesh.binding, mesh.write);
      return `; ${route} was put back as it was`;
    } catch (err) {
      return `; putting ${route} back failed too (${(err as Error).message}): it carries ${formatWeights(policy.weights)}, which the policy does not`;
    }
  }

  /**
   * The mesh route the Service is bound to, read back; undefined when it is bound to none or has
   * no policy yet (its subsets name the route's backends).
   */
  private async meshRoute(svc: k8s.V1Service, namespace: string, name: string, policy: TrafficPolicy | null): Promise<MeshRoute | undefined> {
    const bound = policy ? routeBinding({ namespace, name, annotations: svc.metadata?.annotations }, Object.keys(policy.subsets)) : null;
    if (!bound) return undefined;
    if (!bound.ok) return { kind: null, namespace, name: bound.text, apiVersion: null, backends: {}, weights: null, inSync: false, writtenAt: null, writtenBy: null, error: bound.why };
    return this.routes.view(bound.binding, policy);
  }

  async audit(namespace: string, name: string, entry: Omit<import('zod').input<typeof AuditEntry>, 'id'>): Promise<AuditEntry> {
    const refused = entry.outcome === 'rejected';
    // Read-modify-write of the history lists, with the same resourceVersion precondition; retried on a race.
    for (let attempt = 0; ; attempt++) {
      const svc = await this.read(namespace, name);
      const annotations = svc.metadata?.annotations ?? {};
      // An older version kept refusals in the applied list: they move to their own list here.
      const legacy = parseHistory(annotations[HISTORY_ANNOTATION]);
      const applied = legacy.filter((h) => h.outcome === 'applied');
      const refusals = [...parseHistory(annotations[REFUSED_ANNOTATION]), ...legacy.filter((h) => h.outcome === 'rejected')].sort((a, b) => (a.id < b.id ? 1 : -1));
      const mine = refused ? refusals : applied;
      let ms = Date.parse(entry.at);
      while (mine.some((h) => h.id === String(ms).padStart(15, '0'))) ms++;
      const full = AuditEntry.parse({ id: String(ms).padStart(15, '0'), ...entry });
      const nextApplied = refused ? applied : [full, ...applied].slice(0, this.historyLimit);
      const nextRefused = (refused ? [full, ...refusals] : refusals).slice(0, this.refusedLimit);
      const body = { metadata: { resourceVersion: svc.metadata?.resourceVersion, annotations: { [HISTORY_ANNOTATION]: JSON.stringify(nextApplied), [REFUSED_ANNOTATION]: JSON.stringify(nextRefused) } } };
      try {
        await this.core.patchNamespacedService({ name, namespace, body }, mergePatchOptions());
        return full;
      } catch (err) {
        if ((err as { code?: number }).code !== 409 || attempt >= 4) throw new Error(`PATCH service ${namespace}/${name}: ${describeKubeFailure(kubeFailure(err))}`, { cause: err });
      }
    }
  }

  async history(namespace: string, name: string): Promise<AuditEntry[]> {
    const svc = await this.read(namespace, name);
    const annotations = svc.metadata?.annotations ?? {};
    return [...parseHistory(annotations[HISTORY_ANNOTATION]), ...parseHistory(annotations[REFUSED_ANNOTATION])].sort((a, b) =>
      a.id === b.id ? (a.outcome === 'applied' ? -1 : 1) : a.id < b.id ? 1 : -1,
    );
  }

  private async read(namespace: string, name: string): Promise<k8s.V1Service> {
    try {
      return await this.core.readNamespacedService({ name, namespace });
    } catch (err) {
      throw new Error(`GET service ${namespace}/${name}: ${describeKubeFailure(kubeFailure(err))}`, { cause: err });
    }
  }
}

function storedOf(svc: k8s.V1Service, namespace: string, name: string): StoredPolicy {
  const raw = svc.metadata?.annotations?.[TRAFFIC_ANNOTATION];
  if (!raw) return { policy: null, modifyIndex: revisionOf(svc) };
  const decoded = decodePolicyJson(raw);
  if (!decoded.ok) return { policy: null, modifyIndex: revisionOf(svc), invalid: `annotation ${TRAFFIC_ANNOTATION} on ${namespace}/${name} is not a valid traffic policy: ${decoded.why}` };
  return { policy: decoded.policy, modifyIndex: revisionOf(svc) };
}

function revisionOf(svc: k8s.V1Service): number {
  const n = Number(svc.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function parseHistory(raw: string | undefined): AuditEntry[] {
  const list = raw ? safeJson(raw) : [];
  if (!Array.isArray(list)) return [];
  return list.flatMap((e) => {
    const parsed = AuditEntry.safeParse(e);
    return parsed.success ? [parsed.data] : [];
  });
}
