/**
 * The long-polls of one datacenter (`/v1/catalog/services`, `/v1/health/state/any`, and the
 * traffic-policy KV prefix),
 * what they imply changed, and the services last reported for it. See consulSource.ts for the
 * design and its known limitation.
 */
import { z } from 'zod';
import { KvEntries, parsePolicies, TRAFFIC_KEY_PREFIX } from '../../../clients/consul/trafficKv';
import type { Service } from '../../../protocol/model';
import type { SourceEvent } from '../source';
import {
  BlockingQuery,
  DEFAULT_BACKOFF,
  DEFAULT_RATE_LIMIT,
  DEFAULT_WAIT_MS,
  type Clock,
  type FetchResult,
  type RoundResult,
} from '../../../clients/consul/blockingQuery';
import { CatalogServices, ConsulHttp, HealthChecks, ServiceEntries, type ConsulError, type HealthCheck } from '../../../clients/consul/consulHttp';
import { toService } from './consulNormalize';
import type { ConsulSource } from './consulSource';
import { CONSUL_SOURCE_DEFAULTS, type ConsulSourceOptions } from './consulSourceOptions';

/** How long the health watch gets to account for a catalog index move before a sweep. */
const EXPLAIN_GRACE_MS = 1_000;

const TRAFFIC_PREFIX = `/v1/kv/${TRAFFIC_KEY_PREFIX}`;

interface CheckRef {
  modifyIndex: number;
  serviceName: string;
  node: string;
  nodeLevel: boolean;
}

type Catalog = z.infer<typeof CatalogServices>;

/** The watches of one datacenter and the services last reported for it. */
export class DatacenterWatch {
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
    // Traffic policies (switchboard/traffic/<service>) ride along as a third long-poll. A token
    // without KV read only loses the policies: it never marks the source down.
    const trafficLoop = new BlockingQuery<KvEntries, ConsulError>({
      ...common,
      fetch: (req) => this.blocking(TRAFFIC_PREFIX, KvEntries, req, { query: { recurse: '' }, allowNotFound: true }),
      onChange: (value) => {
        this.emit({ type: 'traffic.synced', scope: this.dc, policies: parsePolicies(value, (key, why) => this.source.log.warn({ dc: this.dc, key, why }, 'ignoring invalid traffic policy')) });
      },
      onError: (error) => this.source.log.debug({ dc: this.dc, err: error.message }, 'traffic policies unavailable'),
    });
    this.loops = [
      catalogLoop as BlockingQuery<unknown, ConsulError>,
      healthLoop as BlockingQuery<unknown, ConsulError>,
      trafficLoop as BlockingQuery<unknown, ConsulError>,
    ];
  }

  start(): void {
    for (const l of this.loops) l.start();
  }

  async stop(): Promise<void> {
    this.retired = true;
    await Promise.all(this.loops.map((l) => l.stop()));
    await this.queue;
  }

  private blocking<T>(
    path: string,
    schema: z.ZodType<T>,
    req: { index: number; waitMs: number; signal: AbortSignal },
    extra: { query?: Record<string, string>; allowNotFound?: boolean } = {},
  ): Promise<FetchResult<T, ConsulError>> {
    return this.http.getIndexed(path, schema, { dc: this.dc, ...req, ...extra });
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
