/**
 * The long-polls of one datacenter, what they imply changed, and a compact record of what was
 * last reported for it. See consulSource.ts for the design.
 */
import { hash } from 'node:crypto';
import { z } from 'zod';
import { KvEntries, parsePolicies, TRAFFIC_KEY_PREFIX } from '../../../clients/consul/trafficKv';
import { serviceId, type HealthCounts, type Service } from '../../../protocol/model';
import type { CheckPatch, SourceEvent } from '../source';
import {
  BlockingQuery,
  DEFAULT_BACKOFF,
  type BlockingQueryOptions,
  DEFAULT_WAIT_MS,
  type Clock,
  type FetchResult,
  type RoundResult,
} from '../../../clients/consul/blockingQuery';
import {
  CatalogNodes,
  CatalogServices,
  ConsulHttp,
  HealthChecks,
  NodeServices,
  ServiceEntries,
  UiServices,
  type ConsulError,
  type HealthCheck,
  type ServiceEntry,
} from '../../../clients/consul/consulHttp';
import { toCheck, toPendingService, toService } from './consulNormalize';
import type { ConsulSource } from './consulSource';
import { CONSUL_SOURCE_DEFAULTS, type BodyLimits, type ConsulSourceOptions } from './consulSourceOptions';

/** How long the check watches get to account for a catalog index move before a sweep. */
const EXPLAIN_GRACE_MS = 1_000;

const TRAFFIC_PREFIX = `/v1/kv/${TRAFFIC_KEY_PREFIX}`;

/** `/v1/internal/ui/services` is large by nature; its reads get this long. */
const SUMMARY_TIMEOUT_MS = 60_000;

/** The watch of one open service. */
interface Focus {
  readonly loop: BlockingQuery<ServiceEntry[], ConsulError>;
  /**
   * Its last answer was reported while the datacenter was synced: from then on its changes come
   * through it, and the check watches leave the service alone (a flip is not reported twice).
   */
  live: boolean;
}

interface CheckRef {
  modifyIndex: number;
  serviceName: string;
  serviceId: string;
  node: string;
  nodeLevel: boolean;
  /** The check as the state list carries it: everything the model needs of it. */
  check: HealthCheck;
  /** The answer of its watch that last listed it (entries not listed in an answer left the list). */
  seenIn: number;
}

/** What the adapter keeps per reported service: two short digests instead of a second copy of the fleet. */
interface Reported {
  /** Digest of the normalized Service (its JSON): a re-read that hashes the same is not re-emitted. */
  fp: string;
  /** Digest of what `/v1/internal/ui/services` says about it: instance count, nodes, tags. */
  summary: string;
}

type Catalog = z.infer<typeof CatalogServices>;
type Read = { ok: true; value: Map<string, Service | null> } | { ok: false; error: ConsulError };

const digest = (s: string) => hash('sha1', s, 'base64');
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The summary digest, computed the same way from a Service and from a ui/services row. */
export function summaryDigest(instanceCount: number, nodes: readonly string[], tags: readonly string[]): string {
  const n = [...new Set(nodes)].sort(byString);
  const t = [...new Set(tags)].sort(byString);
  return digest(`${instanceCount}\u0000${n.join('\u0001')}\u0000${t.join('\u0001')}`);
}

function serviceSummary(svc: Service): string {
  return summaryDigest(svc.instances.length, svc.instances.map((i) => i.node ?? ''), svc.tags);
}

/** The watches of one datacenter and the services last reported for it. */
export class DatacenterWatch {
  /** A full pass has been reported since the last failure. */
  synced = false;
  /** Set by stop(): a datacenter that left the list must not report anything any more. */
  private retired = false;
  private catalog: Catalog | null = null;
  /** The non-passing checks, by `node/checkID`, per watched state. */
  private readonly states: Record<'critical' | 'warning', Map<string, CheckRef> | null> = { critical: null, warning: null };
  private readonly reported = new Map<string, Reported>();
  private readonly dirty = new Set<string>();
  /**
   * Checks that left the non-passing lists (passing now, new output unknown), by service:
   * only that service's checks are read (`/v1/health/checks/:name`, a quarter of a service
   * read's bytes), unless the service is re-read anyway.
   */
  private readonly passed = new Map<string, Set<string>>();
  /** Counts the check watches' answers (CheckRef.seenIn). */
  private checkAnswers = 0;
  /** Whether the registry has `/v1/health/checks/:name`. */
  private checkReads = true;
  /** Nodes whose node-level checks moved: every service on them is re-read. */
  private readonly dirtyNodes = new Set<string>();
  /** A catalog index that moved since the last ui/services comparison. */
  private summaryWanted: number | null = null;
  /** Bumped by every failure, so a round that raced one does not claim a sync. */
  private generation = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private lastSweep = -Infinity;
  /** How long the last full read took: sweeps are spaced so they cost at most ~5 % of the time. */
  private lastFullReadMs = 0;
  /** Raft indexes a check watch has seen a change at (recent ones only). */
  private readonly explainedIndexes = new Set<number>();
  /**
   * X-Consul-Index of recent `/v1/health/service/:name` reads (bounded): a check change at or
   * below it is already in what was reported. A check that moves critical → warning leaves
   * one list and enters the other, and the two watches answer separately; this keeps that
   * to one read.
   */
  private readonly readAt = new Map<string, number>();
  private sweepScheduled = false;
  private sweepWanted = false;
  /** Services read (true) or only patched (false) since the running sweep began: its older answer must not undo them. */
  private touchedSinceSweep: Map<string, boolean> | null = null;
  /** Whether the registry has the node endpoints (the embedded registry does not). */
  private nodeReads: boolean;
  private summaries = true;
  /**
   * Services listed from `/v1/internal/ui/services` whose instances are not read yet. The
   * first sync lists every service with its counts at once (one read Consul answers in about a
   * second at 10,000 services) and reads instances in the background: a full read of 150,000
   * instances costs a 1.8.7 agent 12 s of CPU, whoever asks.
   */
  private readonly pending = new Set<string>();
  /** The background read of the pending services is running. */
  private loading = false;
  /** The summary-first start was decided (only the first sync: a resync keeps last-known-good instead). */
  private summaryTried = false;
  /** `/v1/internal/ui/services`, asked for at start beside the watches' first reads. */
  private summaryAtStart: ReturnType<DatacenterWatch['readSummary']> | null = null;
  private readonly loops: BlockingQuery<unknown, ConsulError>[];
  /** Services someone has open, each with a long-poll of its own (see focus). */
  private readonly focused = new Map<string, Focus>();
  /** Opened while `focusedServices` were already focused, oldest first: they get a watch as others close. */
  private readonly focusQueue = new Set<string>();
  private readonly focusCap: number;
  private readonly loopOptions: Omit<BlockingQueryOptions<unknown, ConsulError>, 'fetch' | 'onChange' | 'onError'>;
  private readonly concurrency: number;
  private readonly summaryFirstAbove: number;
  private readonly limits: BodyLimits;

  constructor(
    private readonly source: ConsulSource,
    readonly dc: string,
    private readonly http: ConsulHttp,
    private readonly options: ConsulSourceOptions,
    private readonly clock: Clock,
    random: () => number,
  ) {
    this.concurrency = options.concurrency ?? CONSUL_SOURCE_DEFAULTS.concurrency;
    this.summaryFirstAbove = options.summaryFirstAbove ?? CONSUL_SOURCE_DEFAULTS.summaryFirstAbove;
    this.limits = { ...CONSUL_SOURCE_DEFAULTS.bodyLimits, ...options.bodyLimits };
    this.focusCap = options.focusedServices ?? CONSUL_SOURCE_DEFAULTS.focusedServices;
    const fullRead = options.fullRead ?? 'auto';
    this.nodeReads = fullRead === 'nodes' || (fullRead === 'auto' && source.kind === 'consul');
    const common = {
      waitMs: options.waitMs ?? DEFAULT_WAIT_MS,
      rateLimit: options.rateLimit ?? CONSUL_SOURCE_DEFAULTS.rateLimit,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      clock,
      random,
    };
    this.loopOptions = common;
    const catalogLoop = new BlockingQuery<Catalog, ConsulError>({
      ...common,
      // Consul lists each service's tags in map order, which differs from one answer to the next
      // (a 60 s wait timeout with nothing changed came back "different" and cost a full sweep):
      // sorted, an unchanged catalog compares equal.
      fetch: async (req) => {
        const res = await this.blocking('/v1/catalog/services', CatalogServices, req, { maxBytes: this.limits.catalog });
        return res.ok ? { ...res, value: withSortedTags(res.value) } : res;
      },
      onChange: (value, { index }) => this.serialize(() => this.applyCatalog(value, index)),
      onUnchanged: ({ index, indexMoved }) => this.serialize(() => {
        if (indexMoved && this.synced) this.summaryWanted = index;
        return this.round();
      }),
      onError: (error) => this.failed(error, () => (this.catalog = null)),
    });
    // Only the non-passing checks are watched: with a healthy fleet both bodies are tiny, and
    // each is served from Consul's status index (O(non-passing)), whereas
    // `/v1/health/state/any?filter=Status != "passing"` scans every check on every wake.
    const stateLoop = (state: 'critical' | 'warning') => new BlockingQuery<HealthCheck[], ConsulError>({
      ...common,
      // The critical list grows with an outage or a churn (6,500 checks are 2.6 MB) and is re-read
      // whole on every wake: spaced by its size, re-reading it cannot take all of the agent's CPU.
      pace: options.statePace ?? CONSUL_SOURCE_DEFAULTS.statePace,
      fetch: (req) => this.blocking(`/v1/health/state/${state}`, HealthChecks, req, { maxBytes: this.limits.checks }),
      onChange: (value, { index }) => this.serialize(() => this.applyChecks(state, value, index)),
      onUnchanged: () => this.serialize(() => this.round()),
      onError: (error) => this.failed(error, () => (this.states[state] = null)),
    });
    // Traffic policies (switchboard/traffic/<service>) ride along as another long-poll. A token
    // without KV read only loses the policies: it never marks the source down.
    const trafficLoop = new BlockingQuery<KvEntries, ConsulError>({
      ...common,
      fetch: (req) => this.blocking(TRAFFIC_PREFIX, KvEntries, req, { query: { recurse: '' }, allowNotFound: true, maxBytes: this.limits.traffic }),
      onChange: (value) => {
        this.emit({ type: 'traffic.synced', scope: this.dc, policies: parsePolicies(value, (key, why) => this.source.log.warn({ dc: this.dc, key, why }, 'ignoring invalid traffic policy')) });
      },
      onError: (error) => this.source.log.debug({ dc: this.dc, err: error.message }, 'traffic policies unavailable'),
    });
    this.loops = [catalogLoop, stateLoop('critical'), stateLoop('warning'), trafficLoop] as BlockingQuery<unknown, ConsulError>[];
  }

  start(): void {
    if (this.summaryFirstAbove !== Infinity) this.summaryAtStart = this.readSummary();
    for (const l of this.loops) l.start();
  }

  /** Instances are still being read for some services. */
  get loadingInstances(): number {
    return this.pending.size;
  }

  /** Someone needs a pending service's instances: read it in the next round, ahead of the bulk read. */
  want(name: string): void {
    if (!this.pending.has(name) || this.dirty.has(name)) return;
    this.dirty.add(name);
    this.kick();
  }

  /** Runs a round outside any watch's answer (a demanded read, a finished bulk read). */
  private kick(): void {
    this.source.track(
      this.serialize(() => this.round()).then((res) => {
        if (res && !res.ok) this.failed(res.error, () => undefined);
      }),
    );
  }

  /** One row per service: ~7.8 MB at 10,000 services, which a busy agent may take well over 10 s to answer. */
  private readSummary() {
    return this.get('/v1/internal/ui/services', UiServices, '/v1/internal/ui/services', this.limits.summary, SUMMARY_TIMEOUT_MS);
  }

  /**
   * Someone opened (or closed) a service: while open it has its own long-poll on
   * `/v1/health/service/:name`, which Consul wakes only for that service (registry-semantics.md
   * A2), so its flips arrive in one small round trip however busy the rest of the fleet is. At
   * most `focusedServices` at once; more wait for one to close.
   */
  focus(name: string, open: boolean): void {
    if (!open) {
      this.focusQueue.delete(name);
      const f = this.focused.get(name);
      if (!f) return;
      this.focused.delete(name);
      this.source.track(f.loop.stop());
      // Check changes were left to its watch; what that had not answered yet is read now.
      if (f.live && this.synced) {
        this.dirty.add(name);
        this.kick();
      }
      const next = this.focusQueue.values().next();
      if (!next.done) {
        this.focusQueue.delete(next.value);
        this.focus(next.value, true);
      }
      return;
    }
    if (this.retired || unaddressable(name) || this.focused.has(name) || this.focusCap <= 0) return;
    if (this.focused.size >= this.focusCap) {
      this.focusQueue.add(name);
      return;
    }
    const path = `/v1/health/service/${encodeURIComponent(name)}`;
    const f: Focus = {
      live: false,
      loop: new BlockingQuery<ServiceEntry[], ConsulError>({
        ...this.loopOptions,
        fetch: (req) => this.blocking(path, ServiceEntries, req, { maxBytes: this.limits.service }),
        // Every answer is compared with what was reported (report's digest), not only with the last answer:
        // one dropped during a resync must count once the datacenter is synced.
        equals: () => false,
        onChange: (entries, { index }) => this.serialize(async () => {
          if (this.focused.get(name) !== f) return; // closed meanwhile
          if (!this.synced) {
            // The (re)sync reports the service; until this watch answers again the check watches cover it.
            f.live = false;
            return;
          }
          f.live = true;
          if ((this.readAt.get(name) ?? -1) > index) return; // a newer read was reported already
          this.noteRead(name, index);
          this.report([name], new Map([[name, entries.length === 0 ? null : toService(this.source.id, this.dc, name, entries)]]));
        }),
        onError: (error) => {
          // Back to the check watches; what they left to this watch is read in the next round.
          if (f.live && this.synced) this.dirty.add(name);
          f.live = false;
          this.source.log.debug({ dc: this.dc, service: name, err: error.message }, 'open service watch failing');
        },
      }),
    };
    this.focused.set(name, f);
    f.loop.start();
  }

  async stop(): Promise<void> {
    this.retired = true;
    await Promise.all([...this.loops, ...[...this.focused.values()].map((f) => f.loop)].map((l) => l.stop()));
    await this.queue;
  }

  private blocking<T>(
    path: string,
    schema: z.ZodType<T>,
    req: { index: number; waitMs: number; signal: AbortSignal },
    extra: { query?: Record<string, string>; allowNotFound?: boolean; maxBytes?: number } = {},
  ): Promise<FetchResult<T, ConsulError>> {
    return this.http.getIndexed(path, schema, { dc: this.dc, ...req, ...extra });
  }

  private get<T>(path: string, schema: z.ZodType<T>, endpoint: string, maxBytes: number, timeoutMs?: number) {
    return this.http.get(path, schema, { dc: this.dc, signal: this.source.signal, endpoint, maxBytes, timeoutMs });
  }

  /** Rounds of all watches run one at a time; each watch waits for its round (backpressure). */
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

  private applyCatalog(next: Catalog, index: number): Promise<RoundResult<ConsulError>> {
    const prev = this.catalog;
    this.catalog = next;
    if (prev && this.synced) {
      for (const name of new Set([...Object.keys(prev), ...Object.keys(next)])) {
        const a = prev[name];
        const b = next[name];
        if (!a || !b || !sameTags(a, b)) this.dirty.add(name);
      }
      // The answer may also cover instance (de)registrations that change no tags.
      this.summaryWanted = index;
    }
    return this.round();
  }

  private applyChecks(state: 'critical' | 'warning', list: HealthCheck[], index: number): Promise<RoundResult<ConsulError>> {
    const prev = this.states[state];
    // Updated in place: under churn the list (thousands of checks) is re-read many times a
    // second, and only what changed should outlive the answer (old-generation garbage is what
    // makes a long-lived heap grow and costs full collections).
    const refs = prev ?? new Map<string, CheckRef>();
    this.states[state] = refs;
    const diff = prev !== null && this.synced;
    const other = this.states[state === 'critical' ? 'warning' : 'critical'];
    const patches: CheckPatch[] = [];
    const mark = (ref: CheckRef, changedAt: number, patch: boolean) => {
      // A node check (serfHealth) changes the health of every instance on that node.
      if (ref.nodeLevel) this.dirtyNodes.add(ref.node);
      else if (this.focused.get(ref.serviceName)?.live) return; // its own watch reports it
      else if ((this.readAt.get(ref.serviceName) ?? -1) >= changedAt) return; // already in what was read
      // A check that entered or changed within this list arrives whole: patch it, read nothing
      // (under churn, a read per flip was most of the agent's CPU). Pending services are read.
      else if (this.pending.has(ref.serviceName)) this.dirty.add(ref.serviceName);
      else if (patch) patches.push(this.patchOf(ref));
      else if (!this.checkReads) this.dirty.add(ref.serviceName);
      else {
        let ids = this.passed.get(ref.serviceName);
        if (!ids) this.passed.set(ref.serviceName, (ids = new Set()));
        ids.add(`${ref.node}/${ref.check.CheckID}`);
      }
    };
    const answer = ++this.checkAnswers;
    for (const c of list) {
      const key = `${c.Node}/${c.CheckID}`;
      const kept = refs.get(key);
      if (kept && kept.modifyIndex === c.ModifyIndex) {
        kept.seenIn = answer;
        continue;
      }
      const ref: CheckRef = { modifyIndex: c.ModifyIndex, serviceName: c.ServiceName, serviceId: c.ServiceID, node: c.Node, nodeLevel: c.ServiceID === '', check: c, seenIn: answer };
      refs.set(key, ref);
      if (!diff) continue;
      // Entered this list, or changed within it.
      mark(ref, ref.modifyIndex, true);
      // A registration with checks writes service and checks at one raft index.
      this.explained(ref.modifyIndex);
    }
    for (const [key, ref] of refs) {
      if (ref.seenIn === answer) continue;
      refs.delete(key);
      if (!diff) continue;
      // Left this list: passing (its new output is unknown, so its checks are read), or moved
      // to the other watched state, whose answer carries it and dates the change.
      const moved = other?.get(key);
      if (moved) mark(moved, moved.modifyIndex, true);
      else mark(ref, index, false);
      this.explained(index);
    }
    if (patches.length > 0) this.emit({ type: 'checks.changed', checks: patches });
    return this.round();
  }

  private patchOf(ref: Pick<CheckRef, 'serviceName' | 'serviceId' | 'node' | 'check'>): CheckPatch {
    if (!this.touchedSinceSweep?.get(ref.serviceName)) this.touchedSinceSweep?.set(ref.serviceName, false);
    return {
      serviceId: serviceId(this.source.id, this.dc, ref.serviceName),
      instanceId: `${ref.node}/${ref.serviceId}`,
      check: toCheck(ref.check),
    };
  }

  private explained(index: number): void {
    this.explainedIndexes.add(index);
    if (this.explainedIndexes.size > 256) this.explainedIndexes.delete(this.explainedIndexes.values().next().value!);
  }

  /**
   * Nothing visible accounts for a catalog move at `index` (a re-registration with a new
   * port/address/meta and the same tags, checks and instance count). If a check watch
   * accounts for the index within a grace period it was handled; otherwise only a sweep can
   * find what changed.
   */
  private explainLater(index: number): void {
    if (this.explainedIndexes.has(index)) return;
    this.source.track(
      this.clock.sleep(EXPLAIN_GRACE_MS, this.source.signal).then(async () => {
        if (this.source.signal.aborted || this.retired || !this.synced || this.explainedIndexes.has(index)) return;
        this.source.log.debug({ dc: this.dc, index }, 'unexplained catalog change; sweeping');
        this.requestSweep();
      }),
    );
  }

  /** Wants every service re-read (one full read), no more often than sweepMinIntervalMs. */
  private requestSweep(): void {
    const min = Math.max(this.options.sweepMinIntervalMs ?? CONSUL_SOURCE_DEFAULTS.sweepMinIntervalMs, 20 * this.lastFullReadMs);
    const wait = Math.max(0, this.lastSweep + min - this.clock.now());
    if (this.sweepScheduled) return;
    this.sweepScheduled = true;
    this.source.track(
      this.clock.sleep(wait, this.source.signal).then(async () => {
        this.sweepScheduled = false;
        if (this.source.signal.aborted || this.retired || !this.synced) return;
        const res = await this.serialize(() => {
          this.sweepWanted = true;
          return this.round();
        });
        if (res && !res.ok) this.failed(res.error, () => undefined);
      }),
    );
  }

  private emit(event: SourceEvent): void {
    if (!this.retired) this.source.emit(event);
  }

  private succeeded(generation: number): void {
    // A failure during the round already reported itself; don't clear it.
    if (!this.retired && generation === this.generation) this.source.succeeded(this.dc);
  }

  private async round(): Promise<RoundResult<ConsulError>> {
    if (!this.catalog || !this.states.critical || !this.states.warning) return; // not every watch has answered yet
    const generation = this.generation;
    if (!this.synced && !this.summaryTried) {
      const listed = await this.listFromSummary(generation);
      if (listed !== 'full') return listed;
    }
    if (!this.synced) {
      const names = Object.keys(this.catalog).sort(byString);
      const fetched = await this.fullRead(names);
      if (!fetched.ok) return fetched;
      if (generation !== this.generation) return; // a failure meanwhile; the next answer resyncs
      this.reported.clear();
      this.readAt.clear();
      this.dirty.clear();
      this.dirtyNodes.clear();
      this.summaryWanted = null;
      this.pending.clear();
      const services: Service[] = [];
      for (const name of names) {
        const svc = fetched.value.get(name);
        if (!svc) continue;
        this.reported.set(name, { fp: digest(JSON.stringify(svc)), summary: serviceSummary(svc) });
        services.push(svc);
      }
      this.synced = true;
      this.emit({ type: 'scope.synced', scope: this.dc, services });
      this.succeeded(generation);
      return;
    }
    // One full read at a time: a sweep waits for the bulk read of pending services.
    if (this.sweepWanted && !this.loading) {
      this.sweepWanted = false;
      this.lastSweep = this.clock.now();
      this.sweepInBackground(generation);
    }
    if (this.summaryWanted !== null) {
      const index = this.summaryWanted;
      this.summaryWanted = null;
      const found = await this.compareSummaries();
      if (found !== true && found !== false) return found;
      if (!found && !this.dirty.size) this.explainLater(index);
    }
    if (this.dirtyNodes.size > 0) {
      const nodes = [...this.dirtyNodes];
      this.dirtyNodes.clear();
      for (const node of nodes) {
        const res = await this.get(`/v1/catalog/node-services/${encodeURIComponent(node)}`, NodeServices, '/v1/catalog/node-services/:node', this.limits.node);
        if (!res.ok) {
          if (res.error.status === 404 || res.error.status === 405) {
            // No node endpoint (embedded registry): re-read every service (a single node there).
            for (const name of this.reported.keys()) this.dirty.add(name);
            continue;
          }
          for (const n of nodes) this.dirtyNodes.add(n);
          return { ok: false, error: res.error };
        }
        for (const s of res.value?.Services ?? []) this.dirty.add(s.Service);
      }
    }
    if (this.passed.size > 0) {
      const res = await this.readPassedChecks();
      if (res) return res;
    }
    if (this.dirty.size > 0) {
      const names = [...this.dirty].sort(byString);
      this.dirty.clear();
      const fetched = await this.readServices(names);
      if (!fetched.ok) {
        for (const n of names) this.dirty.add(n);
        return fetched;
      }
      // A name no URL can address keeps what the full read reported (see readServices).
      this.report(names.filter((n) => !unaddressable(n)), fetched.value);
    }
    this.succeeded(generation);
  }

  /**
   * The first sync, summary first: every service from `/v1/internal/ui/services` as `pending`
   * (its counts, no instances), then a background bulk read of their instances. Services with
   * a failing node-level check are read at once (the summary cannot say which of their
   * instances sit on that node). 'full': a small datacenter, or no usable summary: sync in full.
   */
  private async listFromSummary(generation: number): Promise<RoundResult<ConsulError> | 'full'> {
    this.summaryTried = true;
    if (this.summaryFirstAbove === Infinity) return 'full';
    const res = await (this.summaryAtStart ?? this.readSummary());
    this.summaryAtStart = null;
    if (!res.ok) {
      // Whatever is wrong with the summary, the full read can still list the datacenter.
      if (res.error.status === 404 || res.error.status === 405 || res.error.status === 403) this.summaries = false;
      this.source.log.warn({ dc: this.dc, err: res.error.message }, '/v1/internal/ui/services unavailable; the first sync reads every instance before listing');
      return 'full';
    }
    if (generation !== this.generation) return; // a failure meanwhile; the next answer resyncs
    let total = 0;
    for (const row of res.value) total += Math.max(0, row.InstanceCount);
    if (total <= this.summaryFirstAbove) return 'full'; // a full read is about as quick
    // Non-passing instances by service, from the two check watches; passing = the rest.
    const worst = new Map<string, Map<string, 'critical' | 'warning'>>();
    const downNodes = new Set<string>();
    for (const state of ['critical', 'warning'] as const) {
      for (const ref of this.states[state]!.values()) {
        if (ref.nodeLevel) {
          downNodes.add(ref.node);
          continue;
        }
        let byInstance = worst.get(ref.serviceName);
        if (!byInstance) worst.set(ref.serviceName, (byInstance = new Map()));
        const key = `${ref.node}/${ref.serviceId}`;
        if (byInstance.get(key) !== 'critical') byInstance.set(key, state);
      }
    }
    this.reported.clear();
    this.readAt.clear();
    this.dirty.clear();
    this.dirtyNodes.clear();
    this.summaryWanted = null;
    this.pending.clear();
    const services: Service[] = [];
    for (const row of [...res.value].sort((a, b) => byString(a.Name, b.Name))) {
      if (row.InstanceCount <= 0 || unaddressable(row.Name)) continue;
      const counts: HealthCounts = { passing: 0, warning: 0, critical: 0, unknown: 0 };
      for (const state of worst.get(row.Name)?.values() ?? []) counts[state] += 1;
      counts.passing = Math.max(0, row.InstanceCount - counts.critical - counts.warning);
      services.push(toPendingService(this.source.id, this.dc, row.Name, row.Tags ?? [], counts));
      this.reported.set(row.Name, { fp: '', summary: summaryDigest(row.InstanceCount, row.Nodes ?? [], row.Tags ?? []) });
      this.pending.add(row.Name);
      if ((row.Nodes ?? []).some((n) => downNodes.has(n))) this.dirty.add(row.Name);
    }
    this.synced = true;
    this.emit({ type: 'scope.synced', scope: this.dc, services });
    this.succeeded(generation);
    this.readPendingInBulk(generation);
    if (this.dirty.size > 0) this.kick();
  }

  /**
   * Reads every pending service's instances with one full read, outside the round queue so
   * check flips and demanded reads go on meanwhile. Services read on their own in the
   * meantime are no longer pending and keep that newer answer. A failure leaves the watch to
   * resync as after any failure.
   */
  private readPendingInBulk(generation: number): void {
    this.loading = true;
    const names = [...this.pending].sort(byString);
    this.source.track(
      this.fullRead(names)
        .then((fetched) => this.serialize(async () => {
          this.loading = false;
          if (this.retired || generation !== this.generation) return;
          if (!fetched.ok) {
            this.failed(fetched.error, () => undefined);
            return;
          }
          const services: Service[] = [];
          for (const name of [...this.pending].sort(byString)) {
            const svc = fetched.value.get(name);
            // Gone, or registered after its node was read: the next round reads it alone.
            if (!svc) {
              this.dirty.add(name);
              continue;
            }
            this.pending.delete(name);
            this.reported.set(name, { fp: digest(JSON.stringify(svc)), summary: serviceSummary(svc) });
            services.push(svc);
          }
          if (services.length) this.emit({ type: 'services.changed', services });
          return this.round();
        }))
        .then((res) => {
          if (res && !res.ok) this.failed(res.error, () => undefined);
        }),
    );
  }

  /**
   * The checks of services where some check turned passing, patched from
   * `/v1/health/checks/:name`. A check the answer no longer has (deregistered with its
   * instance, or alone) makes the whole service read instead.
   */
  private async readPassedChecks(): Promise<{ ok: false; error: ConsulError } | undefined> {
    const work = [...this.passed].filter(([name]) => !this.dirty.has(name) && !unaddressable(name));
    this.passed.clear();
    const patches: CheckPatch[] = [];
    let failure: ConsulError | null = null;
    let next = 0;
    const worker = async () => {
      while (failure === null && next < work.length) {
        const [name, keys] = work[next++]!;
        const res = await this.get(`/v1/health/checks/${encodeURIComponent(name)}`, HealthChecks, '/v1/health/checks/:name', this.limits.service);
        if (!res.ok) {
          // A registry without the endpoint: read whole services from now on.
          if (res.error.status === 404 || res.error.status === 405) {
            this.checkReads = false;
            this.dirty.add(name);
          } else {
            failure ??= res.error;
            this.passed.set(name, keys);
          }
          continue;
        }
        const found = new Map(res.value.map((c) => [`${c.Node}/${c.CheckID}`, c]));
        for (const key of keys) {
          const c = found.get(key);
          if (!c || c.ServiceID === '') {
            this.dirty.add(name);
            break;
          }
          patches.push(this.patchOf({ serviceName: name, serviceId: c.ServiceID, node: c.Node, check: c }));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, work.length) }, worker));
    // Patches for a service that is read in full anyway are harmless: the read is newer.
    if (patches.length > 0) this.emit({ type: 'checks.changed', checks: patches });
    return failure ? { ok: false, error: failure } : undefined;
  }

  /**
   * A sweep (every service re-read, to find a change nothing named) runs outside the round
   * queue: at 150,000 instances it takes the agent ~12 s, and changes must not wait for it.
   * Services read or patched meanwhile keep that newer state; the rest are compared.
   */
  private sweepInBackground(generation: number): void {
    this.loading = true;
    const touched = new Map<string, boolean>();
    this.touchedSinceSweep = touched;
    const names = [...new Set([...Object.keys(this.catalog ?? {}), ...this.reported.keys()])].sort(byString);
    this.source.track(
      this.fullRead(names)
        .then((fetched) => this.serialize(async () => {
          this.loading = false;
          this.touchedSinceSweep = null;
          if (this.retired || generation !== this.generation) return;
          if (!fetched.ok) return fetched;
          // A service absent from the read but touched since was (re)registered meanwhile: keep it.
          this.report(names.filter((n) => !touched.has(n) && !unaddressable(n)), fetched.value);
          // Only patched meanwhile (a check): what else the sweep saw differ is read again.
          for (const [name, read] of touched) {
            const svc = fetched.value.get(name);
            if (!read && svc && this.reported.get(name)?.fp !== digest(JSON.stringify(svc))) this.dirty.add(name);
          }
          return this.round();
        }))
        .then((res) => {
          if (res && !res.ok) this.failed(res.error, () => undefined);
        }),
    );
  }

  /** Emits what differs from the last report for `names`. */
  private report(names: readonly string[], fetched: Map<string, Service | null>): void {
    for (const name of names) {
      const svc = fetched.get(name) ?? null;
      const before = this.reported.get(name);
      // Read on its own: whatever a bulk read or sweep brings for it later is older.
      this.pending.delete(name);
      this.touchedSinceSweep?.set(name, true);
      if (!svc) {
        if (before) {
          this.reported.delete(name);
          this.emit({ type: 'service.removed', serviceId: `${this.source.id}/${this.dc}/${name}` });
        }
        continue;
      }
      const fp = digest(JSON.stringify(svc));
      if (before?.fp === fp) continue;
      this.reported.set(name, { fp, summary: serviceSummary(svc) });
      this.emit({ type: 'service.changed', service: svc });
    }
  }

  /**
   * One `/v1/internal/ui/services` read (O(services), never O(instances) on our side), compared
   * with what was reported: services whose instance count, nodes or tags differ are marked
   * dirty. Returns whether it found any. A registry without the endpoint falls back to a sweep.
   */
  private async compareSummaries(): Promise<boolean | { ok: false; error: ConsulError }> {
    if (!this.summaries) {
      this.requestSweep();
      return true;
    }
    const res = await this.readSummary();
    if (!res.ok) {
      if (res.error.status === 404 || res.error.status === 405 || res.error.status === 403) {
        this.source.log.warn({ dc: this.dc, err: res.error.message }, 'no /v1/internal/ui/services; unexplained catalog changes will sweep');
        this.summaries = false;
        this.requestSweep();
        return true;
      }
      return { ok: false, error: res.error };
    }
    let found = false;
    const seen = new Set<string>();
    for (const row of res.value) {
      seen.add(row.Name);
      const before = this.reported.get(row.Name);
      if (before?.summary === summaryDigest(row.InstanceCount, row.Nodes ?? [], row.Tags ?? [])) continue;
      if (!before && row.InstanceCount === 0) continue;
      this.dirty.add(row.Name);
      found = true;
    }
    for (const name of this.reported.keys()) {
      if (seen.has(name)) continue;
      this.dirty.add(name);
      found = true;
    }
    return found;
  }

  /** A full read of the datacenter: by node when the registry allows, else by service. */
  private async fullRead(names: readonly string[]): Promise<Read> {
    const started = this.clock.now();
    try {
      if (this.nodeReads) {
        const res = await this.readByNode();
        if (res !== 'unsupported') return res;
        this.nodeReads = false;
        this.source.log.info({ dc: this.dc }, 'no per-node catalog endpoints; full reads go per service');
      }
      return await this.readServices(names);
    } finally {
      this.lastFullReadMs = this.clock.now() - started;
      // Any full read — the first sync included — is as good as a sweep: the next waits its turn.
      this.lastSweep = this.clock.now();
    }
  }

  /**
   * `/v1/catalog/nodes`, then per node `/v1/catalog/node-services/:node` followed by
   * `/v1/health/node/:node`, `concurrency` nodes at a time: 2K+1 requests instead of N.
   * Checks are read after services, so a check whose service is not in the services answer
   * (registered in between) is dropped; the catalog watch then finds that registration.
   */
  private async readByNode(): Promise<Read | 'unsupported'> {
    const listed = await this.get('/v1/catalog/nodes', CatalogNodes, '/v1/catalog/nodes', this.limits.node);
    if (!listed.ok) return listed.error.status === 404 || listed.error.status === 405 ? 'unsupported' : listed;
    const byService = new Map<string, ServiceEntry[]>();
    let failure: ConsulError | null = null;
    let unsupported = false;
    let next = 0;
    const nodes = listed.value.map((n) => n.Node);
    const worker = async () => {
      while (failure === null && !unsupported && next < nodes.length) {
        const node = nodes[next++]!;
        const path = encodeURIComponent(node);
        // Both halves of a node at once: the round trip, not the bytes, paces a full read.
        const [svcs, checks] = await Promise.all([
          this.get(`/v1/catalog/node-services/${path}`, NodeServices, '/v1/catalog/node-services/:node', this.limits.node),
          this.get(`/v1/health/node/${path}`, HealthChecks, '/v1/health/node/:node', this.limits.node),
        ]);
        if (!svcs.ok) {
          if (svcs.error.status === 404 || svcs.error.status === 405) unsupported = true;
          else failure ??= svcs.error;
          return;
        }
        if (!svcs.value || !svcs.value.Services?.length) continue;
        if (!checks.ok) {
          failure ??= checks.error;
          return;
        }
        const nodeChecks: HealthCheck[] = [];
        const serviceChecks = new Map<string, HealthCheck[]>();
        for (const c of checks.value) {
          if (c.ServiceID === '') nodeChecks.push(c);
          else {
            const list = serviceChecks.get(c.ServiceID);
            if (list) list.push(c);
            else serviceChecks.set(c.ServiceID, [c]);
          }
        }
        const nodeObj = svcs.value.Node;
        for (const s of svcs.value.Services) {
          const entry: ServiceEntry = { Node: nodeObj, Service: s, Checks: [...nodeChecks, ...(serviceChecks.get(s.ID) ?? [])] };
          const list = byService.get(s.Service);
          if (list) list.push(entry);
          else byService.set(s.Service, [entry]);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, nodes.length) }, worker));
    if (unsupported) return 'unsupported';
    if (failure) return { ok: false, error: failure };
    const out = new Map<string, Service | null>();
    for (const [name, entries] of byService) out.set(name, toService(this.source.id, this.dc, name, entries));
    return { ok: true, value: out };
  }

  private noteRead(name: string, index: number): void {
    this.readAt.delete(name);
    this.readAt.set(name, index);
    if (this.readAt.size > 4096) this.readAt.delete(this.readAt.keys().next().value!);
  }

  /** Reads services by name, `concurrency` at a time; null for a service with no instances left. */
  private async readServices(names: readonly string[]): Promise<Read> {
    const out = new Map<string, Service | null>();
    let failure: ConsulError | null = null;
    let next = 0;
    const worker = async () => {
      while (failure === null && next < names.length) {
        const name = names[next++]!;
        if (unaddressable(name)) {
          // `/v1/health/service/..` is normalized into another path by every HTTP stack, Consul's
          // included: such a service cannot be read on its own. Skip it rather than fail the round
          // (which would hold back every other service in the datacenter).
          this.source.log.warn({ dc: this.dc, service: name }, 'service name cannot be read through the HTTP API; it is refreshed only by full reads');
          continue;
        }
        const res = await this.get(`/v1/health/service/${encodeURIComponent(name)}`, ServiceEntries, '/v1/health/service/:name', this.limits.service);
        if (!res.ok) failure ??= res.error;
        else {
          out.set(name, res.value.length === 0 ? null : toService(this.source.id, this.dc, name, res.value));
          if (res.index !== null) this.noteRead(name, res.index);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, names.length) }, worker));
    return failure ? { ok: false, error: failure } : { ok: true, value: out };
  }
}

function unaddressable(name: string): boolean {
  return name === '.' || name === '..';
}

/** Both sorted (withSortedTags). */
function sameTags(a: readonly string[] | null, b: readonly string[] | null): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((t, i) => t === y[i]);
}

function withSortedTags(catalog: Catalog): Catalog {
  const sorted: Catalog = {};
  for (const [name, tags] of Object.entries(catalog)) sorted[name] = tags ? [...tags].sort(byString) : tags;
  return sorted;
}
