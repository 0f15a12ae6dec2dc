/**
 * Consul 1.8.7 sessions: the create body as Consul decodes it (defaults, LockDelay as a
 * duration or a number, TTL bounds, check validation) and the TTL timers that invalidate a
 * session `TTL × 2` after its creation or last renewal, exactly as Consul's leader does.
 * Invalidation itself (release/delete of held keys, lock delay) lives in RegistryState.
 */
import { randomUUID } from 'node:crypto';
import { DurationError, parseDuration } from './duration';
import type { SessionBehavior, SessionRecord } from './registryRecords';
import { SERF_CHECK, type RegistryState } from './registryState';

export const SESSION_TTL_MIN_MS = 10_000;
export const SESSION_TTL_MAX_MS = 24 * 3_600_000;
/** Consul invalidates a session TTL × this after its last renewal. */
export const SESSION_TTL_MULTIPLIER = 2;
const DEFAULT_LOCK_DELAY_NS = 15e9;

/** A 500/400 answer with Consul's wording. */
export class SessionError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Consul's session id check (memdb's UUID indexer): anything but 36 characters is an error. */
export function checkSessionId(id: string): void {
  if (id.length !== 36) throw new SessionError(500, 'failed session lookup: index error: UUID must be 36 characters');
}

/** Decodes a session/create body into a record to store, validating it against the state as Consul does. */
/** Go's encoding/json matches object keys case-insensitively: renames keys to the canonical names given. */
export function canonicalKeys(obj: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const canon = names.includes(k) ? k : (names.find((n) => n.toLowerCase() === k.toLowerCase()) ?? k);
    if (!(canon in out) || canon === k) out[canon] = v;
  }
  return out;
}

const SESSION_FIELDS = ['ID', 'Name', 'Node', 'Checks', 'NodeChecks', 'ServiceChecks', 'LockDelay', 'Behavior', 'TTL', 'Namespace'];

export function decodeSession(raw: unknown, state: RegistryState, nodeName: string): Omit<SessionRecord, 'CreateIndex' | 'ModifyIndex'> {
  const body = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? canonicalKeys(raw as Record<string, unknown>, SESSION_FIELDS) : ((raw ?? {}) as Record<string, unknown>);
  if (typeof body !== 'object' || Array.isArray(body)) throw new SessionError(400, `Request decode failed: json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type structs.Session`);
  const str = (k: string): string => {
    const v = body[k];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new SessionError(400, `Request decode failed: json: cannot unmarshal ${typeof v} into Go struct field Session.${k} of type string`);
    return v;
  };
  const strList = (k: string): string[] | null | undefined => {
    if (!(k in body)) return undefined;
    const v = body[k];
    if (v === null) return null;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new SessionError(400, `Request decode failed: json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field Session.${k} of type []types.CheckID`);
    return v as string[];
  };
  // LockDelay: a Go duration string, or a number (below 1000: seconds; else nanoseconds).
  let lockDelayNs = DEFAULT_LOCK_DELAY_NS;
  const ld = body.LockDelay;
  if (typeof ld === 'string') {
    try {
      lockDelayNs = Math.round(parseDuration(ld) * 1e6);
    } catch (err) {
      throw new SessionError(400, `Request decode failed: ${(err as Error).message}`);
    }
  } else if (typeof ld === 'number') lockDelayNs = ld < 1000 ? ld * 1e9 : ld;
  else if (ld !== undefined && ld !== null) throw new SessionError(400, `Request decode failed: json: cannot unmarshal ${typeof ld} into Go struct field Session.LockDelay of type time.Duration`);

  const behavior = str('Behavior') || 'release';
  if (behavior !== 'release' && behavior !== 'delete') throw new SessionError(500, `Invalid Behavior setting '${behavior}'`);
  const ttl = str('TTL');
  let ttlMs = 0;
  if (ttl !== '') {
    try {
      ttlMs = parseDuration(ttl);
    } catch (err) {
      if (err instanceof DurationError) throw new SessionError(500, `Session TTL '${ttl}' invalid: ${err.message}`);
      throw err;
    }
    if (ttlMs !== 0 && (ttlMs < SESSION_TTL_MIN_MS || ttlMs > SESSION_TTL_MAX_MS)) {
      throw new SessionError(500, `Invalid Session TTL '${Math.round(ttlMs * 1e6)}', must be between [10s=24h0m0s]`);
    }
  }
  const node = str('Node') || nodeName;
  if (node !== nodeName) throw new SessionError(500, 'Missing node registration');

  const legacy = strList('Checks');
  let nodeChecks = strList('NodeChecks');
  let serviceChecks: SessionRecord['ServiceChecks'] = null;
  if ('ServiceChecks' in body && body.ServiceChecks !== null) {
    const v = body.ServiceChecks;
    if (!Array.isArray(v)) throw new SessionError(400, `Request decode failed: json: cannot unmarshal ${typeof v} into Go struct field Session.ServiceChecks of type []structs.ServiceCheck`);
    serviceChecks = v.map((x) => {
      const o = canonicalKeys((x ?? {}) as Record<string, unknown>, ['ID', 'Namespace']);
      return { ID: typeof o.ID === 'string' ? o.ID : '', Namespace: typeof o.Namespace === 'string' ? o.Namespace : '' };
    });
  }
  if (nodeChecks === undefined) {
    // Without NodeChecks: the node-level checks of a legacy Checks list, else serfHealth.
    nodeChecks = legacy === undefined || legacy === null ? [SERF_CHECK] : legacy.filter((c) => c === SERF_CHECK || (state.checks.has(c) && !state.checks.get(c)!.ServiceID));
  }
  const all = [...new Set([...(legacy ?? []), ...(nodeChecks ?? []), ...(serviceChecks ?? []).map((c) => c.ID)])];
  for (const id of all) {
    if (id === SERF_CHECK) continue;
    const c = state.checks.get(id);
    if (!c) throw new SessionError(500, `Missing check '${id}' registration`);
    if (c.Status === 'critical') throw new SessionError(500, `Check '${id}' is in critical state`);
  }
  return {
    ID: randomUUID(),
    Name: str('Name'),
    Node: node,
    LockDelayNs: lockDelayNs,
    Behavior: behavior as SessionBehavior,
    TTL: ttl,
    ttlMs,
    NodeChecks: nodeChecks,
    ServiceChecks: serviceChecks,
    Checks: legacy && legacy.length ? legacy : null,
  };
}

/** Invalidates sessions whose TTL ran out (TTL × 2 after creation or the last renewal). */
export class SessionTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly state: RegistryState) {
    // After a restart every TTL starts over, as on a new Consul leader.
    for (const s of state.sessions.values()) this.arm(s.ID);
  }

  /** (Re)starts the session's TTL timer; no-op for a session without TTL. */
  arm(id: string): void {
    const s = this.state.sessions.get(id);
    const old = this.timers.get(id);
    if (old) clearTimeout(old);
    this.timers.delete(id);
    if (!s || s.ttlMs <= 0) return;
    const t = setTimeout(() => {
      this.timers.delete(id);
      this.state.destroySession(id);
    }, s.ttlMs * SESSION_TTL_MULTIPLIER);
    t.unref();
    this.timers.set(id, t);
  }

  forget(id: string): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
