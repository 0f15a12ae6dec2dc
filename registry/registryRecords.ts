/** The records the embedded registry keeps, in Consul's field names. */
export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface ServiceRecord {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
  Weights: { Passing: number; Warning: number };
  EnableTagOverride: boolean;
  CreateIndex: number;
  ModifyIndex: number;
}

/** How a check is run; what the health checker needs, not what the API shows. */
export interface CheckDefinition {
  type: 'ttl' | 'http' | 'tcp';
  ttlMs?: number;
  http?: string;
  method?: string;
  header?: Record<string, string[]>;
  tcp?: string;
  intervalMs?: number;
  timeoutMs?: number;
  /** Consul clamps this to at least one minute. */
  deregisterCriticalAfterMs?: number;
}

export interface CheckRecord {
  CheckID: string;
  Name: string;
  ServiceID: string;
  ServiceName: string;
  Status: CheckStatus;
  Notes: string;
  Output: string;
  definition: CheckDefinition;
  CreateIndex: number;
  ModifyIndex: number;
  /** Wall-clock ms when the check last turned critical; drives DeregisterCriticalServiceAfter. */
  criticalSince: number | null;
}

export interface KvRecord {
  Key: string;
  Value: Uint8Array | null;
  /** A uint64 as decimal digits (`consul lock` uses flags above 2^53). */
  Flags: string;
  /** How many times the key was acquired. */
  LockIndex: number;
  /** The session holding the lock, if any. */
  Session: string | null;
  CreateIndex: number;
  ModifyIndex: number;
}

export type SessionBehavior = 'release' | 'delete';

/** A session (Consul's field names; durations in ms). */
export interface SessionRecord {
  ID: string;
  Name: string;
  Node: string;
  LockDelayNs: number;
  Behavior: SessionBehavior;
  /** As sent ('' for none); `ttlMs` 0 means no TTL. */
  TTL: string;
  ttlMs: number;
  NodeChecks: string[] | null;
  ServiceChecks: { ID: string; Namespace: string }[] | null;
  /** The legacy `Checks` list, when one was sent (shown only when non-empty). */
  Checks: string[] | null;
  CreateIndex: number;
  ModifyIndex: number;
}

/** Write-through storage; every mutation of the state runs inside one `transaction`. */
export interface RegistryPersistence {
  /** Runs one mutation atomically: all its writes or none. */
  transaction(fn: () => void): void;
  /** Resolves once every transaction so far is on disk (group commit); absent: at once. */
  durable?(): Promise<void>;
  saveIndex(index: number): void;
  saveService(record: ServiceRecord): void;
  deleteService(id: string): void;
  saveCheck(record: CheckRecord): void;
  deleteCheck(id: string): void;
  saveKv(record: KvRecord): void;
  deleteKv(key: string): void;
  saveSession(record: SessionRecord): void;
  deleteSession(id: string): void;
}

export const noPersistence: RegistryPersistence = {
  transaction: (fn) => fn(),
  saveIndex() {},
  saveService() {},
  deleteService() {},
  saveCheck() {},
  deleteCheck() {},
  saveKv() {},
  deleteKv() {},
  saveSession() {},
  deleteSession() {},
};
