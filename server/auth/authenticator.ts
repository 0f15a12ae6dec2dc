/**
 * Who is calling: a Bearer token (scripts, SDK clients) or a browser session cookie, else the
 * configured anonymous role. Tokens are random and long, so a SHA-256 digest compared in
 * constant time is enough; passwords are chosen by people, so they are held as scrypt hashes.
 * Sessions live in memory (a restart signs browsers out), each carries a CSRF token the browser
 * must echo on changes, their number is bounded, and expired ones are reaped on a timer; every
 * session that ends (sign-out, expiry, eviction) is announced so its WebSockets can be closed.
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { IncomingMessage } from 'node:http';
import { can, type Permission, type Role } from '../../protocol/api';

export interface Principal {
  name: string;
  role: Role;
  /** How the caller proved who it is; cookie callers need an Origin check on unsafe methods. */
  via: 'bearer' | 'session' | 'anonymous';
  /** The session behind a cookie caller, so its sockets can be closed when it ends. */
  sessionId?: string;
}

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/** Whether the caller holds `permission`: exactly its role's set (protocol/api.ts), nothing inherited. */
export function allows(principal: Principal | null | 'invalid', permission: Permission): boolean {
  return principal !== null && principal !== 'invalid' && can(principal.role, permission);
}

export const SESSION_COOKIE = 'sb_session';

export interface UserCredential {
  name: string;
  role: Role;
  token?: string;
  /** Hex SHA-256 of the token, when only the hash is kept (the first-start admin credential). */
  tokenSha256?: string;
  password?: string;
}

export interface SessionInfo {
  name: string;
  role: Role;
  csrfToken: string;
}

export const CSRF_HEADER = 'x-csrf-token';

/** Why a session ended, for the sockets it had open. */
export type SessionEnd = 'signed out' | 'expired' | 'evicted';

export interface AuthenticatorOptions {
  users: readonly UserCredential[];
  anonymousRole: Role | null;
  /** @default 12 h */
  sessionTtlMs?: number;
  /** Live sessions at most; the oldest is ended to make room. @default 10000 (config `limits.sessions`) */
  maxSessions?: number;
  /** How often expired sessions are removed. @default 60 s */
  reapEveryMs?: number;
  now?: () => number;
}

interface StoredSession extends SessionInfo {
  expiresAt: number;
}

export class Authenticator {
  private readonly users: { name: string; role: Role; digest: Buffer | null; password: { salt: Buffer; hash: Buffer } | null }[];
  /** Insertion order is creation order: the first entry is the oldest session. */
  private readonly sessions = new Map<string, StoredSession>();
  private readonly ended = new Set<(sessionId: string, why: SessionEnd) => void>();
  private readonly ttl: number;
  private readonly maxSessions: number;
  private readonly now: () => number;
  private readonly reaper: NodeJS.Timeout;
  readonly anonymousRole: Role | null;

  constructor(options: AuthenticatorOptions) {
    this.users = options.users.map((u) => {
      const salt = randomBytes(16);
      return {
        name: u.name,
        role: u.role,
        digest: u.tokenSha256 ? Buffer.from(u.tokenSha256, 'hex') : u.token ? digest(u.token) : null,
        // Hashed at start so the plain password is not kept around in memory longer than needed.
        password: u.password ? { salt, hash: scryptSync(u.password, salt, 32) } : null,
      };
    });
    this.anonymousRole = options.anonymousRole;
    this.ttl = options.sessionTtlMs ?? 12 * 3600_000;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.now = options.now ?? Date.now;
    this.reaper = setInterval(() => this.reap(), options.reapEveryMs ?? 60_000);
    this.reaper.unref();
  }

  /** Live sessions (for /metrics). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Called for every session that ends; returns an unsubscribe function. */
  onSessionEnd(listener: (sessionId: string, why: SessionEnd) => void): () => void {
    this.ended.add(listener);
    return () => this.ended.delete(listener);
  }

  /** The user owning `token`, or null. */
  userForToken(token: string): { name: string; role: Role } | null {
    const d = digest(token);
    let found: { name: string; role: Role } | null = null;
    // No early exit: every comparison runs so timing does not reveal which user matched.
    for (const u of this.users) if (u.digest && timingSafeEqual(u.digest, d)) found = { name: u.name, role: u.role };
    return found;
  }

  /** The user if `password` is theirs, or null (same cost whether or not the name exists). */
  async userForPassword(name: string, password: string): Promise<{ name: string; role: Role } | null> {
    const u = this.users.find((x) => x.name === name && x.password);
    const salt = u?.password?.salt ?? randomBytes(16);
    const hash = await scryptAsync(password, salt, 32);
    return u?.password && timingSafeEqual(u.password.hash, hash) ? { name: u.name, role: u.role } : null;
  }

  listUsers(): { name: string; role: Role; token: boolean; password: boolean }[] {
    return this.users.map((u) => ({ name: u.name, role: u.role, token: u.digest !== null, password: u.password !== null }));
  }

  createSession(user: { name: string; role: Role }): { id: string; csrfToken: string } {
    if (this.sessions.size >= this.maxSessions) this.reap();
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.end(oldest, 'evicted');
    }
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    this.sessions.set(id, { ...user, csrfToken, expiresAt: this.now() + this.ttl });
    return { id, csrfToken };
  }

  /** The live session behind a request's cookie, if any. */
  session(req: Pick<IncomingMessage, 'headers'>): SessionInfo | null {
    const s = this.live(readCookie(req.headers.cookie, SESSION_COOKIE));
    return s ? { name: s.name, role: s.role, csrfToken: s.csrfToken } : null;
  }

  /** Whether a cookie-authenticated change carries its session's CSRF token. */
  csrfOk(req: Pick<IncomingMessage, 'headers'>): boolean {
    const s = this.session(req);
    const sent = req.headers[CSRF_HEADER];
    if (!s || typeof sent !== 'string') return false;
    const a = Buffer.from(sent);
    const b = Buffer.from(s.csrfToken);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Sign-out: the session ends now, and so do its WebSockets. */
  endSession(id: string): void {
    this.end(id, 'signed out');
  }

  /** Resolves the caller; `invalid` means credentials were presented and are wrong (→ 401, not anonymous). */
  authenticate(req: Pick<IncomingMessage, 'headers'>): Principal | 'invalid' | null {
    const auth = req.headers.authorization;
    if (auth) {
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      const user = m ? this.userForToken(m[1]!.trim()) : null;
      return user ? { ...user, via: 'bearer' } : 'invalid';
    }
    const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
    const s = this.live(sid);
    if (s) return { name: s.name, role: s.role, via: 'session', sessionId: sid! };
    return this.anonymousRole ? { name: 'anonymous', role: this.anonymousRole, via: 'anonymous' } : null;
  }

  /** Removes expired sessions (on a timer, and before evicting a live one). */
  reap(): number {
    const now = this.now();
    let n = 0;
    for (const [id, s] of this.sessions) {
      if (s.expiresAt <= now) {
        this.end(id, 'expired');
        n++;
      }
    }
    return n;
  }

  /** Stops the reaper timer. */
  close(): void {
    clearInterval(this.reaper);
  }

  private live(sid: string | null): StoredSession | null {
    if (!sid) return null;
    const s = this.sessions.get(sid);
    if (!s) return null;
    if (s.expiresAt > this.now()) return s;
    this.end(sid, 'expired');
    return null;
  }

  private end(id: string, why: SessionEnd): void {
    if (!this.sessions.delete(id)) return;
    for (const listener of this.ended) {
      try {
        listener(id, why);
      } catch {
        // A listener's failure must not keep the session alive or break the caller.
      }
    }
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A cookie's value, or null; malformed percent-encoding is "no such cookie", never an exception. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Cookie-authenticated requests that change state (and WebSocket upgrades) must come from our
 * own origin: browsers always send Origin on those, so a cross-site page cannot ride the cookie.
 */
export function sameOrigin(req: Pick<IncomingMessage, 'headers'>): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * Whether the browser reached us over HTTPS: a TLS listener, or (only when configured to trust
 * it) a reverse proxy's `X-Forwarded-Proto: https`. Decides the session cookie's Secure flag.
 */
export function viaHttps(req: Pick<IncomingMessage, 'headers' | 'socket'>, trustProxy: boolean): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  if (!trustProxy) return false;
  const proto = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(proto) ? proto[0] : proto)?.split(',', 1)[0]?.trim().toLowerCase();
  return first === 'https';
}

/** The caller's address: the socket peer, or the proxy's X-Forwarded-For client when trusted. */
export function clientAddress(req: Pick<IncomingMessage, 'headers' | 'socket'>, trustProxy: boolean): string {
  if (trustProxy) {
    const xff = req.headers['x-forwarded-for'];
    const list = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
    // The last hop the proxy appended is the one it saw; earlier entries are the client's say-so.
    if (list.length) return list.at(-1)!;
  }
  return req.socket.remoteAddress ?? 'unknown';
}
