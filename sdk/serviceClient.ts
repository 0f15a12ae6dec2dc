/**
 * A watching client for one service: two Consul blocking queries (the service's health and
 * its traffic-policy key) keep a live instance list and policy, and every call picks a subset
 * by weight, then an instance in it (TrafficSplit). A flip written to the registry reaches
 * the next pick within one watch wake-up. A registry outage keeps the last-known-good list
 * (`staleSince` says since when) so calls go on.
 *
 * Works against Consul and Switchboard's embedded registry alike (same HTTP API).
 */
import type { TrafficPolicy } from '../protocol/traffic';
import { BlockingQuery, type RateLimit } from './consul/blockingQuery';
import { ConsulHttp, ServiceEntries, type ConsulError, type ServiceEntry } from './consul/consulHttp';
import { decodePolicy, KvEntries, policyKey } from './consul/trafficKv';
import { TrafficSplit, type Endpoint, type PickedEndpoint } from './trafficSplit';

export interface ServiceClientOptions {
  /** Consul HTTP address, e.g. http://127.0.0.1:8500 (or the embedded registry's). */
  registry: string;
  service: string;
  /** ACL token, sent as X-Consul-Token. */
  token?: string | null;
  /** @default the agent's datacenter */
  datacenter?: string | null;
  /** Blocking-query wait. @default 60 s */
  waitMs?: number;
  /** Calls to instances: retries to a different instance after a connection failure (idempotent methods only). @default 2 */
  retries?: number;
  /** Per-attempt timeout for calls to instances. @default 10 s */
  requestTimeoutMs?: number;
  /** Registry trouble (the client keeps serving its last-known-good list). */
  onError?: (error: ConsulError) => void;
  /** The instance list or policy changed. */
  onUpdate?: (view: ServiceView) => void;
  /** @internal tests and benches */
  rateLimit?: RateLimit;
}

export interface ServiceView {
  /** Instances fit to serve (no critical check), before the policy is applied. */
  endpoints: Endpoint[];
  policy: TrafficPolicy | null;
  /** When the registry last failed to answer while we kept serving old data; null when current. */
  staleSince: number | null;
}

export class NoEndpointError extends Error {
  override name = 'NoEndpointError';
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
// Health lists can churn (flapping checks), so their watch is held to a few rounds a second.
const HEALTH_RATE_LIMIT: RateLimit = { burst: 4, intervalMs: 250 };
// A policy key changes only when an operator acts, and each change must reach every pick at
// once: a looser bound, still not a hot loop if something rewrites the key continuously.
const POLICY_RATE_LIMIT: RateLimit = { burst: 10, intervalMs: 100 };

export class ServiceClient {
  private readonly http: ConsulHttp;
  private readonly loops: BlockingQuery<unknown, ConsulError>[];
  private endpoints: Endpoint[] = [];
  private policy: TrafficPolicy | null = null;
  private split = new TrafficSplit([], null);
  private staleSince: number | null = null;
  private readonly loaded = { health: false, policy: false };
  private readonly readyWaiters: (() => void)[] = [];
  private started = false;

  constructor(private readonly options: ServiceClientOptions) {
    this.http = new ConsulHttp({ sourceName: `sdk:${options.service}`, address: options.registry, token: options.token ?? null });
    const dc = options.datacenter ?? null;
    const waitMs = options.waitMs;
    const failed = (error: ConsulError) => {
      this.staleSince ??= Date.now();
      options.onError?.(error);
    };
    const health = new BlockingQuery<ServiceEntry[], ConsulError>({
      waitMs,
      rateLimit: options.rateLimit ?? HEALTH_RATE_LIMIT,
      fetch: (req) => this.http.getIndexed(`/v1/health/service/${encodeURIComponent(options.service)}`, ServiceEntries, { ...req, dc }),
      onChange: (entries) => this.update('health', () => (this.endpoints = entries.flatMap(toEndpoint))),
      onUnchanged: () => this.fresh(),
      onError: failed,
    });
    const policy = new BlockingQuery<KvEntries, ConsulError>({
      waitMs,
      rateLimit: options.rateLimit ?? POLICY_RATE_LIMIT,
      fetch: (req) => this.http.getIndexed(`/v1/kv/${policyKey(options.service)}`, KvEntries, { ...req, dc, allowNotFound: true }),
      onChange: (entries) =>
        this.update('policy', () => {
          const value = entries?.[0]?.Value;
          if (!value) return void (this.policy = null);
          const decoded = decodePolicy(value);
          // A broken policy write must not stop traffic: keep following the last valid one.
          if (decoded.ok) this.policy = decoded.policy;
          else options.onError?.({ code: 'invalid_body', message: `${policyKey(options.service)}: ${decoded.why}; keeping the previous policy`, source: `sdk:${options.service}`, dc, path: `/v1/kv/${policyKey(options.service)}` });
        }),
      onError: failed,
    });
    this.loops = [health as BlockingQuery<unknown, ConsulError>, policy as BlockingQuery<unknown, ConsulError>];
  }

  /** Starts watching; idempotent. */
  start(): this {
    if (!this.started) {
      this.started = true;
      for (const l of this.loops) l.start();
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
    return { endpoints: [...this.endpoints], policy: this.policy, staleSince: this.staleSince };
  }

  /** The next instance by the policy, or throws NoEndpointError. */
  pick(exclude?: ReadonlySet<string>): PickedEndpoint {
    const picked = this.split.pick(exclude);
    if (!picked) throw new NoEndpointError(`no ${this.options.service} instance can take traffic${this.policy ? ' under its traffic policy' : ''}`);
    return picked;
  }

  /**
   * One call to the service: `path` on a picked instance. A connection failure on an idempotent
   * method is retried on a different instance; HTTP error statuses are returned as they are.
   */
  async request(path: string, init: RequestInit = {}): Promise<{ response: Response; endpoint: PickedEndpoint; attempts: number }> {
    const method = (init.method ?? 'GET').toUpperCase();
    const retries = IDEMPOTENT.has(method) ? (this.options.retries ?? 2) : 0;
    const tried = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const endpoint = this.pick(tried);
      tried.add(endpoint.id);
      const signal = AbortSignal.any([AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000), ...(init.signal ? [init.signal] : [])]);
      try {
        const response = await fetch(`http://${hostPort(endpoint)}${path.startsWith('/') ? path : `/${path}`}`, { ...init, method, signal });
        return { response, endpoint, attempts: attempt };
      } catch (err) {
        if (init.signal?.aborted || attempt > retries || tried.size >= this.split.size) throw err;
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
  }

  private update(part: 'health' | 'policy', apply: () => void): void {
    apply();
    this.loaded[part] = true;
    this.split = new TrafficSplit(this.endpoints, this.policy);
    this.fresh();
    if (this.loaded.health && this.loaded.policy) {
      for (const w of this.readyWaiters.splice(0)) w();
      this.options.onUpdate?.(this.view());
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
