/**
 * The embedded registry's state and Consul's index rules, with no network and no timers of its
 * own. One monotonic index numbers every change; each read endpoint blocks on the index of what
 * it shows, exactly as Consul 1.8 does: the service table for /catalog/services (not check
 * status), all checks for /health/state/*, one service's registration and checks for
 * /health/service/:name, a key's ModifyIndex for a KV read. An index is never below 1.
 * Every mutation is written through the persistence port before waiters are woken.
 */
import { noPersistence, type CheckRecord, type CheckStatus, type KvRecord, type RegistryPersistence, type ServiceRecord } from './registryRecords';

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
}

export class RegistryState {
  private index: number;
  readonly services = new Map<string, ServiceRecord>();
  readonly checks = new Map<string, CheckRecord>();
  readonly kv = new Map<string, KvRecord>();
  private servicesIndex = 1;
  private checksIndex = 1;
  private kvIndex = 1;
  private readonly byName = new Map<string, number>();
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly persistence: RegistryPersistence = noPersistence,
    loaded?: LoadedState,
    private readonly now: () => number = Date.now,
  ) {
    this.index = Math.max(1, loaded?.index ?? 1);
    for (const s of loaded?.services ?? []) this.services.set(s.ID, s);
    for (const c of loaded?.checks ?? []) this.checks.set(c.CheckID, c);
    for (const k of loaded?.kv ?? []) this.kv.set(k.Key, k);
    // After a restart every table is "as of now": blocked clients from before re-read once.
    this.servicesIndex = this.checksIndex = this.kvIndex = this.index;
    for (const s of this.services.values()) this.byName.set(s.Service, this.index);
  }

  // ---- indexes ----

  get currentIndex(): number {
    return this.index;
  }

  servicesTableIndex: IndexOf = () => this.servicesIndex;
  checksTableIndex: IndexOf = () => this.checksIndex;
  kvTableIndex: IndexOf = () => this.kvIndex;
  serviceIndex(name: string): number {
    return this.byName.get(name) ?? this.servicesIndex;
  }
  kvKeyIndex(key: string): number {
    return this.kv.get(key)?.ModifyIndex ?? this.kvIndex;
  }

  /** Resolves once `indexOf()` > `minIndex`, after `waitMs`, or when `signal` aborts. */
  waitForChange(indexOf: IndexOf, minIndex: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (indexOf() > minIndex) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => {
        if (indexOf() > minIndex) done();
      };
      const timer = setTimeout(done, waitMs);
      this.waiters.add(check);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Wakes every blocked query whose index moved; waiters are few and each check is O(1). */
  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private mutate(fn: (next: number) => boolean): boolean {
    let changed = false;
    this.persistence.transaction(() => {
      changed = fn(this.index + 1);
      if (changed) {
        this.index += 1;
        this.persistence.saveIndex(this.index);
      }
    });
    if (changed) this.notify();
    return changed;
  }

  // ---- services and checks ----

  /**
   * Upserts a service and replaces its checks. An existing check keeps its status and output
   * (Consul: re-registering does not reset a TTL check); new checks start as `Status`.
   */
  registerService(def: Omit<ServiceRecord, 'CreateIndex' | 'ModifyIndex'>, checks: RegistrationCheck[]): void {
    this.mutate((idx) => {
      let changed = false;
      const prev = this.services.get(def.ID);
      const record: ServiceRecord = { ...def, CreateIndex: prev?.CreateIndex ?? idx, ModifyIndex: idx };
      if (!prev || !sameService(prev, record)) {
        if (prev && prev.Service !== def.Service) this.byName.set(prev.Service, idx);
        this.services.set(def.ID, record);
        this.persistence.saveService(record);
        this.servicesIndex = idx;
        changed = true;
      }
      const keep = new Set(checks.map((c) => c.CheckID));
      for (const c of [...this.checks.values()]) {
        if (c.ServiceID === def.ID && !keep.has(c.CheckID)) {
          this.checks.delete(c.CheckID);
          this.persistence.deleteCheck(c.CheckID);
          changed = true;
        }
      }
      for (const c of checks) {
        const old = this.checks.get(c.CheckID);
        const next: CheckRecord = {
          CheckID: c.CheckID,
          Name: c.Name,
          ServiceID: def.ID,
          ServiceName: def.Service,
          Status: old ? old.Status : c.Status,
          Notes: c.Notes,
          Output: old?.Output ?? '',
          definition: c.definition,
          CreateIndex: old?.CreateIndex ?? idx,
          ModifyIndex: idx,
          criticalSince: old ? old.criticalSince : c.Status === 'critical' ? this.now() : null,
        };
        if (old && sameCheck(old, next)) continue;
        this.checks.set(c.CheckID, next);
        this.persistence.saveCheck(next);
        changed = true;
      }
      if (changed) {
        this.checksIndex = idx;
        this.byName.set(def.Service, idx);
      }
      return changed;
    });
  }

  /** Removes a service and its checks; unknown ids are a no-op (Consul answers 200 anyway). */
  deregisterService(id: string): void {
    const svc = this.services.get(id);
    if (!svc) return;
    this.mutate((idx) => {
      this.services.delete(id);
      this.persistence.deleteService(id);
      for (const c of [...this.checks.values()]) {
        if (c.ServiceID !== id) continue;
        this.checks.delete(c.CheckID);
        this.persistence.deleteCheck(c.CheckID);
      }
      this.servicesIndex = this.checksIndex = idx;
      this.byName.set(svc.Service, idx);
      return true;
    });
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
      this.checks.set(checkId, next);
      this.persistence.saveCheck(next);
      this.checksIndex = idx;
      this.byName.set(c.ServiceName, idx);
      return true;
    });
    return true;
  }

  /** Services with a check critical for longer than its DeregisterCriticalServiceAfter. */
  servicesToReap(now: number): string[] {
    const out = new Set<string>();
    for (const c of this.checks.values()) {
      const after = c.definition.deregisterCriticalAfterMs;
      if (after === undefined || c.Status !== 'critical' || c.criticalSince === null) continue;
      if (now - c.criticalSince > Math.max(60_000, after)) out.add(c.ServiceID);
    }
    return [...out];
  }

  // ---- KV ----

  /** `cas` undefined: unconditional; 0: create only; n: only if ModifyIndex is n. */
  kvPut(key: string, value: Uint8Array | null, flags: number, cas?: number): boolean {
    const prev = this.kv.get(key);
    if (cas !== undefined && (cas === 0 ? prev !== undefined : prev?.ModifyIndex !== cas)) return false;
    this.mutate((idx) => {
      const rec: KvRecord = { Key: key, Value: value && value.length > 0 ? value : null, Flags: flags, CreateIndex: prev?.CreateIndex ?? idx, ModifyIndex: idx };
      this.kv.set(key, rec);
      this.persistence.saveKv(rec);
      this.kvIndex = idx;
      return true;
    });
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
      for (const k of doomed) {
        this.kv.delete(k);
        this.persistence.deleteKv(k);
      }
      this.kvIndex = idx;
      return true;
    });
    return true;
  }

  kvList(prefix: string): KvRecord[] {
    return [...this.kv.values()].filter((r) => r.Key.startsWith(prefix)).sort((a, b) => (a.Key < b.Key ? -1 : 1));
  }
}

function sameService(a: ServiceRecord, b: ServiceRecord): boolean {
  return JSON.stringify({ ...a, CreateIndex: 0, ModifyIndex: 0 }) === JSON.stringify({ ...b, CreateIndex: 0, ModifyIndex: 0 });
}

function sameCheck(a: CheckRecord, b: CheckRecord): boolean {
  const strip = (c: CheckRecord) => ({ ...c, ModifyIndex: 0, CreateIndex: 0 });
  return JSON.stringify(strip(a)) === JSON.stringify(strip(b));
}
