/**
 * Who is calling: a Bearer token (scripts, SDK clients) or a browser session cookie, else the
 * configured anonymous role. Tokens are random and long, so a SHA-256 digest compared in
 * constant time is enough; passwords are chosen by people, so they are held as scrypt hashes.
 *
 * Browser sessions come in two kinds, chosen by config:
 * - without `session.secret`: held in this process's memory (one replica; a restart signs
 *   browsers out). The cookie is a random id.
 * - with `session.secret`: stateless. The cookie is an encrypted JWT (JWE compact, `dir` +
 *   A256GCM, made and opened by `jose`) carrying the user's name and role, the session's CSRF
 *   token, its id, issued-at and expiry, under a key derived from the secret with HKDF-SHA256.
 *   Every replica holding the same secret accepts it, so a browser that lands on another replica
 *   stays signed in and its CSRF token still works. Encrypted rather than only signed: A256GCM
 *   authenticates (a changed byte is refused), and the CSRF token inside is not readable by
 *   whoever sees the cookie (a proxy log, a support paste). On every request the name, role and
 *   a keyed fingerprint of the user's credentials are checked against this replica's configured
 *   users, so removing a user or changing their role, password or token ends their sessions on
 *   every replica (the config is what replicas share); rotating the secret ends everyone's.
 *   Sign-out deletes the cookie and refuses that session here; with a shared place for sign-outs
 *   (Consul KV, sharedSignOuts.ts) every replica refuses it within a moment, otherwise another
 *   replica accepts a copy of the cookie until it expires (`session.ttlHours`) — the browser
 *   itself has dropped it.
 *
 * Either way each session carries a CSRF token the browser must echo on changes, the sessions a
 * replica tracks are bounded, expired ones are reaped on a timer, and every session that ends
 * here (sign-out, expiry, eviction) is announced so its WebSockets can be closed.
 */
import { createHash, createHmac, hkdfSync, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { IncomingMessage } from 'node:http';
import { EncryptJWT, jwtDecrypt } from 'jose';
import { z } from 'zod';
import { can, Role as RoleSchema, type Permission, type Role } from '../../protocol/api';
import { sessionSecretProblem } from '../config/configSchema';
import type { SharedSignOuts } from './sharedSignOuts';

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
  /**
   * `session.secret`: sessions become stateless encrypted cookies that every replica holding the
   * same secret accepts. null/absent: sessions live in this process's memory. Throws if shorter
   * than 32 bytes (config validation says so first, naming the field).
   */
  sessionSecret?: string | null;
  /**
   * Stateless sessions: where sign-outs reach every replica (Consul KV). Without it a sign-out
   * holds on this replica only, and a copy of the cookie works elsewhere until it expires.
   */
  sharedSignOuts?: SharedSignOuts | null;
  /** Where a failure to share a sign-out is reported. */
  onError?: (message: string) => void;
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

/** A session a request's cookie stands for, once checked. */
interface ResolvedSession extends StoredSession {
  id: string;
}

const ISSUER = 'switchboard';
const AUDIENCE = 'switchboard:session';
const ALG = { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] };

/** What a stateless cookie must carry besides the registered claims jose checks. */
const SessionClaims = z.object({
  sub: z.string().min(1).max(256),
  role: RoleSchema,
  csrf: z.string().min(16).max(128),
  jti: z.string().min(16).max(128),
  exp: z.number(),
  /** The user's credential fingerprint when the session began (see `credential` on users). */
  cred: z.string().min(1).max(64),
});

/** The 256-bit content key for session cookies: HKDF-SHA256 over the configured secret. */
function sessionKey(secret: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'switchboard session cookie', 'sb_session/dir+A256GCM/v1', 32));
}

export class Authenticator {
  private readonly users: { name: string; role: Role; digest: Buffer | null; password: { salt: Buffer; hash: Buffer } | null; credential: string | null }[];
  /** Insertion order is creation order: the first entry is the oldest session. */
  private readonly sessions = new Map<string, StoredSession>();
  private readonly ended = new Set<(sessionId: string, why: SessionEnd) => void>();
  private readonly ttl: number;
  private readonly maxSessions: number;
  private readonly now: () => number;
  private readonly reaper: NodeJS.Timeout;
  /** Stateless mode: the cookie key. null: sessions live in `sessions` only. */
  private readonly key: Uint8Array | null;
  /** Stateless sessions signed out here, refused until they would have expired anyway (id → expiresAt). */
  private readonly revoked = new Map<string, number>();
  /** Per request (its headers object): the cookie's claims, decrypted once however often asked for. */
  private readonly decrypted = new WeakMap<object, Promise<z.infer<typeof SessionClaims> | null>>();
  private readonly shared: SharedSignOuts | null;
  private readonly onError: (message: string) => void;
  readonly anonymousRole: Role | null;

  constructor(options: AuthenticatorOptions) {
    let credentialKey: Buffer | null = null;
    if (options.sessionSecret) {
      const problem = sessionSecretProblem(options.sessionSecret);
      if (problem) throw new Error(`session.secret: ${problem}`);
      this.key = sessionKey(options.sessionSecret);
      credentialKey = Buffer.from(hkdfSync('sha256', Buffer.from(options.sessionSecret, 'utf8'), 'switchboard session cookie', 'sb_session/credential/v1', 32));
    } else {
      this.key = null;
    }
    this.users = options.users.map((u) => {
      const salt = randomBytes(16);
      const tokenDigest = u.tokenSha256 ? Buffer.from(u.tokenSha256, 'hex') : u.token ? digest(u.token) : null;
      return {
        name: u.name,
        role: u.role,
        digest: tokenDigest,
        // Hashed at start so the plain password is not kept around in memory longer than needed.
        password: u.password ? { salt, hash: scryptSync(u.password, salt, 32) } : null,
        // Stateless sessions carry this: a keyed hash of the user's configured credentials, the
        // same on every replica with the same config, so changing a password or token ends them.
        credential: credentialKey
          ? createHmac('sha256', credentialKey).update(JSON.stringify([u.name, u.role, u.password ?? null, tokenDigest?.toString('hex') ?? null])).digest('base64url').slice(0, 22)
          : null,
      };
    });
    this.anonymousRole = options.anonymousRole;
    this.ttl = options.sessionTtlMs ?? 12 * 3600_000;
    this.maxSessions = options.maxSessions ?? 10_000;
    this.now = options.now ?? Date.now;
    this.reaper = setInterval(() => this.reap(), options.reapEveryMs ?? 60_000);
    this.reaper.unref();
    this.onError = options.onError ?? (() => undefined);
    this.shared = this.key ? (options.sharedSignOuts ?? null) : null;
    // A sign-out anywhere: refused here too, and this replica's sockets for it are closed.
    this.shared?.start((signedOut) => {
      for (const [id, expiresAt] of signedOut) {
        if (this.revoked.has(id)) continue;
        this.revoke(id, expiresAt);
        this.end(id, 'signed out');
      }
    });
  }

  /** Where sign-outs are shared with other replicas, or null (this replica only). */
  get sharedSignOuts(): string | null {
    return this.shared?.describe ?? null;
  }

  /** Whether sessions are stateless cookies any replica with the same secret accepts. */
  get stateless(): boolean {
    return this.key !== null;
  }

  /**
   * Live sessions this replica holds (for /metrics). Stateless: those it has seen and not yet
   * seen end, which is per replica — another replica counts the browsers that reach it.
   */
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

  /**
   * A new session for `user`: the cookie value to set (already cookie-safe) and its CSRF token.
   * In memory, the oldest session is ended to make room when `maxSessions` are live.
   */
  async createSession(user: { name: string; role: Role }): Promise<{ id: string; cookie: string; csrfToken: string }> {
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const expiresAt = this.now() + this.ttl;
    if (this.key) {
      const credential = this.users.find((u) => u.name === user.name && u.role === user.role)?.credential;
      if (!credential) throw new Error(`no configured user ${user.name} (${user.role}) to sign in`);
      const cookie = await new EncryptJWT({ role: user.role, csrf: csrfToken, cred: credential })
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
        .setSubject(user.name)
        .setJti(id)
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(Math.floor(this.now() / 1000))
        .setExpirationTime(Math.floor(expiresAt / 1000))
        .encrypt(this.key);
      return { id, cookie, csrfToken };
    }
    this.track(id, { ...user, csrfToken, expiresAt });
    return { id, cookie: encodeURIComponent(id), csrfToken };
  }

  /** The live session behind a request's cookie, if any. */
  async session(req: Pick<IncomingMessage, 'headers'>): Promise<SessionInfo | null> {
    const s = await this.resolve(req);
    return s ? { name: s.name, role: s.role, csrfToken: s.csrfToken } : null;
  }

  /** Whether a cookie-authenticated change carries its session's CSRF token. */
  async csrfOk(req: Pick<IncomingMessage, 'headers'>): Promise<boolean> {
    const s = await this.resolve(req);
    const sent = req.headers[CSRF_HEADER];
    if (!s || typeof sent !== 'string') return false;
    const a = Buffer.from(sent);
    const b = Buffer.from(s.csrfToken);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Sign-out: the session ends now, and so do its WebSockets (on this replica). */
  endSession(id: string): void {
    const s = this.sessions.get(id);
    if (this.key && s) this.revoke(id, s.expiresAt);
    this.end(id, 'signed out');
  }

  /**
   * Sign-out of whatever session the request's cookie names. Stateless: that session is refused
   * here from now on; other replicas accept a copy until it expires (the browser drops its own).
   */
  async signOut(req: Pick<IncomingMessage, 'headers'>): Promise<void> {
    const s = await this.resolve(req);
    if (!s) return;
    if (this.key) this.revoke(s.id, s.expiresAt);
    this.end(s.id, 'signed out');
    if (this.shared) {
      try {
        await this.shared.publish(s.id, s.expiresAt);
      } catch (err) {
        // Signed out here all the same; elsewhere the cookie (which the browser dropped) expires.
        this.onError(`sign-out not shared through ${this.shared.describe}: ${(err as Error).message}`);
      }
    }
  }

  /** Resolves the caller; `invalid` means credentials were presented and are wrong (→ 401, not anonymous). */
  async authenticate(req: Pick<IncomingMessage, 'headers'>): Promise<Principal | 'invalid' | null> {
    const auth = req.headers.authorization;
    if (auth) {
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      const user = m ? this.userForToken(m[1]!.trim()) : null;
      return user ? { ...user, via: 'bearer' } : 'invalid';
    }
    const s = await this.resolve(req);
    if (s) return { name: s.name, role: s.role, via: 'session', sessionId: s.id };
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
    for (const [id, expiresAt] of this.revoked) if (expiresAt <= now) this.revoked.delete(id);
    return n;
  }

  /** Stops the reaper timer and stops following shared sign-outs. */
  close(): void {
    clearInterval(this.reaper);
    void this.shared?.close();
  }

  /** The session a request's cookie stands for, or null. Never throws. */
  private async resolve(req: Pick<IncomingMessage, 'headers'>): Promise<ResolvedSession | null> {
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (!cookie) return null;
    if (!this.key) return this.live(cookie);
    // Decrypted once per request however often it is asked (authenticate, then CSRF, then the route).
    let opened = this.decrypted.get(req.headers);
    if (!opened) {
      opened = this.decrypt(cookie);
      this.decrypted.set(req.headers, opened);
    }
    const claims = await opened;
    if (!claims) return null;
    const expiresAt = claims.exp * 1000;
    if (expiresAt <= this.now() || this.revoked.has(claims.jti)) return null;
    // The user must still exist here with the same role and credentials: removing a user, or
    // changing their role, password or token, ends their sessions on every replica at once.
    if (!this.users.some((u) => u.name === claims.sub && u.role === claims.role && u.credential === claims.cred)) return null;
    if (!this.sessions.has(claims.jti)) this.track(claims.jti, { name: claims.sub, role: claims.role, csrfToken: claims.csrf, expiresAt });
    return { id: claims.jti, name: claims.sub, role: claims.role, csrfToken: claims.csrf, expiresAt };
  }

  /** A stateless cookie's claims, or null if it is not one of ours (tampered, expired, other secret, garbage). */
  private async decrypt(cookie: string): Promise<z.infer<typeof SessionClaims> | null> {
    // Compact JWE is five base64url parts; anything else is not worth handing to the decrypter.
    if (!this.key || cookie.length > 4096 || !/^[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){4}$/.test(cookie)) return null;
    try {
      const { payload } = await jwtDecrypt(cookie, this.key, { ...ALG, issuer: ISSUER, audience: AUDIENCE, requiredClaims: ['exp', 'iat', 'jti', 'sub'], currentDate: new Date(this.now()) });
      const parsed = SessionClaims.safeParse(payload);
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  private live(sid: string): ResolvedSession | null {
    const s = this.sessions.get(sid);
    if (!s) return null;
    if (s.expiresAt > this.now()) return { ...s, id: sid };
    this.end(sid, 'expired');
    return null;
  }

  /** Holds a session (in memory: the session itself; stateless: so its end can be announced), bounded. */
  private track(id: string, session: StoredSession): void {
    if (this.sessions.size >= this.maxSessions) this.reap();
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value as string;
      this.end(oldest, 'evicted');
    }
    this.sessions.set(id, session);
  }

  private revoke(id: string, expiresAt: number): void {
    // Bounded like sessions; forgetting the oldest revocation only matters for a cookie its
    // browser has already deleted, and only until that cookie expires.
    while (this.revoked.size >= this.maxSessions) this.revoked.delete(this.revoked.keys().next().value as string);
    this.revoked.set(id, expiresAt);
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
