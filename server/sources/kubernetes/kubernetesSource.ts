/**
 * Kubernetes as a source, through @kubernetes/client-node informers (list + watch, 410 →
 * relist, resume from the last resourceVersion): Services, the endpoints API the cluster
 * serves (EndpointSlice v1, else v1beta1, else core Endpoints — discovered at start and shown
 * in the source status), and Pods for their labels. A failed watch keeps the informer's cache
 * (last-known-good), marks the source stale and restarts with backoff.
 */
import * as k8s from '@kubernetes/client-node';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Service } from '../../../protocol/model';
import { decodePolicyJson, type TrafficPolicy } from '../../../protocol/traffic';
import { backoffDelay, DEFAULT_BACKOFF } from '../../../clients/backoff';
import type { Logger } from '../../log';
import type { Source, SourceSink } from '../source';
import { loadKubeConfig } from '../../../clients/kubernetes/kubeConfig';
import { describeEndpointsApi, discoverEndpointsApi, endpointsResource, type EndpointsApi } from '../../../clients/kubernetes/endpointsApi';
import { fromEndpoints, fromSlices, SERVICE_NAME_LABEL, TRAFFIC_ANNOTATION, type KubeEndpoints, type KubeEndpointSlice, type KubePod, type KubeService } from '../../../clients/kubernetes/kubernetesObjects';
import { toService } from './kubernetesNormalize';

export interface KubernetesSourceConfig {
  name: string;
  /** Path to a kubeconfig; null with inCluster. */
  kubeconfig: string | null;
  context: string | null;
  inCluster: boolean;
  /** Namespaces to watch, or 'all'. An empty list means the context's namespace. */
  namespaces: string[] | 'all';
}


export class KubernetesSource implements Source {
  readonly kind = 'kubernetes' as const;
  readonly id: string;
  readonly name: string;
  readonly address: string | null;
  private kc = new k8s.KubeConfig();
  private informers: k8s.Informer<KubernetesObject>[] = [];
  private caches: { services: k8s.ObjectCache<KubeService>[]; endpoints: k8s.ObjectCache<KubernetesObject>[]; pods: k8s.ObjectCache<KubePod>[] } = { services: [], endpoints: [], pods: [] };
  private api: EndpointsApi = { kind: 'endpoints' };
  private sink: SourceSink = () => undefined;
  private stopped = false;
  private synced = false;
  private failures = 0;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly restartTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly failing = new Map<k8s.Informer<KubernetesObject>, string>();
  private namespaces: string[] | null = null;
  private configError: string | null = null;
  /** Policies last reported per namespace (JSON), so unchanged ones are not re-sent. */
  private readonly lastPolicies = new Map<string, string>();

  constructor(
    private readonly config: KubernetesSourceConfig,
    private readonly log?: Logger,
  ) {
    this.id = config.name;
    this.name = config.name;
    try {
      this.kc = loadKubeConfig(config);
    } catch (err) {
      // A missing or broken kubeconfig is this source's problem, not the whole control plane's.
      this.configError = `kubeconfig ${config.inCluster ? '(in-cluster)' : config.kubeconfig}: ${(err as Error).message}`;
    }
    this.address = this.configError ? null : (this.kc.getCurrentCluster()?.server ?? null);
  }

  start(sink: SourceSink): void {
    this.sink = sink;
    if (this.configError) return void sink({ type: 'status', state: 'down', error: this.configError });
    void this.begin().catch((err) => this.fail(null, err));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const t of this.restartTimers) clearTimeout(t);
    await Promise.allSettled(this.informers.map((i) => i.stop()));
  }

  private async begin(): Promise<void> {
    this.api = await discoverEndpointsApi(this.kc);
    if (this.stopped) return;
    const contextNs = this.kc.getContextObject(this.kc.getCurrentContext())?.namespace ?? 'default';
    this.namespaces = this.config.namespaces === 'all' ? null : this.config.namespaces.length ? this.config.namespaces : [contextNs];
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const scopes: (string | null)[] = this.namespaces ?? [null];
    for (const ns of scopes) {
      const base = ns ? `/api/v1/namespaces/${ns}` : '/api/v1';
      this.add('services', `${base}/services`, () => (ns ? core.listNamespacedService({ namespace: ns }) : core.listServiceForAllNamespaces()) as Promise<KubernetesListObject<KubernetesObject>>);
      this.add('pods', `${base}/pods`, () => (ns ? core.listNamespacedPod({ namespace: ns }) : core.listPodForAllNamespaces()) as Promise<KubernetesListObject<KubernetesObject>>);
      const endpoints = endpointsResource(this.kc, this.api, ns);
      this.add('endpoints', endpoints.path, endpoints.list);
    }
    const results = await Promise.allSettled(this.informers.map((i) => i.start()));
    if (this.stopped) return;
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) return this.fail(null, (failed as PromiseRejectedResult).reason);
    this.synced = true;
    this.flush();
  }

  private add(kind: 'services' | 'pods' | 'endpoints', path: string, list: () => Promise<KubernetesListObject<KubernetesObject>>): void {
    const informer = k8s.makeInformer(this.kc, path, list);
    this.informers.push(informer);
    (this.caches[kind] as k8s.ObjectCache<KubernetesObject>[]).push(informer);
    const changed = () => this.schedule();
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('error', (err) => this.fail(informer, err));
    informer.on('connect', () => {
      if (this.failing.delete(informer) && this.failing.size === 0 && this.synced) this.reportOk();
    });
  }

  /** A failed list or watch: keep what we have (stale), retry that informer with backoff. */
  private fail(informer: k8s.Informer<KubernetesObject> | null, err: unknown): void {
    if (this.stopped) return;
    const message = describeError(err);
    this.failures++;
    if (informer) this.failing.set(informer, message);
    this.log?.warn({ err: message }, 'kubernetes watch failed; keeping last-known-good');
    this.sink({ type: 'status', state: 'down', error: message, detail: describeEndpointsApi(this.api) });
    const delay = backoffDelay(Math.min(this.failures, 6), DEFAULT_BACKOFF, Math.random);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.stopped) return;
      if (!informer) {
        void this.restartAll();
        return;
      }
      informer.start().then(
        () => {
          this.failing.delete(informer);
          if (this.failing.size === 0) {
            this.failures = 0;
            if (!this.synced) this.synced = true;
            this.flush();
          }
        },
        (e) => this.fail(informer, e),
      );
    }, delay);
    this.restartTimers.add(timer);
  }

  private async restartAll(): Promise<void> {
    await Promise.allSettled(this.informers.map((i) => i.stop()));
    this.informers = [];
    this.caches = { services: [], endpoints: [], pods: [] };
    await this.begin().catch((err) => this.fail(null, err));
  }

  private schedule(): void {
    if (!this.synced || this.flushTimer || this.stopped) return;
    // Events arrive in bursts (a rollout touches slices and pods); recompute once per burst.
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, 50);
  }

  /** Recomputes every service from the caches and reports each namespace as a complete list. */
  private flush(): void {
    if (this.stopped) return;
    const services = this.caches.services.flatMap((c) => c.list()) as KubeService[];
    const pods = new Map<string, KubePod>();
    for (const c of this.caches.pods) for (const p of c.list()) pods.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
    // Index endpoints by owning Service once per flush, so a flush is O(objects), not O(services × slices).
    const slicesOf = new Map<string, KubeEndpointSlice[]>();
    const endpointsOf = new Map<string, KubeEndpoints>();
    for (const c of this.caches.endpoints) {
      for (const o of c.list()) {
        if (this.api.kind === 'slices') {
          const owner = (o as KubeEndpointSlice).metadata.labels?.[SERVICE_NAME_LABEL];
          if (!owner) continue;
          const key = `${o.metadata?.namespace}/${owner}`;
          const list = slicesOf.get(key);
          if (list) list.push(o as KubeEndpointSlice);
          else slicesOf.set(key, [o as KubeEndpointSlice]);
        } else endpointsOf.set(`${o.metadata?.namespace}/${o.metadata?.name}`, o as KubeEndpoints);
      }
    }
    const byNamespace = new Map<string, { services: Service[]; policies: Record<string, TrafficPolicy> }>();
    const scope = (ns: string) => {
      let entry = byNamespace.get(ns);
      if (!entry) byNamespace.set(ns, (entry = { services: [], policies: {} }));
      return entry;
    };
    for (const ns of this.namespaces ?? []) scope(ns);
    for (const svc of services) {
      const ns = svc.metadata.namespace ?? 'default';
      const key = `${ns}/${svc.metadata.name}`;
      const endpoints = this.api.kind === 'slices' ? fromSlices(slicesOf.get(key) ?? []) : fromEndpoints(endpointsOf.get(key));
      const entry = scope(ns);
      entry.services.push(toService(this.id, svc, endpoints, (podNs, pod) => pods.get(`${podNs}/${pod}`)?.metadata.labels));
      // Policies live in Service annotations; the store merges them into service headers as for Consul KV.
      const raw = svc.metadata.annotations?.[TRAFFIC_ANNOTATION];
      if (!raw) continue;
      const decoded = decodePolicyJson(raw);
      if (decoded.ok) entry.policies[svc.metadata.name] = decoded.policy;
      else this.log?.warn({ service: key, why: decoded.why }, 'ignoring invalid traffic annotation');
    }
    for (const [ns, { services: list, policies }] of byNamespace) {
      // Only changed policies are sent: each traffic.synced makes the store re-diff the whole namespace.
      const text = JSON.stringify(policies);
      if (this.lastPolicies.get(ns) !== text) {
        this.lastPolicies.set(ns, text);
        this.sink({ type: 'traffic.synced', scope: ns, policies });
      }
      this.sink({ type: 'scope.synced', scope: ns, services: list });
    }
    this.sink({ type: 'scopes.changed', scopes: [...byNamespace.keys()].sort() });
    if (this.failing.size === 0) this.reportOk();
  }

  private reportOk(): void {
    this.sink({ type: 'status', state: 'ok', error: null, detail: describeEndpointsApi(this.api) });
  }
}

/** client-node errors carry the apiserver's Status; say what it says (e.g. 403 forbidden). */
export function describeError(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string; statusCode?: number };
  let body = e?.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON
    }
  }
  const status = body as { message?: string; code?: number } | undefined;
  if (status?.message) return `HTTP ${status.code ?? e.code ?? ''}: ${status.message}`.replace('HTTP : ', '');
  return e?.message ?? String(err);
}
