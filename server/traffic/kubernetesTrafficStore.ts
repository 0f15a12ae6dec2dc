/**
 * Traffic policies on Kubernetes (DESIGN.md): the same JSON in the Service annotation
 * `switchboard.dev/traffic`, written as a merge patch carrying `metadata.resourceVersion`, so a
 * concurrent change gets 409 Conflict instead of being overwritten. A blue/green flip (all
 * weight on one subset whose tags are pod labels, `color=green`) also patches the Service
 * selector, so plain kube-proxy traffic follows. The audit trail is a bounded list in the
 * annotation `switchboard.dev/traffic-history`. Compare-and-set is on the policy's revision
 * (see REVISION_ANNOTATION), each write guarded by the resourceVersion it read.
 */
import * as k8s from '@kubernetes/client-node';
import { decodePolicyJson, type TrafficPolicy } from '../../protocol/traffic';
import { TRAFFIC_ANNOTATION } from '../../clients/kubernetes/kubernetesObjects';
import { describeError } from '../sources/kubernetes/kubernetesSource';

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

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/** The selector a policy with all weight on one label-defined subset implies, else null. */
export function selectorFor(policy: TrafficPolicy): Record<string, string> | null {
  const full = Object.entries(policy.weights).find(([, w]) => w === 100)?.[0];
  const tags = full ? policy.subsets[full]?.tags : undefined;
  if (!tags || !tags.every((t) => /^[^=]+=[^=]*$/.test(t))) return null;
  return Object.fromEntries(tags.map((t) => t.split('=') as [string, string]));
}

export class KubernetesTrafficStore implements TrafficStore {
  private readonly core: k8s.CoreV1Api;

  constructor(kc: k8s.KubeConfig, private readonly historyLimit = 20) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  async get(namespace: string, name: string): Promise<StoredPolicy> {
    const svc = await this.read(namespace, name);
    const raw = svc.metadata?.annotations?.[TRAFFIC_ANNOTATION];
    const decoded = raw ? decodePolicyJson(raw) : { ok: true as const, policy: null };
    if (!decoded.ok) throw new Error(`annotation ${TRAFFIC_ANNOTATION} on ${namespace}/${name} is not a valid traffic policy: ${decoded.why}`);
    return { policy: decoded.policy, modifyIndex: revisionOf(svc) };
  }

  async put(namespace: string, name: string, policy: TrafficPolicy, expected: number): Promise<WriteResult> {
    const selector = selectorFor(policy);
    for (let attempt = 0; ; attempt++) {
      const svc = await this.read(namespace, name);
      if (revisionOf(svc) !== expected) return { ok: false, current: await this.get(namespace, name) };
      const revision = expected + 1;
      const body = {
        metadata: { resourceVersion: svc.metadata?.resourceVersion, annotations: { [TRAFFIC_ANNOTATION]: JSON.stringify(policy), [REVISION_ANNOTATION]: String(revision) } },
        ...(selector ? { spec: { selector } } : {}),
      };
      try {
        await this.core.patchNamespacedService({ name, namespace, body }, mergePatch);
        return { ok: true, modifyIndex: revision };
      } catch (err) {
        // 409: the Service changed between our read and write; re-read and decide again.
        if ((err as { code?: number }).code !== 409 || attempt >= 4) throw new Error(`PATCH service ${namespace}/${name}: ${describeError(err)}`, { cause: err });
      }
    }
  }

  async audit(namespace: string, name: string, entry: Omit<import('zod').input<typeof AuditEntry>, 'id'>): Promise<AuditEntry> {
    // Read-modify-write of the history list, with the same resourceVersion precondition; retried on a race.
    for (let attempt = 0; ; attempt++) {
      const svc = await this.read(namespace, name);
      const history = parseHistory(svc.metadata?.annotations?.[HISTORY_ANNOTATION]);
      let ms = Date.parse(entry.at);
      while (history.some((h) => h.id === String(ms).padStart(15, '0'))) ms++;
      const full = AuditEntry.parse({ id: String(ms).padStart(15, '0'), ...entry });
      const next = [full, ...history].slice(0, this.historyLimit);
      const body = { metadata: { resourceVersion: svc.metadata?.resourceVersion, annotations: { [HISTORY_ANNOTATION]: JSON.stringify(next) } } };
      try {
        await this.core.patchNamespacedService({ name, namespace, body }, mergePatch);
        return full;
      } catch (err) {
        if ((err as { code?: number }).code !== 409 || attempt >= 4) throw new Error(`PATCH service ${namespace}/${name}: ${describeError(err)}`, { cause: err });
      }
    }
  }

  async history(namespace: string, name: string): Promise<AuditEntry[]> {
    const svc = await this.read(namespace, name);
    return parseHistory(svc.metadata?.annotations?.[HISTORY_ANNOTATION]);
  }

  private async read(namespace: string, name: string): Promise<k8s.V1Service> {
    try {
      return await this.core.readNamespacedService({ name, namespace });
    } catch (err) {
      throw new Error(`GET service ${namespace}/${name}: ${describeError(err)}`, { cause: err });
    }
  }
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
