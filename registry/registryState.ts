/**
 * The embedded registry's state and Consul's index rules, with no network and no timers of its
 * own beyond one `setImmediate` to wake blocked queries. One monotonic index numbers every
 * change; each read endpoint blocks on the index of what it shows, exactly as Consul 1.8 does:
 * the service table for /catalog/services (not check status), all checks for /health/state/*,
 * one service's registration and checks for /health/service/:name, a key's ModifyIndex for a
 * KV read. An index is never below 1.
 *
 * Scale (150,000 instances): every mutation costs O(what it touches) — secondary indexes by
 * service name, by service id (its checks) and by status (the non-passing checks) are kept up
 * to date in place, never rebuilt from the whole table. Blocked queries wait on topics (the
 * service table, the check table, one service name, KV), so a write wakes only the waiters
 * whose answer can have changed, and wakes are coalesced per event-loop turn. Every mutation
 * is written through the persistence port (group-committed, see registryStorage.ts) before
 * waiters are woken; HTTP writes await `durable()` before they answer.
 */
import { FragmentList } from './fragmentList';
import { noPersistence, type CheckRecord, type CheckStatus, type KvRecord, type RegistryPersistence, type ServiceRecord, type SessionRecord } from './registryRecords';

/** Consul's cap on a session's lock delay. */
export const MAX_LOCK_DELAY_MS = 60_000;
/** The node-level check every session checks by default. */
export const SERF_CHECK = 'serfHealth';

export type IndexOf = () => number;

export interface RegistrationCheck {
  CheckID: string;
  Name: string;
  Notes: string;
  /** Initial status; Consul starts checks critical unless told otherwise. */
  Status: CheckStatus;
  definition: CheckRecord['definition'];
}

export interface LoadedState {
  index: number;
  services: ServiceRecord[];
  checks: CheckRecord[];
  kv: KvRecord[];
  sessions?: SessionRecord[];
}

/** Everything known about one service name, kept up to date by every mutation. */
export interface NameEntry {
  name: string;
  /** Instance (service) ids, in registration order. */
  ids: Set<string>;
  /** Tag → how many instances carry it; iteration order is first appearance. */
  tags: Map<string, number>;
  /** Service-level checks of all instances by status (node checks not included). */
  counts: Record<CheckStatus, number>;
}

/** Topics blocked queries wait on. */
export const TOPIC = {
  services: 'services',
  checks: 'checks',
  kv: 'kv',
  sessions: 'sessions',
  name: (name: string) => `svc:${name}`,
} as const;
const ANY = '*';

interface Waiter {
  check(): void;
}

/**
 * Rendered JSON fragments, cached per record and dropped by the mutation that changes the
 * record. The HTTP layer fills them (registryViews.ts); the state only invalidates them.
 */
export interface FragmentCache {
  /** Check JSON, in check-creation order (the /health/state/any body). */
  check: FragmentList;
  /** A /health/service entry per instance. */
  entry: Map<string, string>;
  /** `"name":[tags]` per service name, in name-creation order (/catalog/services). */
  catalogName: FragmentList;
  /** A /internal/ui/services summary per service name. */
  uiName: FragmentList;
  /** `"id":{service}` per instance (/catalog/node/:node). */
  nodeServiceMap: FragmentList;
  /** `{service}` per instance (/catalog/node-services/:node). */
  nodeServiceList: FragmentList;
}

export class RegistryState {
  private index: number;
  readonly services = new Map<string, ServiceRecord>();
  readonly checks = new Map<string, CheckRecord>();
  readonly kv = new Map<string, KvRecord>();
  /** Service name → its instances, tags and check counts. */
  readonly names = new Map<string, NameEntry>();
  /** Lower-cased service name → the names (DNS is case-insensitive). */
  private readonly byLower = new Map<string, Set<string>>();
  /** Service id → its check ids. */
  private readonly checksOf = new Map<string, Set<string>>();
  /** The non-passing checks, by status; a passing check is in neither. */
  readonly nonPassing: Record<'warning' | 'critical', Set<string>> = { warning: new Set(), critical: new Set() };
  readonly fragments: FragmentCache = { check: new FragmentList(), entry: new Map(), catalogName: new FragmentList(), uiName: new FragmentList(), nodeServiceMap: new FragmentList(), nodeServiceList: new FragmentList() };
  readonly sessions = new Map<string, SessionRecord>();
  /** Session id → the keys it holds. */
  private readonly heldBy = new Map<string, Set<string>>();
  /** Check id → the sessions that are invalidated when it goes critical or away. */
  private readonly sessionsOfCheck = new Map<string, Set<string>>();
  /** Key → wall-clock ms until which it cannot be acquired (after a lock holder was invalidated). */
  private readonly lockDelayUntil = new Map<string, number>();
  private sessionsIndex = 1;
  /** Moves whenever the body of /catalog/services changes (a name or a tag set), not on every registration. */
  catalogVersion = 0;
  private servicesIndex = 1;
  private checksIndex = 1;
  private kvIndex = 1;
  /** Service name → the index of its last change; kept after the name is gone, so its waiters see the removal. */
  private readonly nameIndex = new Map<string, number>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly dirty = new Set<string>();
  private flushScheduled = false;

  constructor(
    private readonly persistence: RegistryPersistence = noPersistence,
    loaded?: LoadedState,
    private readonly now: () => number = Date.now,
  ) {
    this.index = Math.max(1, loaded?.index ?? 1);
    for (const s of loaded?.services ?? []) this.putService(s);
    for (const c of loaded?.checks ?? []) if (this.services.has(c.ServiceID)) this.putCheck(c);
    for (const k of loaded?.kv ?? []) this.kv.set(k.Key, k);
    for (const sess of loaded?.sessions ?? []) this.indexSession(sess);
    for (const k of this.kv.values()) if (k.Session) this.heldBy.get(k.Session)?.add(k.Key);
    // After a restart every table is "as of now": blocked clients from before re-read once.
    this.servicesIndex = this.checksIndex = this.kvIndex = this.sessionsIndex = this.index;
    for (const name of this.names.keys()) this.nameIndex.set(name, this.index);
  }

  // ---- indexes ----

  get currentIndex(): number {
    return this.index;
  }

  servicesTableIndex: IndexOf = () => this.servicesIndex;
  checksTableIndex: IndexOf = () => this.checksIndex;
  kvTableIndex: IndexOf = () => this.kvIndex;
  sessionsTableIndex: IndexOf = () => this.sessionsIndex;
  serviceIndex(name: string): number {
    return this.nameIndex.get(name) ?? this.servicesIndex;
  }
  kvKeyIndex(key: string): number {
    return this.kv.get(key)?.ModifyIndex ?? this.kvIndex;
  }

  /** Resolves once a write that touches `topics` (default: any) pushes `indexOf()` above `minIndex`, after `waitMs`, or when `signal` aborts. */
  waitForChange(indexOf: IndexOf, minIndex: number, waitMs: number, signal?: AbortSignal, topics: readonly string[] = [ANY]): Promise<void> {
    if (indexOf() > minIndex || signal?.aborted) return Promise.resolve();
    const wait = this.wait(indexOf, minIndex, waitMs, topics);
    signal?.addEventListener('abort', wait.cancel, { once: true });
    return wait.done.then(() => signal?.removeEventListener('abort', wait.cancel));
  }

  /**
   * `waitForChange` without an AbortSignal (a blocked HTTP query cancels through `cancel` when its
   * connection closes; an EventTarget per query is measurable at a few hundred blocked queries).
   */
  wait(indexOf: IndexOf, minIndex: number, waitMs: number, topics: readonly string[] = [ANY]): { done: Promise<void>; cancel: () => void } {
    if (indexOf() > minIndex) return { done: Promise.resolve(), cancel: () => {} };
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      let finished = false;
      const waiter: Waiter = {
        check: () => {
          if (indexOf() > minIndex) finish();
        },
      };
      finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        for (const t of topics) {
          const set = this.waiters.get(t);
          set?.delete(waiter);
          if (set?.size === 0) this.waiters.delete(t);
        }
        resolve();
      };
      const timer = setTimeout(finish, waitMs);
      for (const t of topics) {
        let set = this.waiters.get(t);
        if (!set) this.waiters.set(t, (set = new Set()));
        set.add(waiter);
      }
    });
    return { done, cancel: () => finish() };
  }

  /** How many blocked queries wait, for tests and benchmarks. */
  get waiterCount(): number {
    const all = new Set<Waiter>();
    for (const set of this.waiters.values()) for (const w of set) all.add(w);
    return all.size;
  }

  /** Resolves when every acknowledged mutation so far is on disk. */
  durable(): Promise<void> {
    return this.persistence.durable?.() ?? Promise.resolve();
  }

  /** Marks topics changed; waiters are woken once per event-loop turn, after the storage commit. */
  private touch(...topics: string[]): void {
    for (const t of topics) this.dirty.add(t);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const woken = new Set<Waiter>();
    for (const t of [...this.dirty, ANY]) for (const w of this.waiters.get(t) ?? []) woken.add(w);
    this.dirty.clear();
    for (const w of woken) w.check();
  }

  /** Inside `batch`: the one index every mutation of the batch gets. */
  private batchIndex: number | null = null;
  private batchChanged = false;

  /** Runs several mutations as one: one index, one storage transaction (a /v1/txn). */
  batch(fn: () => void): void {
    if (this.batchIndex !== null) return fn();
    this.persistence.transaction(() => {
      this.batchIndex = this.index + 1;
      this.batchChanged = false;
      try {
        fn();
      } finally {
        if (this.batchChanged) {
          this.index = this.batchIndex;
          this.persistence.saveIndex(this.index);
        }
        this.batchIndex = null;
      }
    });
  }

  private mutate(fn: (next: number) => boolean): boolean {
    if (this.batchIndex !== null) {
      const changed = fn(this.batchIndex);
      this.batchChanged ||= changed;
      return changed;
    }
    let changed = false;
    this.persistence.transaction(() => {
      changed = fn(this.index + 1);
      if (changed) {
        this.index += 1;
        this.persistence.saveIndex(this.index);
      }
    });
    return changed;
  }

  // ---- secondary indexes ----

  private entryOf(name: string): NameEntry {
    let e = this.names.get(name);
    if (!e) {
      e = { name, ids: new Set(), tags: new Map(), counts: { passing: 0, warning: 0, critical: 0 } };
      this.names.set(name, e);
      const lower = name.toLowerCase();
      let set = this.byLower.get(lower);
      if (!set) this.byLower.set(lower, (set = new Set()));
      set.add(name);
      this.catalogVersion++;
      this.fragments.catalogName.add(name);
      this.fragments.uiName.add(name);
    }
    return e;
  }

  private dropNameIfEmpty(e: NameEntry): void {
    if (e.ids.size > 0) return;
    this.names.delete(e.name);
    const lower = e.name.toLowerCase();
    const set = this.byLower.get(lower);
    set?.delete(e.name);
    if (set?.size === 0) this.byLower.delete(lower);
    this.fragments.catalogName.remove(e.name);
    this.fragments.uiName.remove(e.name);
    this.catalogVersion++;
  }

  private addTags(e: NameEntry, tags: readonly string[], delta: 1 | -1): void {
    for (const t of new Set(tags)) {
      const n = (e.tags.get(t) ?? 0) + delta;
      if (n > 0) {
        if (!e.tags.has(t)) this.catalogVersion++;
        e.tags.set(t, n);
      } else {
        e.tags.delete(t);
        this.catalogVersion++;
      }
    }
    this.fragments.catalogName.delete(e.name);
  }

  private putService(s: ServiceRecord): void {
    const prev = this.services.get(s.ID);
    if (prev) {
      const old = this.names.get(prev.Service)!;
      this.addTags(old, prev.Tags, -1);
      if (prev.Service !== s.Service) {
        old.ids.delete(s.ID);
        // Its checks move with it (registerService re-puts them under the new name).
        this.fragments.uiName.delete(old.name);
        this.dropNameIfEmpty(old);
      }
    }
    this.services.set(s.ID, s);
    const e = this.entryOf(s.Service);
    e.ids.add(s.ID);
    this.addTags(e, s.Tags, 1);
    this.fragments.uiName.delete(e.name);
    this.fragments.entry.delete(s.ID);
    this.fragments.nodeServiceMap.add(s.ID);
    this.fragments.nodeServiceMap.delete(s.ID);
    this.fragments.nodeServiceList.add(s.ID);
    this.fragments.nodeServiceList.delete(s.ID);
    // Check JSON carries ServiceTags.
    for (const id of this.checksOf.get(s.ID) ?? []) this.fragments.check.delete(id);
  }

  private removeService(id: string): ServiceRecord | undefined {
    const s = this.services.get(id);
    if (!s) return undefined;
    for (const cid of [...(this.checksOf.get(id) ?? [])]) this.removeCheck(cid);
    this.checksOf.delete(id);
    this.services.delete(id);
    const e = this.names.get(s.Service)!;
    e.ids.delete(id);
    this.addTags(e, s.Tags, -1);
    this.fragments.uiName.delete(e.name);
    this.fragments.entry.delete(id);
    this.fragments.nodeServiceMap.remove(id);
    this.fragments.nodeServiceList.remove(id);
    this.dropNameIfEmpty(e);
    return s;
  }

  /** Inserts or replaces a check in place (a Map keeps an updated key where it was). */
  private putCheck(c: CheckRecord): void {
    const prev = this.checks.get(c.CheckID);
    if (c.Status === 'critical' && prev && prev.Status !== 'critical') this.doomedChecks.add(c.CheckID);
    if (prev) this.unindexCheck(prev);
    else this.fragments.check.add(c.CheckID);
    this.checks.set(c.CheckID, c);
    let set = this.checksOf.get(c.ServiceID);
    if (!set) this.checksOf.set(c.ServiceID, (set = new Set()));
    set.add(c.CheckID);
    if (c.Status !== 'passing') this.nonPassing[c.Status].add(c.CheckID);
    const e = this.names.get(c.ServiceName);
    if (e) {
      e.counts[c.Status]++;
      this.fragments.uiName.delete(e.name);
    }
    this.fragments.check.delete(c.CheckID);
    this.fragments.entry.delete(c.ServiceID);
  }

  private unindexCheck(c: CheckRecord): void {
    this.checksOf.get(c.ServiceID)?.delete(c.CheckID);
    if (c.Status !== 'passing') this.nonPassing[c.Status].delete(c.CheckID);
    const e = this.names.get(c.ServiceName);
    if (e) {
      e.counts[c.Status]--;
      this.fragments.uiName.delete(e.name);
    }
    this.fragments.check.delete(c.CheckID);
    this.fragments.entry.delete(c.ServiceID);
  }

  private removeCheck(id: string): void {
    const c = this.checks.get(id);
    if (!c) return;
    this.unindexCheck(c);
    this.fragments.check.remove(id);
    this.checks.delete(id);
    this.persistence.deleteCheck(id);
    this.doomedChecks.add(id);
  }

  /** Checks that went critical or away during the current mutation (their sessions are invalidated after it). */
  private readonly doomedChecks = new Set<string>();

  private invalidateDoomedSessions(): void {
    if (this.doomedChecks.size === 0) return;
    const ids = new Set<string>();
    for (const c of this.doomedChecks) for (const sid of this.sessionsOfCheck.get(c) ?? []) ids.add(sid);
    this.doomedChecks.clear();
    for (const sid of ids) this.destroySession(sid);
  }

  // ---- reads by name (O(that service)) ----

  /** The instances of one service name, ordered by ID. */
  instancesOf(name: string): ServiceRecord[] {
    const e = this.names.get(name);
    if (!e) return [];
    return [...e.ids].sort().map((id) => this.services.get(id)!);
  }

  /** The checks of one instance. */
  checksOfService(serviceId: string): CheckRecord[] {
    return [...(this.checksOf.get(serviceId) ?? [])].map((id) => this.checks.get(id)!);
  }

  /** Service names equal to `lower` ignoring case (DNS). */
  namesLike(lower: string): string[] {
    return [...(this.byLower.get(lower) ?? [])];
  }

  /** True when every check of the instance passes (an instance without checks passes). */
  instancePassing(serviceId: string): boolean {
    for (const id of this.checksOf.get(serviceId) ?? []) if (this.checks.get(id)!.Status !== 'passing') return false;
    return true;
  }

  // ---- services and checks ----

  /**
   * Upserts a service and replaces its checks. An existing check keeps its status and output
   * (Consul: re-registering does not reset a TTL check); new checks start as `Status`.
   */
  registerService(def: Omit<ServiceRecord, 'CreateIndex' | 'ModifyIndex'>, checks: RegistrationCheck[]): void {
    const touched = new Set<string>();
    this.mutate((idx) => {
      let changed = false;
      let serviceChanged = false;
      const prev = this.services.get(def.ID);
      const record: ServiceRecord = { ...def, CreateIndex: prev?.CreateIndex ?? idx, ModifyIndex: idx };
      if (!prev || !sameService(prev, record)) {
        if (prev && prev.Service !== def.Service) {
          this.nameIndex.set(prev.Service, idx);
          touched.add(TOPIC.name(prev.Service));
        }
        this.putService(record);
        this.persistence.saveService(record);
        this.servicesIndex = idx;
        changed = serviceChanged = true;
      }
      const keep = new Set(checks.map((c) => c.CheckID));
      for (const old of this.checksOfService(def.ID)) {
        if (keep.has(old.CheckID)) continue;
        this.removeCheck(old.CheckID);
        changed = true;
      }
      for (const c of checks) {
        const old = this.checks.get(c.CheckID);
        // A check id that belonged to another service moves here.
        if (old && old.ServiceID !== def.ID) {
          const owner = this.services.get(old.ServiceID);
          if (owner) {
            this.nameIndex.set(owner.Service, idx);
            touched.add(TOPIC.name(owner.Service));
          }
          this.removeCheck(old.CheckID);
        }
        const kept = old && old.ServiceID === def.ID ? old : undefined;
        const next: CheckRecord = {
          CheckID: c.CheckID,
          Name: c.Name,
          ServiceID: def.ID,
          ServiceName: def.Service,
          Status: kept ? kept.Status : c.Status,
          Notes: c.Notes,
          Output: kept?.Output ?? '',
          definition: c.definition,
          CreateIndex: kept?.CreateIndex ?? idx,
          ModifyIndex: idx,
          criticalSince: kept ? kept.criticalSince : c.Status === 'critical' ? this.now() : null,
        };
        if (kept && sameCheck(kept, next)) continue;
        this.putCheck(next);
        this.persistence.saveCheck(next);
        changed = true;
      }
      if (changed) {
        this.checksIndex = idx;
        this.nameIndex.set(def.Service, idx);
        touched.add(TOPIC.checks).add(TOPIC.name(def.Service));
        if (serviceChanged) touched.add(TOPIC.services);
      }
      return changed;
    });
    if (touched.size) this.touch(...touched);
    this.invalidateDoomedSessions();
  }

  /** Removes a service and its checks; unknown ids are a no-op (Consul answers 200 anyway). */
  deregisterService(id: string): void {
    const svc = this.services.get(id);
    if (!svc) return;
    this.mutate((idx) => {
      this.removeService(id);
      this.persistence.deleteService(id);
      this.servicesIndex = this.checksIndex = idx;
      this.nameIndex.set(svc.Service, idx);
      return true;
    });
    this.touch(TOPIC.services, TOPIC.checks, TOPIC.name(svc.Service));
    this.invalidateDoomedSessions();
  }

  /** Sets a check's status and output; a write that changes neither does not move any index. */
  updateCheck(checkId: string, status: CheckStatus, output: string): boolean {
    const c = this.checks.get(checkId);
    if (!c) return false;
    if (c.Status === status && c.Output === output) return true;
    this.mutate((idx) => {
      const next: CheckRecord = {
        ...c,
        Status: status,
        Output: output,
        ModifyIndex: idx,
        criticalSince: status === 'critical' ? (c.criticalSince ?? this.now()) : null,
      };
      this.putCheck(next);
      this.persistence.saveCheck(next);
      this.checksIndex = idx;
      this.nameIndex.set(c.ServiceName, idx);
      return true;
    });
    this.touch(TOPIC.checks, TOPIC.name(c.ServiceName));
    this.invalidateDoomedSessions();
    return true;
  }

  /** Services with a check critical for longer than its DeregisterCriticalServiceAfter; O(critical checks). */
  servicesToReap(now: number): string[] {
    const out = new Set<string>();
    for (const id of this.nonPassing.critical) {
      const c = this.checks.get(id)!;
      const after = c.definition.deregisterCriticalAfterMs;
      if (after === undefined || c.criticalSince === null) continue;
      if (now - c.criticalSince > Math.max(60_000, after)) out.add(c.ServiceID);
    }
    return [...out];
  }

  // ---- KV ----

  /** `cas` undefined: unconditional; 0: create only; n: only if ModifyIndex is n. The holder of a lock is kept, LockIndex zeroed (as Consul does). */
  kvPut(key: string, value: Uint8Array | null, flags: number | bigint | string, cas?: number): boolean {
    const prev = this.kv.get(key);
    if (cas !== undefined && (cas === 0 ? prev !== undefined : prev?.ModifyIndex !== cas)) return false;
    // Consul keeps the holder on a plain write but takes LockIndex from the request (0).
    this.writeKv(key, value, flags, 0, prev?.Session ?? null);
    return true;
  }

  private writeKv(key: string, value: Uint8Array | null, flags: number | bigint | string, lockIndex: number, session: string | null): void {
    const prev = this.kv.get(key);
    this.mutate((idx) => {
      const rec: KvRecord = {
        Key: key, Value: value && value.length > 0 ? value : null, Flags: String(flags), LockIndex: lockIndex, Session: session,
        CreateIndex: prev?.CreateIndex ?? idx, ModifyIndex: idx,
      };
      if (prev?.Session && prev.Session !== session) this.heldBy.get(prev.Session)?.delete(key);
      if (session) this.heldBy.get(session)?.add(key);
      this.kv.set(key, rec);
      this.persistence.saveKv(rec);
      this.kvIndex = idx;
      return true;
    });
    this.touch(TOPIC.kv);
  }

  /**
   * `?acquire=`: Consul's rules. False when another session holds the key or it is in its lock
   * delay; the holder re-acquiring updates the value and keeps LockIndex; a new holder bumps it.
   * The session must exist (the caller checks and answers Consul's error).
   */
  kvAcquire(key: string, value: Uint8Array | null, flags: number | bigint | string, session: string): boolean {
    if (!this.sessions.has(session)) throw new Error(`invalid session "${session}"`);
    const until = this.lockDelayUntil.get(key);
    if (until !== undefined) {
      if (this.now() < until) return false;
      this.lockDelayUntil.delete(key);
    }
    const prev = this.kv.get(key);
    if (prev?.Session && prev.Session !== session) return false;
    this.writeKv(key, value, flags, prev?.Session === session ? prev.LockIndex : (prev?.LockIndex ?? 0) + 1, session);
    return true;
  }

  /** `?release=`: only the holder releases; the key keeps its LockIndex and gets the value. */
  kvRelease(key: string, value: Uint8Array | null, flags: number | bigint | string, session: string): boolean {
    const prev = this.kv.get(key);
    if (!prev || prev.Session !== session) return false;
    this.writeKv(key, value, flags, prev.LockIndex, null);
    return true;
  }

  kvDelete(key: string, opts: { recurse?: boolean; cas?: number } = {}): boolean {
    if (opts.cas !== undefined && !opts.recurse) {
      const prev = this.kv.get(key);
      if (!prev || prev.ModifyIndex !== opts.cas) return false;
    }
    const doomed = opts.recurse ? [...this.kv.keys()].filter((k) => k.startsWith(key)) : this.kv.has(key) ? [key] : [];
    if (doomed.length === 0) return true;
    this.mutate((idx) => {
      for (const k of doomed) this.dropKv(k);
      this.kvIndex = idx;
      return true;
    });
    this.touch(TOPIC.kv);
    return true;
  }

  private dropKv(k: string): void {
    const prev = this.kv.get(k);
    if (prev?.Session) this.heldBy.get(prev.Session)?.delete(k);
    this.kv.delete(k);
    this.persistence.deleteKv(k);
  }

  /** True while the key is in a lock delay (after its holder was invalidated). */
  lockDelayActive(key: string): boolean {
    const until = this.lockDelayUntil.get(key);
    return until !== undefined && this.now() < until;
  }

  /** Writes a KV record as given (a /v1/txn op already validated), keeping the lock bookkeeping. */
  kvWrite(key: string, value: Uint8Array | null, flags: string, lockIndex: number, session: string | null): KvRecord {
    this.writeKv(key, value, flags, lockIndex, session);
    return this.kv.get(key)!;
  }

  kvList(prefix: string): KvRecord[] {
    return [...this.kv.values()].filter((r) => r.Key.startsWith(prefix)).sort((a, b) => (a.Key < b.Key ? -1 : 1));
  }

  // ---- sessions ----

  private indexSession(s: SessionRecord): void {
    this.sessions.set(s.ID, s);
    if (!this.heldBy.has(s.ID)) this.heldBy.set(s.ID, new Set());
    for (const c of sessionChecks(s)) {
      let set = this.sessionsOfCheck.get(c);
      if (!set) this.sessionsOfCheck.set(c, (set = new Set()));
      set.add(s.ID);
    }
  }

  /** Stores a new session (its checks were validated by the caller). */
  createSession(def: Omit<SessionRecord, 'CreateIndex' | 'ModifyIndex'>): SessionRecord {
    let rec!: SessionRecord;
    this.mutate((idx) => {
      rec = { ...def, CreateIndex: idx, ModifyIndex: idx };
      this.indexSession(rec);
      this.persistence.saveSession(rec);
      this.sessionsIndex = idx;
      return true;
    });
    this.touch(TOPIC.sessions);
    return rec;
  }

  /**
   * Destroys (invalidates) a session: its locks are released or their keys deleted (per
   * Behavior), and each key gets the session's lock delay. Unknown ids are a no-op.
   */
  destroySession(id: string): boolean {
    const sess = this.sessions.get(id);
    if (!sess) return false;
    const held = [...(this.heldBy.get(id) ?? [])];
    const delay = Math.min(MAX_LOCK_DELAY_MS, Math.floor(sess.LockDelayNs / 1e6));
    this.mutate((idx) => {
      for (const key of held) {
        const prev = this.kv.get(key);
        if (!prev || prev.Session !== id) continue;
        if (sess.Behavior === 'delete') this.dropKv(key);
        else {
          const rec: KvRecord = { ...prev, Session: null, ModifyIndex: idx };
          this.kv.set(key, rec);
          this.persistence.saveKv(rec);
        }
        if (delay > 0) this.lockDelayUntil.set(key, this.now() + delay);
      }
      if (held.length) this.kvIndex = idx;
      this.sessions.delete(id);
      this.heldBy.delete(id);
      for (const c of sessionChecks(sess)) {
        const set = this.sessionsOfCheck.get(c);
        set?.delete(id);
        if (set?.size === 0) this.sessionsOfCheck.delete(c);
      }
      this.persistence.deleteSession(id);
      this.sessionsIndex = idx;
      return true;
    });
    this.touch(TOPIC.sessions, ...(held.length ? [TOPIC.kv] : []));
    return true;
  }

  /** Sessions sorted by ID (as Consul lists them). */
  sessionList(): SessionRecord[] {
    return [...this.sessions.values()].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  }
}

/** Every check whose going critical (or away) invalidates the session. */
export function sessionChecks(s: SessionRecord): Set<string> {
  return new Set([...(s.Checks ?? []), ...(s.NodeChecks ?? []), ...(s.ServiceChecks ?? []).map((c) => c.ID)]);
}

function sameService(a: ServiceRecord, b: ServiceRecord): boolean {
  return JSON.stringify({ ...a, CreateIndex: 0, ModifyIndex: 0 }) === JSON.stringify({ ...b, CreateIndex: 0, ModifyIndex: 0 });
}

function sameCheck(a: CheckRecord, b: CheckRecord): boolean {
  const strip = (c: CheckRecord) => ({ ...c, ModifyIndex: 0, CreateIndex: 0 });
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}
