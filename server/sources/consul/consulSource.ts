/**
 * The Consul adapter. Per datacenter it holds exactly two long-polls, whatever the number of
 * services — a 1.8.7 agent drops the 201st concurrent connection from one IP, so a blocking
 * query per service cannot scale (registry-semantics.md A8):
 *
 * - `/v1/catalog/services` (blocking): membership and tags;
 * - `/v1/health/state/any` (blocking): every check change in the datacenter.
 *
 * On a wake it works out which service names changed and re-reads only those with plain
 * `/v1/health/service/:name` calls (bounded concurrency). The first complete pass per
 * datacenter, and the first after any failure, is a full read reported as `scope.synced`, so
 * whatever vanished during an outage disappears.
 *
 * Known limitation: re-registering an instance with a new port/address/meta and unchanged
 * tags and checks (or adding/removing an instance that has no checks) moves
 * `/v1/catalog/services`' index without changing either body, and neither endpoint says which
 * service moved. A catalog move that the health watch does not account for within a second
 * triggers a sweep of every service in the datacenter, at most once per `sweepMinIntervalMs`,
 * so such changes can take that long to appear (covered by a real-Consul integration test).
 */
import {
  aggregateHealth,
  serviceId,
  type Check,
  type Health,
  type Instance,
  type Service,
} from '../../../protocol/model';
import type { Source, SourceEvent, SourceSink } from '../source';
import {
  backoffDelay,
  BlockingQuery,
  DEFAULT_BACKOFF,
  DEFAULT_RATE_LIMIT,
  DEFAULT_WAIT_MS,
  systemClock,
  type Backoff,
  type Clock,
  type FetchResult,
  type RateLimit,
  type RoundResult,
} from './blockingQuery';
import {
  CatalogServices,
  ConsulHttp,
  Datacenters,
  HealthChecks,
  ServiceEntries,
  type ConsulError,
  type HealthCheck,
  type ServiceEntry,
} from './consulHttp';
import type { z } from 'zod';

/** A `Config.consulSources` entry. */
export interface ConsulSourceConfig {
  kind: 'consul';
  name: string;
  /** No trailing slash. */
  address: string;
  token: string | null;
  datacenters: 'all' | string[];
}

/** The pino methods the adapter uses; a pino logger fits. */
export interface SourceLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface ConsulSourceOptions {
  /** @default a logger that drops everything */
  logger?: SourceLogger;
  /** Called after every completed request to Consul, blocking or not; `endpoint` is a low-cardinality path. */
  onWatchLatency?(seconds: number, endpoint: string): void;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Blocking-query wait. @default DEFAULT_WAIT_MS (60 s) */
  waitMs?: number;
  /** Parallel `/v1/health/service/:name` reads per datacenter. @default 8 */
  concurrency?: number;
  /** How often `datacenters: 'all'` re-lists datacenters. @default 60_000 */
  datacenterRefreshMs?: number;
  /** Minimum spacing of full sweeps after unexplained catalog changes. @default 15_000 */
  sweepMinIntervalMs?: number;
  /** @default DEFAULT_RATE_LIMIT (burst 2, then one per 500 ms) per watch */
  rateLimit?: RateLimit;
  /** @default DEFAULT_BACKOFF (0.1–0.5 s first, doubling, capped at 15 s) */
  backoff?: Backoff;
  /** Timeout of non-blocking reads. @default 10_000 */
  requestTimeoutMs?: number;
  /** @default systemClock */
  clock?: Clock;
  /** @default Math.random */
  random?: () => number;
}

export const CONSUL_SOURCE_DEFAULTS = {
  waitMs: DEFAULT_WAIT_MS,
  concurrency: 8,
  datacenterRefreshMs: 60_000,
  sweepMinIntervalMs: 15_000,
} as const;

/** How long the health watch gets to account for a catalog index move before a sweep. */
const EXPLAIN_GRACE_MS = 1_000;

const silent: SourceLogger = { info() {}, warn() {}, error() {}, debug() {} };

export class ConsulSource implements Source {
  readonly kind = 'consul' as const;
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
  /** What is failing right now, by datacenter (or 'datacenters' for the listing). */
  private readonly failing = new Map<string, string>();
  private sink: SourceSink | null = null;
  private started = false;

  constructor(
    private readonly config: ConsulSourceConfig,
    readonly options: ConsulSourceOptions = {},
  ) {
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
      onResponse: options.onWatchLatency ? (r) => options.onWatchLatency!(r.seconds, r.endpoint) : undefined,
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
    if ([...this.watches.values()].every((w) => w.synced)) this.emit({ type: 'status', state: 'ok' });
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
    }
  }
}

interface CheckRef {
  modifyIndex: number;
  serviceName: string;
  node: string;
  nodeLevel: boolean;
}

type Catalog = z.infer<typeof CatalogServices>;

/** The two watches of one datacenter and the services last reported for it. */
class DatacenterWatch {
  /** A full pass has been reported since the last failure. */
  synced = false;
  /** Set by stop(): a datacenter that left the list must not report anything any more. */
  private retired = false;
  private catalog: Catalog | null = null;
  private checks: Map<string, CheckRef> | null = null;
  private readonly reported = new Map<string, Service>();
  private readonly dirty = new Set<string>();
  /** Bumped by every failure, so a round that raced one does not claim a sync. */
  private generation = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private lastSweep = -Infinity;
  /** Raft indexes the health watch has seen a check change at (recent ones only). */
  private readonly explainedIndexes = new Set<number>();
  private sweepScheduled = false;
  private readonly loops: BlockingQuery<unknown, ConsulError>[];
  private readonly concurrency: number;

  constructor(
    private readonly source: ConsulSource,
    readonly dc: string,
    private readonly http: ConsulHttp,
    private readonly options: ConsulSourceOptions,
    private readonly clock: Clock,
    random: () => number,
  ) {
    this.concurrency = options.concurrency ?? CONSUL_SOURCE_DEFAULTS.concurrency;
    const common = {
      waitMs: options.waitMs ?? DEFAULT_WAIT_MS,
      rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      clock,
      random,
    };
    const catalogLoop = new BlockingQuery<Catalog, ConsulError>({
      ...common,
      fetch: (req) => this.blocking('/v1/catalog/services', CatalogServices, req),
      onChange: (value) => this.serialize(() => this.applyCatalog(value)),
      onUnchanged: ({ index, indexMoved }) => this.serialize(() => {
        if (indexMoved && this.synced) this.explainLater(index);
        return this.round();
      }),
      onError: (error) => this.failed(error, () => (this.catalog = null)),
    });
    const healthLoop = new BlockingQuery<HealthCheck[], ConsulError>({
      ...common,
      fetch: (req) => this.blocking('/v1/health/state/any', HealthChecks, req),
      onChange: (value, { index }) => this.serialize(() => this.applyChecks(value, index)),
      onUnchanged: () => this.serialize(() => this.round()),
      onError: (error) => this.failed(error, () => (this.checks = null)),
    });
    this.loops = [catalogLoop as BlockingQuery<unknown, ConsulError>, healthLoop as BlockingQuery<unknown, ConsulError>];
  }

  start(): void {
    for (const l of this.loops) l.start();
  }

  async stop(): Promise<void> {
    this.retired = true;
    await Promise.all(this.loops.map((l) => l.stop()));
    await this.queue;
  }

  private async blocking<T>(
    path: string,
    schema: z.ZodType<T>,
    req: { index: number; waitMs: number; signal: AbortSignal },
  ): Promise<FetchResult<T, ConsulError>> {
    const res = await this.http.get(path, schema, { dc: this.dc, index: req.index, waitMs: req.waitMs, signal: req.signal });
    if (!res.ok) return res;
    if (res.index === null) {
      const message = `GET ${path}?dc=${this.dc}: response has no X-Consul-Index, cannot watch`;
      return { ok: false, error: { code: 'no_index', message, source: this.source.id, dc: this.dc, path } };
    }
    return { ok: true, value: res.value, index: res.index };
  }

  /** Rounds of both watches run one at a time; each watch waits for its round (backpressure). */
  private serialize(fn: () => Promise<RoundResult<ConsulError>>): Promise<RoundResult<ConsulError>> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private failed(error: ConsulError, forget: () => void): void {
    forget();
    this.generation += 1;
    this.synced = false;
    if (!this.retired) this.source.fail(this.dc, error);
  }

  private applyCatalog(next: Catalog): Promise<RoundResult<ConsulError>> {
    const prev = this.catalog;
    this.catalog = next;
    if (prev && this.synced) {
      for (const name of new Set([...Object.keys(prev), ...Object.keys(next)])) {
        const a = prev[name];
        const b = next[name];
        if (!a || !b || !sameTags(a, b)) this.dirty.add(name);
      }
    }
    return this.round();
  }

  private applyChecks(list: HealthCheck[], index: number): Promise<RoundResult<ConsulError>> {
    const prev = this.checks;
    const next = new Map<string, CheckRef>();
    for (const c of list) {
      next.set(`${c.Node}/${c.CheckID}`, { modifyIndex: c.ModifyIndex, serviceName: c.ServiceName, node: c.Node, nodeLevel: c.ServiceID === '' });
    }
    this.checks = next;
    if (prev && this.synced) {
      const touchedNodes = new Set<string>();
      const mark = (ref: CheckRef) => {
        if (ref.nodeLevel) touchedNodes.add(ref.node);
        else this.dirty.add(ref.serviceName);
      };
      for (const [key, ref] of next) {
        if (prev.get(key)?.modifyIndex === ref.modifyIndex) continue;
        mark(ref);
        // A registration with checks writes service and checks at one raft index.
        this.explained(ref.modifyIndex);
      }
      for (const [key, ref] of prev) {
        if (next.has(key)) continue;
        mark(ref);
        this.explained(index);
      }
      // A node check (serfHealth) changes the health of every instance on that node.
      if (touchedNodes.size > 0) {
        for (const svc of this.reported.values()) {
          if (svc.instances.some((i) => i.node !== null && touchedNodes.has(i.node))) this.dirty.add(svc.name);
        }
      }
    }
    return this.round();
  }

  private explained(index: number): void {
    this.explainedIndexes.add(index);
    if (this.explainedIndexes.size > 256) this.explainedIndexes.delete(this.explainedIndexes.values().next().value!);
  }

  /**
   * The catalog moved at `index` without a visible change. If the health watch accounts for
   * that index within a grace period (a registration or deregistration with checks), it was
   * handled; otherwise only a sweep can find what changed.
   */
  private explainLater(index: number): void {
    if (this.explainedIndexes.has(index)) return;
    this.source.track(
      this.clock.sleep(EXPLAIN_GRACE_MS, this.source.signal).then(async () => {
        if (this.source.signal.aborted || this.retired || !this.synced || this.explainedIndexes.has(index)) return;
        this.source.log.debug({ dc: this.dc, index }, 'unexplained catalog change; sweeping');
        this.requestSweep();
        const res = await this.serialize(() => this.round());
        if (res && !res.ok) this.failed(res.error, () => undefined);
      }),
    );
  }

  /** Wants every service re-read, no more often than sweepMinIntervalMs. */
  private requestSweep(): void {
    const min = this.options.sweepMinIntervalMs ?? CONSUL_SOURCE_DEFAULTS.sweepMinIntervalMs;
    const wait = this.lastSweep + min - this.clock.now();
    if (wait <= 0) {
      this.markAllDirty();
      return;
    }
    if (this.sweepScheduled) return;
    this.sweepScheduled = true;
    this.source.track(
      this.clock.sleep(wait, this.source.signal).then(async () => {
        this.sweepScheduled = false;
        if (this.source.signal.aborted || !this.synced) return;
        const res = await this.serialize(() => {
          this.markAllDirty();
          return this.round();
        });
        if (res && !res.ok) this.failed(res.error, () => undefined);
      }),
    );
  }

  private markAllDirty(): void {
    this.lastSweep = this.clock.now();
    for (const name of Object.keys(this.catalog ?? {})) this.dirty.add(name);
    for (const name of this.reported.keys()) this.dirty.add(name);
  }

  private emit(event: SourceEvent): void {
    if (!this.retired) this.source.emit(event);
  }

  private succeeded(generation: number): void {
    // A failure during the round already reported itself; don't clear it.
    if (!this.retired && generation === this.generation) this.source.succeeded(this.dc);
  }

  private async round(): Promise<RoundResult<ConsulError>> {
    if (!this.catalog || !this.checks) return; // the other watch has not answered yet
    const generation = this.generation;
    if (!this.synced) {
      const names = Object.keys(this.catalog).sort();
      const fetched = await this.read(names);
      if (!fetched.ok) return fetched;
      if (generation !== this.generation) return; // a failure meanwhile; the next answer resyncs
      this.reported.clear();
      this.dirty.clear();
      const services: Service[] = [];
      for (const name of names) {
        const svc = fetched.value.get(name);
        if (!svc) continue;
        this.reported.set(name, svc);
        services.push(svc);
      }
      this.synced = true;
      this.emit({ type: 'scope.synced', scope: this.dc, services });
      this.succeeded(generation);
      return;
    }
    if (this.dirty.size > 0) {
      const names = [...this.dirty].sort();
      this.dirty.clear();
      const fetched = await this.read(names);
      if (!fetched.ok) {
        for (const n of names) this.dirty.add(n);
        return fetched;
      }
      for (const name of names) {
        const svc = fetched.value.get(name);
        const before = this.reported.get(name);
        if (!svc) {
          if (before) {
            this.reported.delete(name);
            this.emit({ type: 'service.removed', serviceId: before.id });
          }
        } else if (!before || JSON.stringify(before) !== JSON.stringify(svc)) {
          this.reported.set(name, svc);
          this.emit({ type: 'service.changed', service: svc });
        }
      }
    }
    this.succeeded(generation);
  }

  /** Reads services by name, `concurrency` at a time; null for a service with no instances left. */
  private async read(names: string[]): Promise<{ ok: true; value: Map<string, Service | null> } | { ok: false; error: ConsulError }> {
    const out = new Map<string, Service | null>();
    let failure: ConsulError | null = null;
    let next = 0;
    const worker = async () => {
      while (failure === null && next < names.length) {
        const name = names[next++]!;
        const res = await this.http.get(`/v1/health/service/${encodeURIComponent(name)}`, ServiceEntries, {
          dc: this.dc,
          signal: this.source.signal,
          endpoint: '/v1/health/service/:name',
        });
        if (!res.ok) failure ??= res.error;
        else out.set(name, res.value.length === 0 ? null : toService(this.source.id, this.dc, name, res.value));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, names.length) }, worker));
    return failure ? { ok: false, error: failure } : { ok: true, value: out };
  }
}

function sameTags(a: readonly string[] | null, b: readonly string[] | null): boolean {
  const x = [...(a ?? [])].sort();
  const y = [...(b ?? [])].sort();
  return x.length === y.length && x.every((t, i) => t === y[i]);
}

// ---- normalization (key order follows protocol/model.ts: the store diffs by JSON) ----

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function toService(sourceId: string, dc: string, name: string, entries: readonly ServiceEntry[]): Service {
  const instances = entries.map(toInstance).sort((a, b) => byString(a.id, b.id));
  const tags = [...new Set(instances.flatMap((i) => i.tags))].sort(byString);
  return { id: serviceId(sourceId, dc, name), sourceId, scope: dc, name, tags, instances };
}

export function toInstance(e: ServiceEntry): Instance {
  const checks = (e.Checks ?? []).map(toCheck).sort((a, b) => Number(b.nodeLevel) - Number(a.nodeLevel) || byString(a.id, b.id));
  const meta: Record<string, string> = {};
  for (const k of Object.keys(e.Service.Meta ?? {}).sort(byString)) meta[k] = e.Service.Meta![k]!;
  return {
    id: `${e.Node.Node}/${e.Service.ID}`,
    address: e.Service.Address || e.Node.Address,
    port: e.Service.Port,
    tags: [...(e.Service.Tags ?? [])].sort(byString),
    meta,
    node: e.Node.Node,
    health: aggregateHealth(checks),
    checks,
  };
}

function toCheck(c: HealthCheck): Check {
  return {
    id: c.CheckID,
    name: c.Name,
    status: toHealth(c.Status),
    output: c.Output,
    type: c.CheckID === 'serfHealth' ? 'serf' : c.Type,
    nodeLevel: c.ServiceID === '',
  };
}

function toHealth(status: string): Health {
  return status === 'passing' || status === 'warning' || status === 'critical' ? status : 'unknown';
}
