/**
 * The Consul adapter. Per datacenter it holds four long-polls, whatever the number of
 * services (a 1.8.7 agent drops the 201st concurrent connection from one IP, so a blocking
 * query per service cannot scale, registry-semantics.md A8), at most `focusedServices` more
 * for services someone has open (see `focus`), plus at most `concurrency` short reads:
 *
 * - `/v1/catalog/services` (blocking): membership and tags;
 * - `/v1/health/state/critical` and `/v1/health/state/warning` (blocking): the non-passing
 *   checks. With a healthy fleet both bodies are nearly empty, Consul answers them from its
 *   status index, and a flip moves a check into or out of one of them (or changes its
 *   ModifyIndex), which names the service;
 * - the traffic-policy KV prefix (blocking).
 *
 * A check flip costs one `/v1/health/service/:name` read of the flipped service (a node-level
 * check: one `/v1/catalog/node-services/:node` to name the services on that node). A catalog
 * index move (registration, deregistration, tag change) costs one `/v1/internal/ui/services`
 * read, compared per service (instance count, nodes, tags) with digests of what was reported,
 * then reads of the services that differ: O(services) bytes, never a health read of the fleet.
 *
 * The first complete pass per datacenter, and the first after any failure, is a full read
 * reported as `scope.synced`, so whatever vanished during an outage disappears. It goes per
 * node (`/v1/catalog/nodes`, then `/v1/catalog/node-services/:node` + `/v1/health/node/:node`
 * for each), 2K+1 requests instead of N, falling back to per-service reads on a registry
 * without those endpoints (the embedded registry).
 *
 * A datacenter holding more than `summaryFirstAbove` instances is listed first from one
 * `/v1/internal/ui/services` read (every service with its health counts, instances `pending`),
 * and its instances are read after, in the background; `want` reads one ahead (someone opened
 * it). A full read costs a 1.8.7 agent ~12 s of CPU at 150,000 instances; the summary ~1 s.
 *
 * Known limitations: a passing check whose Output changes while it stays passing is not seen
 * until something else re-reads its service. Re-registering an instance with a new
 * port/address/meta and unchanged tags, checks and instance count moves only
 * `/v1/catalog/services`' index; nothing names the service, so a full read (a sweep) finds
 * it, at most once per `sweepMinIntervalMs` (covered by a real-Consul integration test).
 */
import type { Source, SourceEvent, SourceSink } from '../source';
import { backoffDelay, DEFAULT_BACKOFF, systemClock, type Clock } from '../../../clients/consul/blockingQuery';
import { ConsulHttp, Datacenters, type ConsulError } from '../../../clients/consul/consulHttp';
import { CONSUL_SOURCE_DEFAULTS, type ConsulSourceConfig, type ConsulSourceOptions, type SourceLogger } from './consulSourceOptions';
import { DatacenterWatch } from './datacenterWatch';

export { CONSUL_SOURCE_DEFAULTS, type ConsulSourceConfig, type ConsulSourceOptions, type SourceLogger } from './consulSourceOptions';
export { toInstance, toService } from './consulNormalize';

const silent: SourceLogger = { info() {}, warn() {}, error() {}, debug() {} };

export class ConsulSource implements Source {
  readonly kind: 'consul' | 'embedded';
  readonly id: string;
  readonly name: string;
  readonly address: string;
  private readonly http: ConsulHttp;
  readonly log: SourceLogger;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly controller = new AbortController();
  private readonly watches = new Map<string, DatacenterWatch>();
  private readonly tasks = new Set<Promise<unknown>>();
  /** Services someone has open (see focus), kept for datacenters listed later. */
  private readonly open = new Set<string>();
  /** What is failing right now, by datacenter (or 'datacenters' for the listing). */
  private readonly failing = new Map<string, string>();
  private sink: SourceSink | null = null;
  private started = false;
  /** The status detail says instances are still being read. */
  private loadingShown = false;
  private watchingResolve!: () => void;
  /** Resolves once the datacenter watches were started (or the first listing of datacenters failed). */
  readonly watching = new Promise<void>((resolve) => (this.watchingResolve = resolve));

  constructor(
    private readonly config: ConsulSourceConfig,
    readonly options: ConsulSourceOptions = {},
  ) {
    this.kind = config.kind;
    this.id = config.name;
    this.name = config.name;
    this.log = options.logger ?? silent;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.http = new ConsulHttp({
      sourceName: config.name,
      address: config.address,
      token: config.token,
      fetch: options.fetch,
      requestTimeoutMs: options.requestTimeoutMs,
      onResponse: options.onWatchLatency || options.onResponse
        ? (r) => {
            options.onWatchLatency?.(r.seconds, r.endpoint);
            options.onResponse?.(r);
          }
        : undefined,
    });
    this.address = this.http.address;
  }

  start(sink: SourceSink): void {
    if (this.started) return;
    this.started = true;
    this.sink = sink;
    const dcs = this.config.datacenters;
    if (dcs === 'all') this.track(this.listDatacenters());
    else this.setDatacenters(dcs);
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.all([...this.watches.values()].map((w) => w.stop()));
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  // ---- used by DatacenterWatch ----

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  emit(event: SourceEvent): void {
    if (this.controller.signal.aborted || !this.sink) return;
    this.sink(event);
  }

  track(p: Promise<unknown>): void {
    this.tasks.add(p);
    void p.finally(() => this.tasks.delete(p));
  }

  fail(key: string, error: ConsulError): void {
    if (this.controller.signal.aborted) return;
    const previous = this.failing.get(key);
    this.failing.set(key, error.message);
    if (previous !== error.message) this.log.warn({ dc: error.dc, code: error.code, status: error.status, err: error.message }, 'consul watch failing');
    this.emit({ type: 'status', state: 'down', error: error.message });
  }

  /** A round succeeded in `key`; the source is ok once nothing fails and every datacenter has synced. */
  succeeded(key: string): void {
    if (this.failing.delete(key)) this.log.info({ dc: key }, 'consul watch recovered');
    if (this.failing.size > 0) {
      // Still failing elsewhere: keep showing that error rather than a stale "ok".
      return;
    }
    const watches = [...this.watches.values()];
    if (!watches.every((w) => w.synced)) return;
    const loading = watches.reduce((n, w) => n + w.loadingInstances, 0);
    const detail = loading > 0 ? `listed from the registry's summary; reading the instances of ${loading.toLocaleString('en-US')} services` : this.loadingShown ? null : undefined;
    this.loadingShown = loading > 0;
    this.emit({ type: 'status', state: 'ok', ...(detail !== undefined ? { detail } : {}) });
  }

  /** Reads a pending service (`<source>/<dc>/<name>`) ahead of its datacenter's bulk read. */
  want(serviceId: string): void {
    const at = this.locate(serviceId);
    if (at) this.watches.get(at.dc)?.want(at.name);
  }

  /**
   * A service someone has open gets its own long-poll (`/v1/health/service/:name`, which
   * wakes only for that service): under churn elsewhere its changes arrive in one round trip
   * instead of behind the next re-read of the fleet's critical list.
   */
  focus(serviceId: string, open: boolean): void {
    const at = this.locate(serviceId);
    if (!at) return;
    if (open) this.open.add(serviceId);
    else this.open.delete(serviceId);
    this.watches.get(at.dc)?.focus(at.name, open);
  }

  /** `<source>/<dc>/<name>` → its datacenter and name, if it is this source's. */
  private locate(serviceId: string): { dc: string; name: string } | null {
    if (!serviceId.startsWith(`${this.id}/`)) return null;
    const rest = serviceId.slice(this.id.length + 1);
    const slash = rest.indexOf('/');
    return slash < 0 ? null : { dc: rest.slice(0, slash), name: rest.slice(slash + 1) };
  }

  // ---- datacenters ----

  private async listDatacenters(): Promise<void> {
    const signal = this.controller.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const res = await this.http.get('/v1/catalog/datacenters', Datacenters, { signal });
      if (signal.aborted) return;
      if (!res.ok) {
        attempt += 1;
        this.watchingResolve();
        this.fail('datacenters', res.error);
        await this.clock.sleep(backoffDelay(attempt, this.options.backoff ?? DEFAULT_BACKOFF, this.random), signal);
        continue;
      }
      attempt = 0;
      this.setDatacenters(res.value);
      if (this.failing.has('datacenters')) this.succeeded('datacenters');
      await this.clock.sleep(this.options.datacenterRefreshMs ?? CONSUL_SOURCE_DEFAULTS.datacenterRefreshMs, signal);
    }
  }

  private setDatacenters(list: readonly string[]): void {
    const next = [...new Set(list)].sort();
    const current = [...this.watches.keys()].sort();
    if (next.length === current.length && next.every((dc, i) => dc === current[i])) return;
    for (const dc of current) {
      if (next.includes(dc)) continue;
      const w = this.watches.get(dc)!;
      this.watches.delete(dc);
      this.failing.delete(dc);
      this.track(w.stop());
    }
    this.log.info({ datacenters: next }, 'consul datacenters');
    this.emit({ type: 'scopes.changed', scopes: next });
    for (const dc of next) {
      if (this.watches.has(dc)) continue;
      const w = new DatacenterWatch(this, dc, this.http, this.options, this.clock, this.random);
      this.watches.set(dc, w);
      w.start();
      // Opened before this datacenter was listed.
      for (const id of this.open) {
        const at = this.locate(id);
        if (at?.dc === dc) w.focus(at.name, true);
      }
    }
    this.watchingResolve();
  }
}

/** Where a source's watch latencies go: the `watchLatency` histogram, or something that holds them for it. */
export interface WatchLatencyObserver {
  observe(labels: { source: string; endpoint: string }, seconds: number): void;
}

/** A Consul source as the server runs it: its logs and watch latencies carry its name. */
export function namedConsulSource(config: ConsulSourceConfig, logger: SourceLogger & { child(bindings: object): SourceLogger }, watchLatency: WatchLatencyObserver): ConsulSource {
  return new ConsulSource(config, {
    logger: logger.child({ source: config.name }),
    onWatchLatency: (seconds, endpoint) => watchLatency.observe({ source: config.name, endpoint }, seconds),
  });
}
