/**
 * Rollouts on Kubernetes: the rollout JSON in the Service annotation `switchboard.dev/rollout`,
 * written as a merge patch carrying the resourceVersion it read (409 → re-read and decide
 * again). Compare-and-set is on the rollout's own revision (`switchboard.dev/rollout-revision`),
 * as the traffic store does, because the Service's resourceVersion moves with every other write.
 */
import type * as k8s from '@kubernetes/client-node';
import { kubernetesClient, mergePatchOptions } from '../../clients/kubernetes/kubernetesClient';
import type { Rollout } from '../../protocol/rollout';
import { decodeRollout, type RolloutStore, type RolloutWrite, type StoredRollout } from './rolloutStore';

export const ROLLOUT_ANNOTATION = 'switchboard.dev/rollout';
export const ROLLOUT_REVISION_ANNOTATION = 'switchboard.dev/rollout-revision';


export class KubernetesRolloutStore implements RolloutStore {
  private readonly core: k8s.CoreV1Api;
  constructor(kc: k8s.KubeConfig) {
    this.core = kc.makeApiClient(kubernetesClient().CoreV1Api);
  }

  async get(namespace: string, name: string): Promise<StoredRollout> {
    return storedOf(await this.read(namespace, name), namespace, name);
  }

  async put(namespace: string, name: string, rollout: Rollout, expected: number): Promise<RolloutWrite> {
    for (let attempt = 0; ; attempt++) {
      const svc = await this.read(namespace, name);
      if (revisionOf(svc) !== expected) return { ok: false, current: storedOf(svc, namespace, name) };
      const revision = expected + 1;
      const body = { metadata: { resourceVersion: svc.metadata?.resourceVersion, annotations: { [ROLLOUT_ANNOTATION]: JSON.stringify(rollout), [ROLLOUT_REVISION_ANNOTATION]: String(revision) } } };
      try {
        await this.core.patchNamespacedService({ name, namespace, body }, mergePatchOptions());
        return { ok: true, modifyIndex: revision };
      } catch (err) {
        if ((err as { code?: number }).code !== 409 || attempt >= 4) throw new Error(`PATCH service ${namespace}/${name}: ${describe(err)}`, { cause: err });
      }
    }
  }

  async list(namespace: string): Promise<{ service: string; stored: StoredRollout }[]> {
    let list: k8s.V1ServiceList;
    try {
      list = await this.core.listNamespacedService({ namespace });
    } catch (err) {
      throw new Error(`LIST services in ${namespace}: ${describe(err)}`, { cause: err });
    }
    return list.items.filter((s) => s.metadata?.annotations?.[ROLLOUT_ANNOTATION]).map((s) => ({ service: s.metadata!.name!, stored: storedOf(s, namespace, s.metadata!.name!) }));
  }

  private async read(namespace: string, name: string): Promise<k8s.V1Service> {
    try {
      return await this.core.readNamespacedService({ name, namespace });
    } catch (err) {
      throw new Error(`GET service ${namespace}/${name}: ${describe(err)}`, { cause: err });
    }
  }
}

function storedOf(svc: k8s.V1Service, namespace: string, name: string): StoredRollout {
  const raw = svc.metadata?.annotations?.[ROLLOUT_ANNOTATION];
  if (!raw) return { rollout: null, modifyIndex: revisionOf(svc) };
  return decodeRollout(raw, `annotation ${ROLLOUT_ANNOTATION} on ${namespace}/${name}`, revisionOf(svc));
}

function revisionOf(svc: k8s.V1Service): number {
  const n = Number(svc.metadata?.annotations?.[ROLLOUT_REVISION_ANNOTATION] ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/** The API server's status message when there is one (RBAC, not found), else the error's own. */
export function describe(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  let message: string | undefined;
  try {
    const body = typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: string }) : (e.body as { message?: string } | undefined);
    message = body?.message;
  } catch {
    // not JSON
  }
  return `${e.code ? `${e.code} ` : ''}${message ?? e.message ?? String(err)}`;
}
