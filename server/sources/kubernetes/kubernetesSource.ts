/**
 * Kubernetes as a source, through @kubernetes/client-node informers (list + watch, 410 →
 * relist, resume from the last resourceVersion): Services, the endpoints API the cluster
 * serves (EndpointSlice v1, else v1beta1, else core Endpoints — discovered at start and shown
 * in the source status), and Pods for their labels. A failed watch keeps the informer's cache
 * (last-known-good), marks the source stale and restarts with backoff.
 *
 * Cost is O(change): the informers' caches hold compacted objects (kubernetesCompact.ts) read
 * through bounded list/watch (boundedListWatch.ts: a huge or malformed upstream is an error, not
 * unbounded memory or a silently wrong cache). Beside them the source keeps only small indexes —
 * slice → owning Service, Service → its slices and the pods its endpoints target, pod → those
 * Services — and a fingerprint of what it last reported per Service. A watch event marks the
 * Services it can affect dirty; once per short burst window each dirty Service is rebuilt from
 * the caches and reported (`service.changed` / `service.removed`) only if its fingerprint
 * changed. `scope.synced` (every Service of a namespace) is sent only for the initial sync and a
 * full restart; `traffic.synced` only when a namespace's policies changed.
 */
import type * as k8s from '@kubernetes/client-node';
import { kubernetesClient } from '../../../clients/kubernetes/kubernetesClient';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { HealthCounts, Service } from '../../../protocol/model';
import { serviceId } from '../../../protocol/model';
import { decodePolicyJson, type TrafficPolicy } from '../../../protocol/traffic';
import { backoffDelay, DEFAULT_BACKOFF } from '../../../clients/backoff';
import type { Logger } from '../../log';
import type { Source, SourceEvent, SourceSink } from '../source';
import { loadKubeConfig } from '../../../clients/kubernetes/kubeConfig';
import { describeEndpointsApi, discoverEndpointsApi, type EndpointsApi } from '../../../clients/kubernetes/endpointsApi';
import { DEFAULT_LIMITS, makeBoundedInformer, type Compact, type ListWatchLimits } from '../../../clients/kubernetes/boundedListWatch';
import { fromEndpoints, fromSlices, type EndpointInfo, SERVICE_NAME_LABEL, TRAFFIC_ANNOTATION, type KubeEndpoints, type KubeEndpointSlice, type KubePod, type KubeService } from '../../../clients/kubernetes/kubernetesObjects';
import { compactEndpoints, compactPod, compactService, compactSlice } from './kubernetesCompact';
import { hash53 } from './kubernetesIntern';
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

export interface KubernetesSourceOptions {
  /** Window in which a burst of watch events is coalesced into one recompute per Service. @default 20 */
  coalesceMs?: number;
  /** Bounds on what the upstream may send (see boundedListWatch.ts). */
  limits?: Partial<ListWatchLimits>;
  /**
   * A cluster with more endpoints than this is listed before its pods are: every Service with
   * its endpoints' health counts, instances pending until the pods' labels are in. @default 10,000
   */
  summaryFirstAbove?: number;
}

type Kind = 'services' | 'pods' | 'endpoints';

/** Informers listing at once during a (re)start. */
const LIST_CONCURRENCY = 8;
type Informer = k8s.ListWatch<KubernetesObject>;

/** What the source remembers of one Service name in one namespace (beyond the informer caches). */
interface ServiceState {
  /** EndpointSlices labelled with this Service's name (slices API only). */
  slices: string[];
  /** Pods its endpoints target, as last computed. */
  pods: string[];
  /** Fingerprint of the Service last reported; null when not reported (or removed). */
  hash: number | null;
  /** The traffic annotation last seen, raw. */
  policy: string | undefined;
}

interface NamespaceIndex {
  services: Map<string, ServiceState>;
  /** slice name → owning Service name. */
  sliceOwner: Map<string, string>;
  /** pod name → Services whose endpoints target it: one name (nearly always), or several. */
  podServices: Map<string, string | string[]>;
  policies: Map<string, TrafficPolicy>;
  policiesDirty: boolean;
  /** Services currently reported. */
  reported: number;
}

export class KubernetesSource implements Source {
  readonly kind = 'kubernetes' as const;
  readonly id: string;
  readonly name: string;
  readonly address: string | null;
  private kc: k8s.KubeConfig;
  private informers: Informer[] = [];
  /** Informer per kind, by namespace ('' = all namespaces). */
  private caches: Record<Kind, Map<string, Informer>> = { services: new Map(), pods: new Map(), endpoints: new Map() };
  private api: EndpointsApi = { kind: 'endpoints' };
  private sink: SourceSink = () => undefined;
  private stopped = false;
  private synced = false;
  private failures = 0;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly restartTimers = new Map<Informer | null, ReturnType<typeof setTimeout>>();
  private readonly failing = new Map<Informer, string>();
  /** Bumped on every failure of an informer, so a restart that resolves after a newer failure is not taken for success. */
  private readonly generation = new Map<Informer, number>();
  private namespaces: string[] | null = null;
  private configError: string | null = null;
  private index = new Map<string, NamespaceIndex>();
  private dirty = new Map<string, Set<string>>();
  /** Policies last reported per namespace (JSON), so unchanged ones are not re-sent. */
  private readonly lastPolicies = new Map<string, string>();
  private lastScopes = '';
  private readonly coalesceMs: number;
  private readonly limits: ListWatchLimits;
  private readonly summaryFirstAbove: number;
  /** Every informer has had its first list (successful or not): a first sync may report. */
  private allListed = false;

  constructor(
    private readonly config: KubernetesSourceConfig,
    private readonly log?: Logger,
    options: KubernetesSourceOptions = {},
  ) {
    this.id = config.name;
    this.name = config.name;
    this.coalesceMs = options.coalesceMs ?? 20;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.summaryFirstAbove = options.summaryFirstAbove ?? 10_000;
    try {
      this.kc = loadKubeConfig(config);
    } catch (err) {
      this.kc = new (kubernetesClient().KubeConfig)();
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
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.restartTimers.clear();
    await Promise.allSettled(this.informers.map((i) => i.stop()));
  }

  private async begin(): Promise<void> {
    this.api = await discoverEndpointsApi(this.kc);
    if (this.stopped) return;
    const contextNs = this.kc.getContextObject(this.kc.getCurrentContext())?.namespace ?? 'default';
    this.namespaces = this.config.namespaces === 'all' ? null : this.config.namespaces.length ? this.config.namespaces : [contextNs];
    const endpointsPath = (base: string) => (this.api.kind === 'slices' ? `/apis/discovery.k8s.io/${this.api.version}${base}/endpointslices` : `/api/v1${base}/endpoints`);
    for (const ns of this.namespaces ?? ['']) {
      const base = ns ? `/namespaces/${ns}` : '';
      this.add('services', ns, `/api/v1${base}/services`, compactService);
      this.add('pods', ns, `/api/v1${base}/pods`, compactPod);
      this.add('endpoints', ns, endpointsPath(base), this.api.kind === 'slices' ? compactSlice : compactEndpoints);
    }
    // A few lists at a time: each page is parsed and compacted before the next arrives, so the
    // full objects die young instead of piling up across 3 × namespaces concurrent lists.
    const list = async (informers: Informer[]) => {
      const queue = [...informers];
      const worker = async () => {
        for (let i = queue.shift(); i && !this.stopped; i = queue.shift()) await i.start().catch((err) => this.fail(i, err));
      };
      await Promise.all(Array.from({ length: LIST_CONCURRENCY }, worker));
    };
    // Services and their endpoints first, pods (read only for their labels: subsets) after: in a
    // large cluster the pods are half of the first sync, and the Services can be listed with
    // their health counts without them.
    const pods = new Set(this.caches.pods.values());
    await list(this.informers.filter((i) => !pods.has(i)));
    if (this.stopped) return;
    if (this.failing.size === 0 && !this.synced) this.listPending();
    await list([...pods]);
    if (this.stopped) return;
    this.allListed = true;
    // An informer whose first list failed is retried by fail(); the first sync waits for it.
    if (this.failing.size === 0) this.fullSync();
  }

  /**
   * Lists every Service of a large cluster before the pods are read: its endpoints' health
   * counts as `pending`, no instances yet (their labels come from the pods, and a subset
   * computed without them would be wrong: xDS serves nothing for a pending service). The full
   * sync replaces these once the pods are in.
   */
  private listPending(): void {
    const listed: Service[] = [];
    let endpoints = 0;
    for (const [ns, informer] of this.caches.services) {
      for (const o of informer.list(ns || undefined)) {
        const namespace = o.metadata?.namespace ?? 'default';
        const name = o.metadata!.name!;
        const idx = this.ns(namespace);
        const st = this.state(idx, name);
        const svc = o as KubeService;
        const full = toService(this.id, svc, this.endpointsOf(namespace, name, st), () => undefined);
        endpoints += full.instances.length;
        const counts: HealthCounts = { passing: 0, warning: 0, critical: 0, unknown: 0 };
        for (const i of full.instances) counts[i.health] += 1;
        listed.push({ ...full, instances: [], pending: counts });
        this.updatePolicy(idx, namespace, name, st, svc.metadata.annotations?.[TRAFFIC_ANNOTATION]);
      }
    }
    if (endpoints <= this.summaryFirstAbove) return;
    const byNamespace = new Map<string, Service[]>();
    for (const ns of this.namespaces ?? []) byNamespace.set(ns, []);
    for (const svc of listed) {
      let list = byNamespace.get(svc.scope);
      if (!list) byNamespace.set(svc.scope, (list = []));
      list.push(svc);
    }
    this.sendPolicies();
    for (const [ns, services] of byNamespace) this.sink({ type: 'scope.synced', scope: ns, services });
    // Nothing is `reported` yet (sendScopes counts those): the namespaces listed are the scopes.
    const scopes = this.namespaces ? [...this.namespaces].sort() : [...byNamespace.keys()].sort();
    this.lastScopes = scopes.join('\n');
    this.sink({ type: 'scopes.changed', scopes });
    this.sink({ type: 'status', state: 'ok', error: null, detail: `${describeEndpointsApi(this.api)}; listed ${listed.length.toLocaleString('en-US')} Services from their endpoints, reading pod labels` });
  }

  private endpointsOf(namespace: string, name: string, st: ServiceState): EndpointInfo[] {
    return this.api.kind === 'slices'
      ? fromSlices(st.slices.map((s) => this.cache('endpoints', namespace)?.get(s, namespace) as KubeEndpointSlice | undefined).filter((s) => s !== undefined))
      : fromEndpoints(this.cache('endpoints', namespace)?.get(name, namespace) as KubeEndpoints | undefined);
  }

  private add(kind: Kind, ns: string, path: string, compact: Compact): void {
    const informer = makeBoundedInformer(this.kc, path, compact, this.limits);
    this.informers.push(informer);
    this.caches[kind].set(ns, informer);
    const on = (o: KubernetesObject, deleted: boolean) => {
      try {
        this.observe(kind, o, deleted);
      } catch (err) {
        this.log?.error({ err: (err as Error).message }, 'kubernetes event handling failed');
      }
    };
    informer.on('add', (o) => on(o, false));
    informer.on('update', (o) => on(o, false));
    informer.on('delete', (o) => on(o, true));
    informer.on('error', (err) => this.fail(informer, err));
  }

  private cache(kind: Kind, ns: string): Informer | undefined {
    return this.caches[kind].get(ns) ?? this.caches[kind].get('');
  }

  private ns(ns: string): NamespaceIndex {
    let idx = this.index.get(ns);
    if (!idx) this.index.set(ns, (idx = { services: new Map(), sliceOwner: new Map(), podServices: new Map(), policies: new Map(), policiesDirty: false, reported: 0 }));
    return idx;
  }

  private state(idx: NamespaceIndex, name: string): ServiceState {
    let st = idx.services.get(name);
    if (!st) idx.services.set(name, (st = { slices: [], pods: [], hash: null, policy: undefined }));
    return st;
  }

  /** One watch event (or relist difference): update the indexes, mark the Services it touches. */
  private observe(kind: Kind, o: KubernetesObject, deleted: boolean): void {
    const namespace = o.metadata?.namespace ?? 'default';
    const name = o.metadata?.name;
    if (!name) return;
    const idx = this.ns(namespace);
    if (kind === 'services') return this.markDirty(namespace, name);
    if (kind === 'pods') {
      const services = idx.podServices.get(name);
      if (typeof services === 'string') this.markDirty(namespace, services);
      else for (const svc of services ?? []) this.markDirty(namespace, svc);
      return;
    }
    if (this.api.kind !== 'slices') return this.markDirty(namespace, name);
    const before = idx.sliceOwner.get(name);
    const after = deleted ? undefined : (o as unknown as KubeEndpointSlice).metadata.labels?.[SERVICE_NAME_LABEL];
    if (before !== after) {
      if (before !== undefined) {
        idx.sliceOwner.delete(name);
        const st = idx.services.get(before);
        if (st) st.slices = st.slices.filter((s) => s !== name);
      }
      if (after !== undefined) {
        idx.sliceOwner.set(name, after);
        this.state(idx, after).slices.push(name);
      }
    }
    if (before !== undefined) this.markDirty(namespace, before);
    if (after !== undefined && after !== before) this.markDirty(namespace, after);
  }

  private markDirty(namespace: string, name: string): void {
    let set = this.dirty.get(namespace);
    if (!set) this.dirty.set(namespace, (set = new Set()));
    set.add(name);
    this.schedule();
  }

  private schedule(): void {
    if (!this.synced || this.flushTimer || this.stopped) return;
    // Events arrive in bursts (a rollout touches slices and pods); recompute once per burst.
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, this.coalesceMs);
  }

  /**
   * Rebuilds one Service from the caches and updates its indexes. Returns the Service if it
   * differs from what was last reported, `null` if it is gone and was reported, else undefined.
   */
  private recompute(namespace: string, name: string): Service | null | undefined {
    const idx = this.ns(namespace);
    const st = this.state(idx, name);
    const svc = this.cache('services', namespace)?.get(name, namespace) as KubeService | undefined;
    let service: Service | undefined;
    let pods: string[] = [];
    if (svc) {
      const endpoints = this.endpointsOf(namespace, name, st);
      const podCache = this.cache('pods', namespace);
      service = toService(this.id, svc, endpoints, (podNs, pod) => (podCache?.get(pod, podNs) as KubePod | undefined)?.metadata.labels);
      for (const e of endpoints) if (e.pod !== null) pods.push(e.pod);
      if (pods.length > 1) pods = [...new Set(pods)];
    }
    this.relinkPods(idx, name, st, pods);
    this.updatePolicy(idx, namespace, name, st, svc?.metadata.annotations?.[TRAFFIC_ANNOTATION]);
    if (!service) {
      const wasReported = st.hash !== null;
      if (wasReported) idx.reported--;
      if (st.slices.length === 0) idx.services.delete(name);
      else st.hash = null;
      return wasReported ? null : undefined;
    }
    const hash = hash53(JSON.stringify(service));
    if (hash === st.hash) return undefined;
    if (st.hash === null) idx.reported++;
    st.hash = hash;
    return service;
  }

  private relinkPods(idx: NamespaceIndex, name: string, st: ServiceState, pods: string[]): void {
    if (pods.length === st.pods.length && pods.every((p, i) => p === st.pods[i])) return;
    const next = new Set(pods);
    for (const p of st.pods) {
      if (next.has(p)) continue;
      const list = idx.podServices.get(p);
      const rest = typeof list === 'string' ? (list === name ? [] : [list]) : (list?.filter((s) => s !== name) ?? []);
      if (rest.length === 0) idx.podServices.delete(p);
      else idx.podServices.set(p, rest.length === 1 ? rest[0]! : rest);
    }
    const prev = new Set(st.pods);
    for (const p of pods) {
      if (prev.has(p)) continue;
      const list = idx.podServices.get(p);
      if (list === undefined) idx.podServices.set(p, name);
      else if (typeof list === 'string') idx.podServices.set(p, [list, name]);
      else list.push(name);
    }
    st.pods = pods;
  }

  private updatePolicy(idx: NamespaceIndex, namespace: string, name: string, st: ServiceState, raw: string | undefined): void {
    if (raw === st.policy) return;
    st.policy = raw;
    idx.policiesDirty = true;
    const decoded = raw === undefined ? null : decodePolicyJson(raw);
    if (decoded?.ok) idx.policies.set(name, decoded.policy);
    else {
      idx.policies.delete(name);
      if (decoded) this.log?.warn({ service: `${namespace}/${name}`, why: decoded.why }, 'ignoring invalid traffic annotation');
    }
  }

  /** Every Service, reported per namespace as a complete list: first sync and full restarts. */
  private fullSync(): void {
    if (this.stopped) return;
    this.synced = true;
    this.dirty.clear();
    const byNamespace = new Map<string, Service[]>();
    for (const ns of this.namespaces ?? []) byNamespace.set(ns, []);
    // Report everything, whatever was reported before: scope.synced is the complete list.
    for (const idx of this.index.values()) {
      idx.reported = 0;
      for (const st of idx.services.values()) st.hash = null;
    }
    for (const [ns, informer] of this.caches.services) {
      for (const o of informer.list(ns || undefined)) this.state(this.ns(o.metadata?.namespace ?? 'default'), o.metadata!.name!);
    }
    for (const [namespace, idx] of this.index) {
      for (const name of [...idx.services.keys()]) {
        const service = this.recompute(namespace, name);
        if (!service) continue;
        let list = byNamespace.get(namespace);
        if (!list) byNamespace.set(namespace, (list = []));
        list.push(service);
      }
    }
    for (const ns of byNamespace.keys()) this.ns(ns).policiesDirty = true;
    this.sendPolicies();
    for (const [ns, services] of byNamespace) this.sink({ type: 'scope.synced', scope: ns, services });
    this.sendScopes(true);
    if (this.failing.size === 0) this.reportOk();
  }

  /** Reports the dirty Services that changed. */
  private flush(): void {
    if (this.stopped) return;
    const dirty = this.dirty;
    this.dirty = new Map();
    const events: SourceEvent[] = [];
    for (const [namespace, names] of dirty) {
      for (const name of names) {
        const result = this.recompute(namespace, name);
        if (result) events.push({ type: 'service.changed', service: result });
        else if (result === null) events.push({ type: 'service.removed', serviceId: serviceId(this.id, namespace, name) });
      }
    }
    this.sendPolicies();
    for (const e of events) this.sink(e);
    this.sendScopes(false);
  }

  private sendPolicies(): void {
    for (const [ns, idx] of this.index) {
      if (!idx.policiesDirty) continue;
      idx.policiesDirty = false;
      const policies = Object.fromEntries([...idx.policies].sort(([a], [b]) => (a < b ? -1 : 1)));
      // Only changed policies are sent: each traffic.synced makes the store re-diff the whole namespace.
      const text = JSON.stringify(policies);
      if (this.lastPolicies.get(ns) === text) continue;
      this.lastPolicies.set(ns, text);
      this.sink({ type: 'traffic.synced', scope: ns, policies });
    }
  }

  private sendScopes(always: boolean): void {
    const scopes = this.namespaces ? [...this.namespaces].sort() : [...this.index].filter(([, idx]) => idx.reported > 0).map(([ns]) => ns).sort();
    const text = scopes.join('\n');
    if (!always && text === this.lastScopes) return;
    this.lastScopes = text;
    this.sink({ type: 'scopes.changed', scopes });
  }

  /** A failed list or watch: keep what we have (stale), retry that informer with backoff. */
  private fail(informer: Informer | null, err: unknown): void {
    if (this.stopped) return;
    const message = describeError(err);
    this.failures++;
    if (informer) {
      this.failing.set(informer, message);
      this.generation.set(informer, (this.generation.get(informer) ?? 0) + 1);
    }
    this.log?.warn({ err: message }, 'kubernetes watch failed; keeping last-known-good');
    this.sink({ type: 'status', state: 'down', error: message, detail: describeEndpointsApi(this.api) });
    if (this.restartTimers.has(informer)) return;
    const delay = backoffDelay(Math.min(this.failures, 6), DEFAULT_BACKOFF, Math.random);
    const timer = setTimeout(() => {
      this.restartTimers.delete(informer);
      if (this.stopped) return;
      if (!informer) {
        void this.restartAll();
        return;
      }
      const generation = this.generation.get(informer);
      informer.start().then(
        () => {
          // A failure during start() (its list, or the watch request) was reported and rescheduled.
          if (this.stopped || this.generation.get(informer) !== generation) return;
          this.failing.delete(informer);
          if (this.failing.size > 0) return;
          this.failures = 0;
          if (!this.synced) {
            // The first sync waits for every first list (pods included).
            if (this.allListed) this.fullSync();
          }
          else this.reportOk();
        },
        (e) => this.fail(informer, e),
      );
    }, delay);
    this.restartTimers.set(informer, timer);
  }

  private async restartAll(): Promise<void> {
    await Promise.allSettled(this.informers.map((i) => i.stop()));
    this.informers = [];
    this.caches = { services: new Map(), pods: new Map(), endpoints: new Map() };
    this.failing.clear();
    this.index = new Map();
    this.dirty = new Map();
    this.synced = false;
    await this.begin().catch((err) => this.fail(null, err));
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
