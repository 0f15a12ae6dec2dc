/**
 * Reads and writes the mesh route a Service is bound to (kubernetesMeshRoutes.ts decides what to
 * write). The API version is the first of the kind's versions (kubernetesMeshRoutes ROUTE_TYPES)
 * the cluster serves, found through API discovery and cached. A write is a replace (PUT, RBAC
 * verb `update`) of the object as read, so it carries that resourceVersion as a precondition: a
 * route changed in between gets 409 from the API server and nothing is written.
 */
import type * as k8s from '@kubernetes/client-node';
import { kubernetesClient } from '../../clients/kubernetes/kubernetesClient';
import { z } from 'zod';
import type { MeshRoute } from '../../protocol/api';
import type { TrafficPolicy } from '../../protocol/traffic';
import { describeKubeFailure, kubeFailure } from '../../clients/kubernetes/kubeApiError';
import { describeRoute, planRouteWrite, ROUTE_ANNOTATION, routeView, ROUTE_TYPES, type MeshRouteKind, type RouteBinding, type RouteObject } from './kubernetesMeshRoutes';

export interface MeshRoutesOptions {
  /** How long the cluster's served API versions are trusted before asking again. @default 60000 */
  discoveryTtlMs?: number;
  /** Called between reading the route and writing it back (tests use it to make a race). */
  beforeReplace?: (route: RouteObject) => Promise<void>;
  now?: () => number;
}

export type RouteWrite =
  | { kind: 'unchanged'; view: MeshRoute }
  /** `previous` is the route as read (at API `version`); `resourceVersion` the one the write produced (the precondition to restore it). */
  | { kind: 'written'; view: MeshRoute; previous: RouteObject; version: string; resourceVersion: string }
  | { kind: 'conflict'; why: string }
  | { kind: 'refused'; why: string };

type Read = { ok: true; route: RouteObject; apiVersion: string; version: string } | { ok: false; why: string };

const Written = z.object({ metadata: z.object({ resourceVersion: z.string() }) });
const Route = z.looseObject({ metadata: z.looseObject({ resourceVersion: z.string().optional(), annotations: z.record(z.string(), z.string()).optional() }) });

export class KubernetesMeshRoutes {
  private readonly custom: k8s.CustomObjectsApi;
  private readonly apis: k8s.ApisApi;
  private served: { at: number; groups: Map<string, Set<string>> } | null = null;
  private readonly now: () => number;

  constructor(kc: k8s.KubeConfig, private readonly options: MeshRoutesOptions = {}) {
    this.custom = kc.makeApiClient(kubernetesClient().CustomObjectsApi);
    this.apis = kc.makeApiClient(kubernetesClient().ApisApi);
    this.now = options.now ?? Date.now;
  }

  /** What the route holds now; never throws (an unreadable route is a view with `error`). */
  async view(binding: RouteBinding, policy: TrafficPolicy | null): Promise<MeshRoute> {
    try {
      const read = await this.read(binding);
      if (read.ok) return routeView(binding, read.route, read.apiVersion, policy);
      return this.errorView(binding, read.why);
    } catch (err) {
      return this.errorView(binding, (err as Error).message);
    }
  }

  /** Writes the policy's weights (see planRouteWrite). Throws when the cluster refuses or fails (RBAC, outage). */
  async write(binding: RouteBinding, policy: TrafficPolicy): Promise<RouteWrite> {
    const read = await this.read(binding);
    if (!read.ok) return { kind: 'refused', why: read.why };
    const plan = planRouteWrite(binding, read.route, read.apiVersion, policy);
    if (plan.kind !== 'write') return plan;
    await this.options.beforeReplace?.(plan.object);
    try {
      const written = Written.parse(await this.replace(binding, read.version, plan.object));
      return { kind: 'written', view: plan.view, previous: read.route, version: read.version, resourceVersion: written.metadata.resourceVersion };
    } catch (err) {
      const f = kubeFailure(err);
      switch (f.code) {
        case 409:
          return { kind: 'conflict', why: `${describeRoute(binding)} was changed by someone else while Switchboard was writing it (it is no longer at resourceVersion ${read.route.metadata.resourceVersion}). Nothing was written; look at the route and try again.` };
        case 404:
          return { kind: 'refused', why: `${describeRoute(binding)} was deleted while Switchboard was writing it` };
        case 400:
        case 422:
          return { kind: 'refused', why: `${describeRoute(binding)}: the API server refused the new weights (${describeKubeFailure(f)})` };
        case null:
        default:
          throw this.failure('update', binding, err);
      }
    }
  }

  /** Puts the route back as it was before `written` (guarded by the resourceVersion that write produced). */
  async restore(binding: RouteBinding, written: Extract<RouteWrite, { kind: 'written' }>): Promise<void> {
    const previous = structuredClone(written.previous);
    previous.metadata = { ...previous.metadata, resourceVersion: written.resourceVersion };
    try {
      await this.replace(binding, written.version, previous);
    } catch (err) {
      throw this.failure('update', binding, err);
    }
  }

  private async read(binding: RouteBinding): Promise<Read> {
    const type = ROUTE_TYPES[binding.kind];
    const version = await this.version(binding.kind);
    if (!version) return { ok: false, why: notServed(binding.kind) };
    try {
      const raw: unknown = await this.custom.getNamespacedCustomObject({ group: type.group, version, namespace: binding.namespace, plural: type.plural, name: binding.name });
      const parsed = Route.safeParse(raw);
      if (!parsed.success) return { ok: false, why: `${describeRoute(binding)}: the API server answered something that is not an object with metadata` };
      return { ok: true, route: parsed.data as RouteObject, apiVersion: `${type.group}/${version}`, version };
    } catch (err) {
      const f = kubeFailure(err);
      if (f.code === 404 && f.details?.name === binding.name) {
        return { ok: false, why: `${describeRoute(binding)} does not exist (named by annotation ${ROUTE_ANNOTATION} on service ${binding.namespace}/${binding.service})` };
      }
      if (f.code === 404) {
        this.served = null; // the CRD may have gone: ask again next time
        return { ok: false, why: notServed(binding.kind) };
      }
      throw this.failure('get', binding, err);
    }
  }

  private replace(binding: RouteBinding, version: string, body: RouteObject): Promise<unknown> {
    const type = ROUTE_TYPES[binding.kind];
    return this.custom.replaceNamespacedCustomObject({ group: type.group, version, namespace: binding.namespace, plural: type.plural, name: binding.name, body });
  }

  /**
   * The preferred version of the kind the cluster serves, or null if it serves none (no CRD).
   * Only a served kind is taken from the cache: a missing one is asked again, so installing the
   * CRD takes effect at once.
   */
  private async version(kind: MeshRouteKind): Promise<string | null> {
    const fresh = this.served !== null && this.now() - this.served.at <= (this.options.discoveryTtlMs ?? 60_000);
    if (fresh && this.known(kind)) return this.known(kind);
    let list: k8s.V1APIGroupList;
    try {
      list = await this.apis.getAPIVersions();
    } catch (err) {
      throw new Error(`GET /apis (API discovery): ${describeKubeFailure(kubeFailure(err))}`, { cause: err });
    }
    this.served = { at: this.now(), groups: new Map(list.groups.map((g) => [g.name, new Set(g.versions.map((v) => v.version))])) };
    return this.known(kind);
  }

  /** The kind's preferred version among those last discovered (null: none, or never asked). */
  private known(kind: MeshRouteKind): string | null {
    const type = ROUTE_TYPES[kind];
    const versions = this.served?.groups.get(type.group);
    return type.versions.find((v) => versions?.has(v)) ?? null;
  }

  private failure(verb: 'get' | 'update', binding: RouteBinding, err: unknown): Error {
    const f = kubeFailure(err);
    const type = ROUTE_TYPES[binding.kind];
    if (f.code === 403) {
      return new Error(
        `${verb} ${describeRoute(binding)}: forbidden by Kubernetes RBAC (${describeKubeFailure(f)}); Switchboard's identity needs get and update on ${type.plural}.${type.group} in namespace ${binding.namespace}`,
        { cause: err },
      );
    }
    return new Error(`${verb} ${describeRoute(binding)}: ${describeKubeFailure(f)}`, { cause: err });
  }

  private errorView(binding: RouteBinding, error: string): MeshRoute {
    const version = this.known(binding.kind);
    return { kind: binding.kind, namespace: binding.namespace, name: binding.name, apiVersion: version ? `${ROUTE_TYPES[binding.kind].group}/${version}` : null, backends: { ...binding.backends }, weights: null, inSync: false, writtenAt: null, writtenBy: null, error };
  }
}

function notServed(kind: MeshRouteKind): string {
  const type = ROUTE_TYPES[kind];
  return `the cluster does not serve ${kind} (${type.plural}.${type.group}, versions ${type.versions.join(', ')}): install its CRD, or remove the annotation ${ROUTE_ANNOTATION} from the Service`;
}
