/**
 * The topology store: one normalized, revisioned view over every source. Pure — no I/O and
 * no timers; time comes from an injected clock.
 *
 * Every change costs O(what changed): services live in a map, each with its instances in a
 * map and its list summary kept beside it, so a check flip touches one instance and one
 * summary — never the fleet. Each commit becomes a delta with a monotonic revision and two
 * streams of ops: summary ops for every client (the service list) and per-service ops for
 * clients that opened that service. Recent deltas stay in a bounded ring so reconnecting
 * clients catch up with "what changed since rev N", per stream.
 *
 * Last-known-good: a source going stale/down only changes its status; its services stay
 * until the source itself says they are gone (a successful sync that no longer lists them).
 */
import type { DeltaOp, SummaryOp } from '../../protocol/delta';
import {
  aggregateHealth,
  summarize,
  type Instance,
  type Service,
  type ServiceHeader,
  type ServiceSummary,
  type SourceKind,
  type SourceStatus,
  type Topology,
  type TopologySummary,
} from '../../protocol/model';
import type { RolloutBadge } from '../../protocol/rollout';
import type { BreakerView } from '../../protocol/telemetry';
import { drainId, type TrafficPolicy } from '../../protocol/traffic';
import { InstanceInterner, sameInstance } from './instanceInterner';
import type { CheckPatch, SourceEvent } from './sourceEvents';


/** A source's `lastSyncAt` moves in steps of at least this (see the 'status' event). */
export const SYNC_STAMP_MS = 1000;
export interface Delta {
  fromRev: number;
  rev: number;
  /** What every client's service list needs. */
  summary: SummaryOp[];
  /** Instance-level changes, by service id, for clients that opened the service. */
  services: Map<string, DeltaOp[]>;
}

export interface StreamDelta<Op> {
  fromRev: number;
  rev: number;
  ops: Op[];
}

export interface TopologyStoreOptions {
  /** @default () => new Date() */
  now?: () => Date;
  /** How many recent deltas to keep for resume. @default 1000 */
  historySize?: number;
  /** Most ops the history may hold in all (a full resync is one huge delta). @default 200000 */
  historyOps?: number;
}

export type StoreListener = (delta: Delta) => void;

interface Entry {
  header: ServiceHeader;
  instances: Map<string, Instance>;
  summary: ServiceSummary;
}

export class TopologyStore {
  private revision = 0;
  private readonly sourcesById = new Map<string, SourceStatus>();
  private readonly entries = new Map<string, Entry>();
  /** Service ids by registry service name: SDK clients and the gateway know names, not ids. */
  private readonly byName = new Map<string, Set<string>>();
  private readonly history: Delta[] = [];
  private historyOpCount = 0;
  private readonly listeners = new Set<StoreListener>();
  /** Traffic policies by `sourceId/scope`, then service name; merged into service headers. */
  private readonly policies = new Map<string, Map<string, TrafficPolicy>>();
  /** Breaker views reported by SDK clients, by service name, then registry instance id. */
  private readonly breakers = new Map<string, Record<string, BreakerView>>();
  /** Rollout badges by service id (set by the rollout controller), merged into summaries. */
  private readonly rollouts = new Map<string, RolloutBadge>();
  private readonly interner = new InstanceInterner();
  private readonly now: () => Date;
  private readonly historySize: number;
  private readonly historyOps: number;
  private summaryCache: TopologySummary | null = null;
  /** Services listed with their registry's counts only (see ServiceHeader.pending). */
  private readonly pendingIds = new Set<string>();
  /** Asks a service's source to read its instances ahead of the rest (see `demand`). */
  private demandHandler: ((id: string) => void) | null = null;

  constructor(options: TopologyStoreOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.historySize = options.historySize ?? 1000;
    this.historyOps = options.historyOps ?? 200_000;
  }

  get rev(): number {
    return this.revision;
  }

  get serviceCount(): number {
    return this.entries.size;
  }

  sources(): SourceStatus[] {
    return [...this.sourcesById.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  source(id: string): SourceStatus | undefined {
    return this.sourcesById.get(id);
  }

  /** One service with its instances (sorted by id), built on demand: O(its instances). */
  service(id: string): Service | undefined {
    const e = this.entries.get(id);
    return e ? materialize(e) : undefined;
  }

  /** Whether the service is listed with its registry's counts only, instances not read yet. */
  isPending(id: string): boolean {
    return this.pendingIds.has(id);
  }

  /** How many services are listed without their instances yet. */
  get pendingCount(): number {
    return this.pendingIds.size;
  }

  /** Wires `demand` to the sources (the store itself does no I/O). */
  onDemand(handler: (id: string) => void): void {
    this.demandHandler = handler;
  }

  /** Someone needs this pending service's instances now: its source reads it ahead of its bulk read. */
  demand(id: string): void {
    if (this.isPending(id)) this.demandHandler?.(id);
  }

  /**
   * The service once its instances are in: asks for it if pending and waits (at most
   * `timeoutMs`). Undefined when it does not exist; still pending when the wait ran out.
   */
  async loaded(id: string, timeoutMs = 10_000): Promise<Service | undefined> {
    if (this.isPending(id)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          unsubscribe();
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        const unsubscribe = this.subscribe((delta) => {
          if (delta.services.has(id) && !this.isPending(id)) done();
        });
        this.demand(id);
      });
    }
    return this.service(id);
  }

  summary(id: string): ServiceSummary | undefined {
    return this.entries.get(id)?.summary;
  }

  /** Every service called `name`, across sources and scopes. */
  servicesNamed(name: string): Service[] {
    return [...(this.byName.get(name) ?? [])].map((id) => materialize(this.entries.get(id)!));
  }

  /** What every client's list starts from; the same object until the next change. */
  summarySnapshot(): TopologySummary {
    this.summaryCache ??= { rev: this.revision, sources: this.sources(), services: [...this.entries.values()].map((e) => e.summary) };
    return this.summaryCache;
  }

  /** The whole topology, instances included: O(fleet), for REST and tools, never the live path. */
  snapshot(): Topology {
    const services = [...this.entries.values()].map(materialize).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { rev: this.revision, sources: this.sources(), services };
  }

  /** Instances registered at `address:port` in services other than `exceptId` (DNS instances borrow their health). */
  instancesAt(address: string, port: number, exceptId: string): { serviceId: string; health: Instance['health'] }[] {
    const out: { serviceId: string; health: Instance['health'] }[] = [];
    for (const [id, e] of this.entries) {
      if (id === exceptId) continue;
      for (const i of e.instances.values()) if (i.address === address && i.port === port) out.push({ serviceId: id, health: i.health });
    }
    return out;
  }

  /** True once every registered source has finished at least one sync attempt. */
  allSourcesAttempted(): boolean {
    for (const s of this.sourcesById.values()) if (s.state === 'syncing') return false;
    return true;
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Summary ops that take a client from `rev` to now (coalesced: the last op per record), or
   * null when `rev` is older than the history kept or from the future (e.g. after a server
   * restart): send a snapshot then.
   */
  summarySince(rev: number): StreamDelta<SummaryOp> | null {
    const from = this.historyIndex(rev);
    if (from === null) return null;
    if (from === this.history.length) return { fromRev: rev, rev: this.revision, ops: [] };
    if (from === this.history.length - 1) return { fromRev: rev, rev: this.revision, ops: this.history[from]!.summary };
    const last = new Map<string, SummaryOp>();
    for (let k = from; k < this.history.length; k++) {
      for (const op of this.history[k]!.summary) {
        const key = summaryKey(op);
        last.delete(key);
        last.set(key, op);
      }
    }
    return { fromRev: rev, rev: this.revision, ops: [...last.values()] };
  }

  /** One service's ops from `rev` to now, or null when history no longer covers `rev` (send the service whole). */
  serviceSince(id: string, rev: number): StreamDelta<DeltaOp> | null {
    const from = this.historyIndex(rev);
    if (from === null) return null;
    const ops: DeltaOp[] = [];
    for (let k = from; k < this.history.length; k++) {
      const forService = this.history[k]!.services.get(id);
      if (forService) ops.push(...forService);
    }
    return { fromRev: rev, rev: this.revision, ops };
  }

  /** Index of the first delta after `rev`; history.length when `rev` is current; null if not covered. */
  private historyIndex(rev: number): number | null {
    if (rev === this.revision) return this.history.length;
    if (rev > this.revision || this.history.length === 0) return null;
    const idx = rev - this.history[0]!.fromRev;
    return idx >= 0 && idx < this.history.length ? idx : null;
  }

  addSource(init: { id: string; kind: SourceKind; name: string; address: string | null }): void {
    if (this.sourcesById.has(init.id)) throw new Error(`source "${init.id}" is already registered`);
    const c = new Commit();
    this.putSource(c, { ...init, state: 'syncing', lastSyncAt: null, lastError: null, scopes: [] });
    this.commit(c);
  }

  removeSource(sourceId: string): void {
    if (!this.sourcesById.has(sourceId)) return;
    const c = new Commit();
    for (const [id, e] of this.entries) if (e.header.sourceId === sourceId) this.deleteService(c, id);
    this.sourcesById.delete(sourceId);
    c.summary.push({ op: 'source.delete', sourceId });
    this.commit(c);
  }

  /** Applies one adapter event for `sourceId`; returns the resulting delta, or null if nothing changed. */
  apply(sourceId: string, event: SourceEvent): Delta | null {
    const source = this.sourcesById.get(sourceId);
    if (!source) throw new Error(`event for unknown source "${sourceId}"`);
    const c = new Commit();
    switch (event.type) {
      case 'scope.synced': {
        const incoming = new Set(event.services.map((s) => s.id));
        for (const [id, e] of this.entries) {
          if (e.header.sourceId === sourceId && e.header.scope === event.scope && !incoming.has(id)) this.deleteService(c, id);
        }
        for (const svc of event.services) this.putService(c, svc);
        const scopes = source.scopes.includes(event.scope) ? source.scopes : [...source.scopes, event.scope].sort();
        this.patchSource(c, source, { scopes });
        break;
      }
      case 'service.changed':
        this.putService(c, event.service);
        break;
      case 'services.changed':
        for (const svc of event.services) this.putService(c, svc);
        break;
      case 'checks.changed':
        this.patchChecks(c, event.checks);
        break;
      case 'service.removed':
        if (this.entries.has(event.serviceId)) this.deleteService(c, event.serviceId);
        break;
      case 'traffic.synced': {
        const key = `${sourceId}/${event.scope}`;
        const before = this.policies.get(key) ?? new Map<string, TrafficPolicy>();
        const after = new Map(Object.entries(event.policies));
        this.policies.set(key, after);
        // Only services whose policy changed are touched: a policy write is O(that service).
        for (const name of new Set([...before.keys(), ...after.keys()])) {
          if (sameJson(before.get(name), after.get(name))) continue;
          const id = `${key}/${name}`;
          const e = this.entries.get(id);
          if (e) this.refreshService(c, id, e);
        }
        break;
      }
      case 'scopes.changed': {
        const keep = new Set(event.scopes);
        for (const [id, e] of this.entries) if (e.header.sourceId === sourceId && !keep.has(e.header.scope)) this.deleteService(c, id);
        this.patchSource(c, source, { scopes: [...keep].sort() });
        break;
      }
      case 'status': {
        // A source that has synced before keeps its last-known-good data: it is stale, not down.
        const state = event.state === 'down' && source.lastSyncAt !== null ? 'stale' : event.state;
        const patch: Partial<SourceStatus> = { state };
        if (event.state === 'ok') {
          // Re-stamped at most once a second: under churn a source reports ok on every round (tens a
          // second), and each new stamp was a summary frame every client rendered, for a "synced
          // Ns ago" shown to the second.
          const now = this.now();
          if (!(source.state === 'ok' && source.lastSyncAt !== null && now.getTime() - Date.parse(source.lastSyncAt) < SYNC_STAMP_MS)) patch.lastSyncAt = now.toISOString();
          patch.lastError = null;
        } else if (event.error !== undefined) patch.lastError = event.error;
        if (event.detail !== undefined) patch.detail = event.detail;
        this.patchSource(c, source, patch);
        break;
      }
    }
    return this.commit(c);
  }

  /**
   * SDK clients' breaker views for every service named `serviceName` (clients know the name,
   * not Switchboard's source ids). Instances are matched by their registry id.
   */
  setBreakers(serviceName: string, views: Record<string, BreakerView>): Delta | null {
    if (sameJson(this.breakers.get(serviceName) ?? {}, views)) return null;
    if (Object.keys(views).length) this.breakers.set(serviceName, views);
    else this.breakers.delete(serviceName);
    const c = new Commit();
    for (const id of this.byName.get(serviceName) ?? []) this.refreshService(c, id, this.entries.get(id)!);
    return this.commit(c);
  }

  /** The list's rollout badge for one service (null: none). One summary op when it changes. */
  setRollout(id: string, badge: RolloutBadge | null): Delta | null {
    if (sameJson(this.rollouts.get(id) ?? null, badge)) return null;
    if (badge) this.rollouts.set(id, badge);
    else this.rollouts.delete(id);
    const e = this.entries.get(id);
    if (!e) return null;
    const c = new Commit();
    e.summary = withRollout(summarize(e.header, e.instances.values()), badge ?? undefined);
    c.summary.push({ op: 'summary.put', service: e.summary });
    return this.commit(c);
  }

  // ---- mutations (each records its ops in the commit) ----

  private putSource(c: Commit, next: SourceStatus): void {
    this.sourcesById.set(next.id, next);
    c.summary.push({ op: 'source.put', source: next });
  }

  private patchSource(c: Commit, source: SourceStatus, patch: Partial<SourceStatus>): void {
    const next = { ...source, ...patch };
    if (!sameJson(source, next)) this.putSource(c, next);
  }

  /** Instance-level diff so one check flip costs one instance, not the whole service. */
  private putService(c: Commit, svc: Service): void {
    const prev = this.entries.get(svc.id);
    const header = this.headerFor(svc);
    const ops: DeltaOp[] = [];
    const headerChanged = !prev || !sameHeader(prev.header, header);
    if (headerChanged) ops.push({ op: 'service.put', service: header });
    const views = this.breakers.get(svc.name);
    const instances = new Map<string, Instance>();
    for (const reported of svc.instances) {
      const old = prev?.instances.get(reported.id);
      const inst = withBreaker(reported, views);
      if (old && sameInstance(old, inst)) {
        instances.set(old.id, old);
        continue;
      }
      const stored = this.interner.instance(inst);
      instances.set(stored.id, stored);
      ops.push({ op: 'instance.put', serviceId: svc.id, instance: stored });
    }
    if (prev) for (const id of prev.instances.keys()) if (!instances.has(id)) ops.push({ op: 'instance.delete', serviceId: svc.id, instanceId: id });
    if (ops.length === 0) return;
    this.store(c, svc.id, { header: headerChanged ? header : prev!.header, instances, summary: prev?.summary as ServiceSummary }, ops);
  }

  /** Replaces single checks on known instances: O(patched instances) plus one summary per service. */
  private patchChecks(c: Commit, patches: readonly CheckPatch[]): void {
    const byService = new Map<string, CheckPatch[]>();
    for (const p of patches) {
      const list = byService.get(p.serviceId);
      if (list) list.push(p);
      else byService.set(p.serviceId, [p]);
    }
    for (const [id, list] of byService) {
      const e = this.entries.get(id);
      if (!e || e.header.pending) continue;
      const ops: DeltaOp[] = [];
      for (const p of list) {
        const old = e.instances.get(p.instanceId);
        if (!old) continue;
        const checks = old.checks.filter((x) => x.id !== p.check.id);
        checks.push(p.check);
        // The order adapters report checks in: node-level first, then by id.
        checks.sort((a, b) => Number(b.nodeLevel) - Number(a.nodeLevel) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const next: Instance = { ...old, health: aggregateHealth(checks), checks };
        if (sameInstance(old, next)) continue;
        const stored = this.interner.instance(next);
        e.instances.set(stored.id, stored);
        ops.push({ op: 'instance.put', serviceId: id, instance: stored });
      }
      if (ops.length > 0) this.store(c, id, e, ops);
    }
  }

  /** Re-derives a stored service after its policy or breaker views changed. */
  private refreshService(c: Commit, id: string, e: Entry): void {
    this.putService(c, { ...e.header, instances: [...e.instances.values()].map(({ breaker: _b, ...plain }) => plain) });
  }

  private store(c: Commit, id: string, e: Entry, ops: DeltaOp[]): void {
    const summary = withRollout(summarize(e.header, e.instances.values()), this.rollouts.get(id));
    const prevSummary = e.summary;
    e.summary = prevSummary && sameJson(prevSummary, summary) ? prevSummary : summary;
    if (!this.entries.has(id)) {
      let ids = this.byName.get(e.header.name);
      if (!ids) this.byName.set(e.header.name, (ids = new Set()));
      ids.add(id);
    }
    this.entries.set(id, e);
    if (e.header.pending) this.pendingIds.add(id);
    else this.pendingIds.delete(id);
    if (e.summary !== prevSummary) c.summary.push({ op: 'summary.put', service: e.summary });
    c.detail(id).push(...ops);
  }

  private deleteService(c: Commit, id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.pendingIds.delete(id);
    const ids = this.byName.get(e.header.name);
    ids?.delete(id);
    if (ids?.size === 0) this.byName.delete(e.header.name);
    c.summary.push({ op: 'summary.delete', serviceId: id });
    c.detail(id).push({ op: 'service.delete', serviceId: id });
  }

  private headerFor(svc: Service): ServiceHeader {
    const traffic = this.policies.get(`${svc.sourceId}/${svc.scope}`)?.get(svc.name) ?? null;
    return { id: svc.id, sourceId: svc.sourceId, scope: svc.scope, name: svc.name, tags: this.interner.tags(svc.tags) as string[], traffic, ...(svc.dns ? { dns: svc.dns } : {}), ...(svc.pending ? { pending: svc.pending } : {}) };
  }

  private commit(c: Commit): Delta | null {
    if (c.summary.length === 0 && c.services.size === 0) return null;
    const delta: Delta = { fromRev: this.revision, rev: this.revision + 1, summary: c.summary, services: c.services };
    this.revision = delta.rev;
    this.summaryCache = null;
    this.history.push(delta);
    this.historyOpCount += c.opCount();
    while (this.history.length > 1 && (this.history.length > this.historySize || this.historyOpCount > this.historyOps)) {
      this.historyOpCount -= opCount(this.history.shift()!);
    }
    for (const l of this.listeners) l(delta);
    return delta;
  }
}

/** The ops one commit collects. */
class Commit {
  readonly summary: SummaryOp[] = [];
  readonly services = new Map<string, DeltaOp[]>();

  detail(id: string): DeltaOp[] {
    let ops = this.services.get(id);
    if (!ops) this.services.set(id, (ops = []));
    return ops;
  }

  opCount(): number {
    return opCount(this);
  }
}

function opCount(d: { summary: SummaryOp[]; services: Map<string, DeltaOp[]> }): number {
  let n = d.summary.length;
  for (const ops of d.services.values()) n += ops.length;
  return n;
}

function withRollout(summary: ServiceSummary, badge: RolloutBadge | undefined): ServiceSummary {
  return badge ? { ...summary, rollout: badge } : summary;
}

function materialize(e: Entry): Service {
  const instances = [...e.instances.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ...e.header, instances };
}

function withBreaker(reported: Instance, views: Record<string, BreakerView> | undefined): Instance {
  const id = drainId(reported.id);
  const view = views && Object.hasOwn(views, id) ? views[id] : undefined;
  if (view) return { ...reported, breaker: view };
  if (!reported.breaker) return reported;
  const { breaker: _stale, ...plain } = reported;
  return plain;
}

function sameHeader(a: ServiceHeader, b: ServiceHeader): boolean {
  return a.id === b.id && a.name === b.name && (a.tags === b.tags || sameJson(a.tags, b.tags)) && sameJson(a.traffic ?? null, b.traffic ?? null) && sameJson(a.dns, b.dns) && sameJson(a.pending, b.pending);
}

function summaryKey(op: SummaryOp): string {
  switch (op.op) {
    case 'source.put':
      return `source:${op.source.id}`;
    case 'source.delete':
      return `source:${op.sourceId}`;
    case 'summary.put':
      return `service:${op.service.id}`;
    case 'summary.delete':
      return `service:${op.serviceId}`;
  }
}

// Small records built in a stable key order, so a serialized comparison is exact.
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

