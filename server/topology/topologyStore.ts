/**
 * The topology store: one normalized, revisioned view over every source. Pure — no I/O and
 * no timers; time comes from an injected clock. Every change becomes a delta (a list of
 * DeltaOps) with a monotonic revision, kept in a bounded ring so reconnecting clients can
 * catch up with "what changed since rev N".
 *
 * Last-known-good: a source going stale/down only changes its status; its services stay
 * until the source itself says they are gone (a successful sync that no longer lists them).
 */
import { applyOps, type DeltaOp } from '../../protocol/delta';
import {
  type Instance,
  type Service,
  type ServiceHeader,
  type SourceKind,
  type SourceStatus,
  type Topology,
} from '../../protocol/model';
import type { BreakerView } from '../../protocol/telemetry';
import { drainId, type TrafficPolicy } from '../../protocol/traffic';
import type { SourceEvent } from '../sources/source';

export interface Delta {
  fromRev: number;
  rev: number;
  ops: DeltaOp[];
}

export interface TopologyStoreOptions {
  /** @default () => new Date() */
  now?: () => Date;
  /** How many recent deltas to keep for resume. @default 1000 */
  historySize?: number;
}

export type StoreListener = (delta: Delta) => void;

export class TopologyStore {
  private topology: Topology = { rev: 0, sources: [], services: [] };
  private readonly history: Delta[] = [];
  private readonly listeners = new Set<StoreListener>();
  /** Traffic policies by `sourceId/scope`, then service name; merged into service headers. */
  private readonly policies = new Map<string, Record<string, TrafficPolicy>>();
  /** Breaker views reported by SDK clients, by service name, then registry instance id. */
  private readonly breakers = new Map<string, Record<string, BreakerView>>();
  private readonly now: () => Date;
  private readonly historySize: number;

  constructor(options: TopologyStoreOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.historySize = options.historySize ?? 1000;
  }

  get rev(): number {
    return this.topology.rev;
  }

  snapshot(): Topology {
    return this.topology;
  }

  source(id: string): SourceStatus | undefined {
    return this.topology.sources.find((s) => s.id === id);
  }

  service(id: string): Service | undefined {
    return this.topology.services.find((s) => s.id === id);
  }

  /** True once every registered source has finished at least one sync attempt. */
  allSourcesAttempted(): boolean {
    return this.topology.sources.every((s) => s.state !== 'syncing');
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Ops that take a client from `rev` to the current revision, or null when `rev` is older than
   * the history kept (or from the future, e.g. after a server restart): send a snapshot then.
   */
  since(rev: number): Delta | null {
    if (rev === this.rev) return { fromRev: rev, rev, ops: [] };
    if (rev > this.rev) return null;
    const first = this.history.findIndex((d) => d.fromRev === rev);
    if (first === -1) return null;
    return { fromRev: rev, rev: this.rev, ops: this.history.slice(first).flatMap((d) => d.ops) };
  }

  addSource(init: { id: string; kind: SourceKind; name: string; address: string | null }): void {
    if (this.source(init.id)) throw new Error(`source "${init.id}" is already registered`);
    this.commit([
      { op: 'source.put', source: { ...init, state: 'syncing', lastSyncAt: null, lastError: null, scopes: [] } },
    ]);
  }

  removeSource(sourceId: string): void {
    if (!this.source(sourceId)) return;
    this.commit([{ op: 'source.delete', sourceId }]);
  }

  /** Applies one adapter event for `sourceId`; returns the resulting delta, or null if nothing changed. */
  apply(sourceId: string, event: SourceEvent): Delta | null {
    const source = this.source(sourceId);
    if (!source) throw new Error(`event for unknown source "${sourceId}"`);
    const ops: DeltaOp[] = [];
    switch (event.type) {
      case 'scope.synced': {
        const incoming = new Map(event.services.map((s) => [s.id, s]));
        for (const existing of this.topology.services) {
          if (existing.sourceId === sourceId && existing.scope === event.scope && !incoming.has(existing.id)) {
            ops.push({ op: 'service.delete', serviceId: existing.id });
          }
        }
        for (const svc of event.services) ops.push(...this.diffService(svc));
        const scopes = source.scopes.includes(event.scope) ? source.scopes : [...source.scopes, event.scope].sort();
        ops.push(...this.statusOps(source, { scopes }));
        break;
      }
      case 'service.changed':
        ops.push(...this.diffService(event.service));
        break;
      case 'service.removed':
        if (this.service(event.serviceId)) ops.push({ op: 'service.delete', serviceId: event.serviceId });
        break;
      case 'traffic.synced': {
        this.policies.set(`${sourceId}/${event.scope}`, event.policies);
        for (const svc of this.topology.services) {
          if (svc.sourceId === sourceId && svc.scope === event.scope) ops.push(...this.diffService(svc));
        }
        break;
      }
      case 'scopes.changed': {
        const keep = new Set(event.scopes);
        for (const s of this.topology.services) {
          if (s.sourceId === sourceId && !keep.has(s.scope)) ops.push({ op: 'service.delete', serviceId: s.id });
        }
        ops.push(...this.statusOps(source, { scopes: [...keep].sort() }));
        break;
      }
      case 'status': {
        // A source that has synced before keeps its last-known-good data: it is stale, not down.
        const state = event.state === 'down' && source.lastSyncAt !== null ? 'stale' : event.state;
        const patch: Partial<SourceStatus> = { state };
        if (event.state === 'ok') {
          patch.lastSyncAt = this.now().toISOString();
          patch.lastError = null;
        } else if (event.error !== undefined) patch.lastError = event.error;
        if (event.detail !== undefined) patch.detail = event.detail;
        ops.push(...this.statusOps(source, patch));
        break;
      }
    }
    return this.commit(ops);
  }

  /**
   * SDK clients' breaker views for every service named `serviceName` (clients know the name,
   * not Switchboard's source ids). Instances are matched by their registry id.
   */
  setBreakers(serviceName: string, views: Record<string, BreakerView>): Delta | null {
    if (sameJson(this.breakers.get(serviceName) ?? {}, views)) return null;
    if (Object.keys(views).length) this.breakers.set(serviceName, views);
    else this.breakers.delete(serviceName);
    const ops = this.topology.services.filter((s) => s.name === serviceName).flatMap((s) => this.diffService(s));
    return this.commit(ops);
  }

  private statusOps(source: SourceStatus, patch: Partial<SourceStatus>): DeltaOp[] {
    const next = { ...source, ...patch };
    return shallowEqualStatus(source, next) ? [] : [{ op: 'source.put', source: next }];
  }

  /** Instance-level diff so one check flip costs one instance, not the whole service. */
  private diffService(svc: Service): DeltaOp[] {
    const ops: DeltaOp[] = [];
    const prev = this.service(svc.id);
    const traffic = this.policies.get(`${svc.sourceId}/${svc.scope}`)?.[svc.name] ?? null;
    const header: ServiceHeader = { id: svc.id, sourceId: svc.sourceId, scope: svc.scope, name: svc.name, tags: svc.tags, traffic, ...(svc.dns ? { dns: svc.dns } : {}) };
    if (!prev || !sameJson(headerOf(prev), header)) ops.push({ op: 'service.put', service: header });
    const before = new Map<string, Instance>((prev?.instances ?? []).map((i) => [i.id, i]));
    const views = this.breakers.get(svc.name);
    for (const reported of svc.instances) {
      const { breaker: _stale, ...plain } = reported;
      const view = views?.[drainId(plain.id)];
      const inst: Instance = view ? { ...plain, breaker: view } : plain;
      const old = before.get(inst.id);
      if (!old || !sameJson(old, inst)) ops.push({ op: 'instance.put', serviceId: svc.id, instance: inst });
      before.delete(inst.id);
    }
    for (const gone of before.keys()) ops.push({ op: 'instance.delete', serviceId: svc.id, instanceId: gone });
    return ops;
  }

  private commit(ops: DeltaOp[]): Delta | null {
    if (ops.length === 0) return null;
    const delta: Delta = { fromRev: this.rev, rev: this.rev + 1, ops };
    this.topology = applyOps(this.topology, ops, delta.rev);
    this.history.push(delta);
    if (this.history.length > this.historySize) this.history.splice(0, this.history.length - this.historySize);
    for (const l of this.listeners) l(delta);
    return delta;
  }
}

function headerOf(s: Service): ServiceHeader {
  return { id: s.id, sourceId: s.sourceId, scope: s.scope, name: s.name, tags: s.tags, traffic: s.traffic ?? null, ...(s.dns ? { dns: s.dns } : {}) };
}

function shallowEqualStatus(a: SourceStatus, b: SourceStatus): boolean {
  return sameJson(a, b);
}

// Registry payloads are plain JSON built in a stable key order by the adapters, so a
// serialized comparison is exact and cheap enough for per-instance diffs.
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
