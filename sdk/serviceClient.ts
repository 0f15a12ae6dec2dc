/**
 * A watching client for one service: two Consul blocking queries (the service's health and
 * its traffic-policy key) keep a live instance list and policy, and every call picks a subset
 * by weight, then an instance in it (TrafficSplit). A flip written to the registry reaches
 * the next pick within one watch wake-up. A registry outage keeps the last-known-good list
 * (`staleSince` says since when) so calls go on.
 *
 * Works against Consul and Switchboard's embedded registry alike (same HTTP API).
 */
import { randomBytes } from 'node:crypto';
import type { TelemetryReport } from '../protocol/telemetry';
import { decodePolicyJson, type TrafficPolicy } from '../protocol/traffic';
import { BlockingQuery, type RateLimit } from '../clients/consul/blockingQuery';
import { ConsulHttp, ServiceEntries, type ConsulError, type ServiceEntry } from '../clients/consul/consulHttp';
import { decodePolicy, KvEntries, policyKey } from '../clients/consul/trafficKv';
// Type-only: @kubernetes/client-node is loaded only by clients in Kubernetes mode.
import type { KubernetesServiceWatch, KubernetesTarget } from './kubernetes/kubernetesServiceWatch';
import { InstanceBreaker, type BreakerOptions, type BreakerState } from './instanceBreaker';
import { InstanceGuard, type InstanceGuardOptions } from './instanceGuard';
import { newHistogram, recordLatency } from './latencyHistogram';
import { sdkMetrics, type SdkMetrics } from './promMetrics';
import { RetryBudget, type RetryBudgetOptions } from './retryBudget';
import { countStatus, TelemetryReporter } from './telemetryReporter';
import { TrafficSplit, type Endpoint, type PickedEndpoint, type Strategy } from './trafficSplit';

export interface ServiceClientOptions {
  /** Consul HTTP address, e.g. http://127.0.0.1:8500 (or the embedded registry's). One of registry or kubernetes. */
  registry?: string;
  /** Kubernetes mode: the Service's ready endpoints, pod labels and traffic annotation in this namespace. */
  kubernetes?: KubernetesTarget;
  service: string;
  /** ACL token, sent as X-Consul-Token. */
  token?: string | null;
  /** @default the agent's datacenter */
  datacenter?: string | null;
  /** Blocking-query wait. @default 60 s */
  waitMs?: number;
  /** Calls to instances: retries on a different instance after a connection failure or 5xx (idempotent methods only). @default 2 */
  retries?: number;
  /** Retries may add at most this share of recent requests. @default { ratio: 0.2, floor: 10, windowMs: 10 s } */
  retryBudget?: RetryBudgetOptions;
  /** How an instance is chosen within the chosen subset. @default 'round-robin' */
  strategy?: Strategy;
  /** Per-instance circuit breakers; false turns them off. @default 5 consecutive failures or 50% errors over 10 s, 5 s cool-down */
  breaker?: BreakerOptions | false;
  /** Report breaker states and counters to a Switchboard control plane, at most once a second. */
  report?: { url: string; token: string; caller: string; intervalMs?: number };
  /** Name this client reports as when it reports in-process (the gateway). @default 'sdk' */
  caller?: string;
  /** Hold back a sudden drop of the instance list (to zero, or by more than half) for 10 s; false turns it off. */
  guard?: InstanceGuardOptions | false;
  /** Per-attempt timeout for calls to instances. @default 10 s */
  requestTimeoutMs?: number;
  /** Registry trouble (the client keeps serving its last-known-good list). */
  onError?: (error: ConsulError) => void;
  /** The instance list or policy changed. */
  onUpdate?: (view: ServiceView) => void;
  /** Prometheus metrics (sdk/promMetrics.ts) every attempt is recorded into; false turns them off. @default the process-wide sdkMetrics() */
  metrics?: SdkMetrics | false;
  /** @internal tests and benches */
  rateLimit?: RateLimit;
}

export interface ServiceView {
  /** Instances fit to serve (no critical check), before the policy is applied. */
  endpoints: Endpoint[];
  policy: TrafficPolicy | null;
  /** When the registry last failed to answer while we kept serving old data; null when current. */
  staleSince: number | null;
  /** The sanity guard: whether a large drop is being held back now, and how many were so far. */
  guard: { holding: boolean; holds: number };
}

export class NoEndpointError extends Error {
  override name = 'NoEndpointError';
}

interface InstanceStats {
  breaker: InstanceBreaker | null;
  outstanding: number;
  requests: number;
  errors: number;
  latency: number[];
  /** Answers per status code, "error" for none (the call graph's per-status view). */
  statuses: Record<string, number>;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
// Health lists can churn (flapping checks), so their watch is held to a few rounds a second.
const HEALTH_RATE_LIMIT: RateLimit = { burst: 4, intervalMs: 250 };
// A policy key changes only when an operator acts, and each change must reach every pick at
// once: a looser bound, still not a hot loop if something rewrites the key continuously.
const POLICY_RATE_LIMIT: RateLimit = { burst: 10, intervalMs: 100 };

export class ServiceClient {
  private readonly loops: BlockingQuery<unknown, ConsulError>[] = [];
  private kube: KubernetesServiceWatch | null = null;
  private closed = false;
  private endpoints: Endpoint[] = [];
  private policy: TrafficPolicy | null = null;
  private split = new TrafficSplit([], null);
  private staleSince: number | null = null;
  private readonly loaded = { health: false, policy: false };
  private readonly readyWaiters: (() => void)[] = [];
  private started = false;
  private readonly stats = new Map<string, InstanceStats>();
  /** Instances whose breaker is not closed: the only ones a pick has to look at twice. */
  private readonly notClosed = new Set<string>();
  private readonly guard: InstanceGuard<Endpoint> | null;
  private guardTimer: ReturnType<typeof setTimeout> | null = null;
  private registryEndpoints: Endpoint[] = [];
  private readonly budget: RetryBudget;
  private readonly reporter: TelemetryReporter | null;
  private readonly metrics: SdkMetrics | null;
  private untrack: (() => void) | null = null;
  private readonly caller: string;
  readonly clientId: string;

  constructor(private readonly options: ServiceClientOptions) {
    if (!options.registry === !options.kubernetes) throw new Error('ServiceClient: give exactly one of registry (Consul) or kubernetes');
    this.budget = new RetryBudget(options.retryBudget);
    this.guard = options.guard === false ? null : new InstanceGuard(options.guard ?? {});
    const caller = (this.caller = options.report?.caller ?? options.caller ?? 'sdk');
    this.metrics = options.metrics === false ? null : (options.metrics ?? sdkMetrics());
    this.clientId = `${caller}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.reporter = options.report ? new TelemetryReporter({ ...options.report, report: () => this.telemetry() }) : null;
    const failed = (error: ConsulError) => {
      this.staleSince ??= Date.now();
      options.onError?.(error);
    };
    if (options.kubernetes) return;
    const http = new ConsulHttp({ sourceName: `sdk:${options.service}`, address: options.registry!, token: options.token ?? null });
    const dc = options.datacenter ?? null;
    const waitMs = options.waitMs;
    const health = new BlockingQuery<ServiceEntry[], ConsulError>({
      waitMs,
      rateLimit: options.rateLimit ?? HEALTH_RATE_LIMIT,
      fetch: (req) => http.getIndexed(`/v1/health/service/${encodeURIComponent(options.service)}`, ServiceEntries, { ...req, dc }),
      onChange: (entries) => this.update('health', () => this.offerEndpoints(entries.flatMap(toEndpoint))),
      onUnchanged: () => this.fresh(),
      onError: failed,
    });
    const policy = new BlockingQuery<KvEntries, ConsulError>({
      waitMs,
      rateLimit: options.rateLimit ?? POLICY_RATE_LIMIT,
      fetch: (req) => http.getIndexed(`/v1/kv/${policyKey(options.service)}`, KvEntries, { ...req, dc, allowNotFound: true }),
      onChange: (entries) =>
        this.update('policy', () => {
          const value = entries?.[0]?.Value;
          this.takePolicy(value ? decodePolicy(value) : { ok: true, policy: null }, policyKey(options.service));
        }),
      onError: failed,
    });
    this.loops.push(health as BlockingQuery<unknown, ConsulError>, policy as BlockingQuery<unknown, ConsulError>);
  }

  /** Starts watching; idempotent. */
  start(): this {
    if (!this.started) {
      this.started = true;
      for (const l of this.loops) l.start();
      if (this.options.kubernetes) void this.startKubernetes(this.options.kubernetes);
      this.reporter?.start();
      this.untrack = this.metrics?.track({ caller: this.caller, callee: this.options.service, breakers: () => this.breakers(), guardHolds: () => this.guard?.holds ?? 0 }) ?? null;
    }
    return this;
  }

  /** Resolves once both the instance list and the policy have been read (starts the client). */
  ready(timeoutMs = 10_000): Promise<void> {
    this.start();
    if (this.loaded.health && this.loaded.policy) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.options.service}: registry did not answer within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  view(): ServiceView {
    return { endpoints: [...this.endpoints], policy: this.policy, staleSince: this.staleSince, guard: { holding: this.guardTimer !== null, holds: this.guard?.holds ?? 0 } };
  }

  /** The next instance by the policy, skipping open breakers, or throws NoEndpointError. */
  pick(skip?: (id: string) => boolean): PickedEndpoint {
    // Fast path: with every breaker closed and nothing to avoid, a pick is a few array reads.
    let avoid = skip;
    if (this.notClosed.size > 0) {
      const now = Date.now();
      const blocked = (id: string) => this.notClosed.has(id) && !this.stats.get(id)!.breaker!.available(now);
      avoid = skip ? (id) => skip(id) || blocked(id) : blocked;
    }
    const picked = this.split.pick({ skip: avoid, outstanding: this.outstanding });
    if (!picked) {
      const why = this.split.size > 0 ? `every candidate's circuit breaker is open` : `no instance can take traffic${this.policy ? ' under its traffic policy' : ''}`;
      throw new NoEndpointError(`${this.options.service}: ${why}`);
    }
    return picked;
  }

  /**
   * One call to the service: `path` on a picked instance, through that instance's breaker.
   * Idempotent methods are retried on a different instance after a connection failure or a
   * 5xx, within the retry budget; otherwise the answer is returned as it is.
   */
  async request(path: string, init: RequestInit = {}): Promise<{ response: Response; endpoint: PickedEndpoint; attempts: number }> {
    // The first call of a fresh client waits for the registry's first answer instead of failing.
    if (!this.loaded.health || !this.loaded.policy) await this.ready(this.options.requestTimeoutMs ?? 10_000);
    const method = (init.method ?? 'GET').toUpperCase();
    const retries = IDEMPOTENT.has(method) ? (this.options.retries ?? 2) : 0;
    const tried = new Set<string>();
    this.budget.request();
    for (let attempt = 1; ; attempt++) {
      const endpoint = this.pick(tried.size ? (id) => tried.has(id) : undefined);
      tried.add(endpoint.id);
      const stat = this.stat(endpoint.id);
      const url = `http://${hostPort(endpoint)}${path.startsWith('/') ? path : `/${path}`}`;
      const timeout = AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000);
      const call = (signal?: AbortSignal) => fetch(url, { ...init, method, signal: AbortSignal.any([timeout, ...(signal ? [signal] : []), ...(init.signal ? [init.signal] : [])]) });
      stat.outstanding++;
      stat.requests++;
      const started = performance.now();
      let response: Response | null = null;
      let error: unknown = null;
      try {
        response = stat.breaker ? await stat.breaker.execute(call) : await call();
      } catch (err) {
        error = err;
      } finally {
        stat.outstanding--;
        const ms = performance.now() - started;
        recordLatency(stat.latency, ms);
        this.metrics?.observe({ caller: this.caller, callee: this.options.service, subset: endpoint.subset, instance: endpoint.id }, response?.status ?? null, ms / 1000);
      }
      const failed = error !== null || response!.status >= 500;
      if (failed) stat.errors++;
      countStatus(stat.statuses, error !== null ? null : response!.status);
      if (!failed) return { response: response!, endpoint, attempts: attempt };
      const another = attempt <= retries && !init.signal?.aborted && this.hasUntried(tried);
      if (!another || !this.budget.tryRetry()) {
        if (error !== null) throw error;
        return { response: response!, endpoint, attempts: attempt };
      }
      await response?.body?.cancel().catch(() => undefined);
    }
  }

  /** Breaker state per instance this client has called, as it sees them. */
  breakers(): Record<string, BreakerState> {
    const now = Date.now();
    return Object.fromEntries([...this.stats].map(([id, s]) => [id, s.breaker?.state(now) ?? 'closed']));
  }

  /** What this client reports to the control plane: cumulative counters per instance. */
  telemetry(): TelemetryReport {
    const now = Date.now();
    const current = new Set(this.endpoints.map((e) => e.id));
    return {
      clientId: this.clientId,
      caller: this.options.report?.caller ?? this.options.caller ?? 'sdk',
      service: this.options.service,
      datacenter: this.options.datacenter ?? null,
      guardHolds: this.guard?.holds ?? 0,
      instances: [...this.stats]
        // Instances that left the registry drop out once their breaker has nothing to say.
        .filter(([id, s]) => current.has(id) || (s.breaker && s.breaker.state(now) !== 'closed'))
        .map(([id, s]) => ({ id, breaker: s.breaker?.state(now) ?? 'closed', requests: s.requests, errors: s.errors, latency: [...s.latency], statuses: { ...s.statuses } })),
    };
  }

  private readonly outstanding = (id: string) => this.stats.get(id)?.outstanding ?? 0;

  private stat(id: string): InstanceStats {
    let s = this.stats.get(id);
    if (!s) {
      const onChange = (state: BreakerState) => (state === 'closed' ? this.notClosed.delete(id) : this.notClosed.add(id));
      s = { breaker: this.options.breaker === false ? null : new InstanceBreaker(this.options.breaker ?? {}, onChange), outstanding: 0, requests: 0, errors: 0, latency: newHistogram(), statuses: {} };
      this.stats.set(id, s);
    }
    return s;
  }

  private hasUntried(tried: ReadonlySet<string>): boolean {
    const now = Date.now();
    return this.endpoints.some((e) => !tried.has(e.id) && (this.stats.get(e.id)?.breaker?.available(now) ?? true));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.untrack?.();
    if (this.guardTimer) clearTimeout(this.guardTimer);
    await this.reporter?.stop();
    await Promise.all(this.loops.map((l) => l.stop()));
    await this.kube?.stop();
  }

  private update(part: 'health' | 'policy', apply: () => void): void {
    apply();
    this.loaded[part] = true;
    this.split = new TrafficSplit(this.endpoints, this.policy, this.options.strategy);
    this.fresh();
    if (this.loaded.health && this.loaded.policy) {
      for (const w of this.readyWaiters.splice(0)) w();
      this.options.onUpdate?.(this.view());
    }
  }

  private async startKubernetes(target: KubernetesTarget): Promise<void> {
    const where = `kubernetes:${target.namespace}/${this.options.service}`;
    const failed = (message: string) => {
      this.staleSince ??= Date.now();
      this.options.onError?.({ code: 'network', message, source: `sdk:${this.options.service}`, dc: null, path: where });
    };
    try {
      const { KubernetesServiceWatch } = await import('./kubernetes/kubernetesServiceWatch');
      if (this.closed) return;
      this.kube = new KubernetesServiceWatch(target, this.options.service, {
        endpoints: (list) => this.update('health', () => this.offerEndpoints(list)),
        policy: (raw) => this.update('policy', () => this.takePolicy(raw === null ? { ok: true, policy: null } : decodePolicyJson(raw), where)),
        error: failed,
      });
      await this.kube.start();
    } catch (err) {
      failed(`kubernetes: ${(err as Error).message}`);
    }
  }

  /** A broken policy write must not stop traffic: keep following the last valid one. */
  private takePolicy(decoded: { ok: true; policy: TrafficPolicy | null } | { ok: false; why: string }, where: string): void {
    if (decoded.ok) return void (this.policy = decoded.policy);
    this.options.onError?.({ code: 'invalid_body', message: `${where}: ${decoded.why}; keeping the previous policy`, source: `sdk:${this.options.service}`, dc: this.options.datacenter ?? null, path: where });
  }

  /** The registry's new list, through the sanity guard; a held drop is looked at again when its window ends. */
  private offerEndpoints(next: Endpoint[]): void {
    this.registryEndpoints = next;
    if (this.guardTimer) clearTimeout(this.guardTimer);
    this.guardTimer = null;
    if (!this.guard || !this.loaded.health) return void (this.endpoints = next);
    const decision = this.guard.decide(this.endpoints, next, Date.now());
    this.endpoints = decision.use;
    if (decision.holding) {
      this.guardTimer = setTimeout(() => this.update('health', () => this.offerEndpoints(this.registryEndpoints)), decision.recheckInMs);
      this.guardTimer.unref();
    }
  }

  private fresh(): void {
    this.staleSince = null;
  }
}

function toEndpoint(e: ServiceEntry): Endpoint[] {
  // Warning still serves (as in Consul DNS and Envoy); critical — including maintenance — does not.
  if ((e.Checks ?? []).some((c) => c.Status === 'critical' || c.Status === 'maintenance')) return [];
  return [{ id: e.Service.ID, node: e.Node.Node, address: e.Service.Address || e.Node.Address, port: e.Service.Port, tags: e.Service.Tags ?? [], meta: e.Service.Meta ?? {} }];
}

function hostPort(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
