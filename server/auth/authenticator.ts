/**
 * Who is calling: a Bearer token (scripts, SDK clients) or a browser session cookie, else the
 * configured anonymous role. Tokens are random and long, so a SHA-256 digest compared in
 * constant time is enough; passwords are chosen by people, so they are held as scrypt hashes.
 * Sessions live in memory (a restart signs browsers out) and each carries a CSRF token the
 * browser must echo on changes.
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { IncomingMessage } from 'node:http';
import type { Role } from '../config/configSchema';

export interface Principal {
  name: string;
  role: Role;
  /** How the caller proved who it is; cookie callers need an Origin check on unsafe methods. */
  via: 'bearer' | 'session' | 'anonymous';
}

const RANK: Record<Role, number> = { client: 0, viewer: 1, operator: 2, admin: 3 };
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export function hasRole(principal: Principal | null, needed: Role): boolean {
  return principal !== null && RANK[principal.role] >= RANK[needed];
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

export interface AuthenticatorOptions {
  users: readonly UserCredential[];
  anonymousRole: Role | null;
  /** @default 12 h */
  sessionTtlMs?: number;
  now?: () => number;
}

export class Authenticator {
  private readonly users: { name: string; role: Role; digest: Buffer | null; password: { salt: Buffer; hash: Buffer } | null }[];
  private readonly sessions = new Map<string, SessionInfo & { expiresAt: number }>();
  private readonly ttl: number;
  private readonly now: () => number;
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
    this.now = options.now ?? Date.now;
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
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    this.sessions.set(id, { ...user, csrfToken, expiresAt: this.now() + this.ttl });
    return { id, csrfToken };
  }

  /** The live session behind a request's cookie, if any. */
  session(req: Pick<IncomingMessage, 'headers'>): SessionInfo | null {
    const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
    const s = sid ? this.sessions.get(sid) : undefined;
    if (!s || s.expiresAt <= this.now()) return null;
    return { name: s.name, role: s.role, csrfToken: s.csrfToken };
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

  endSession(id: string): void {
    this.sessions.delete(id);
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
    if (sid) {
      const s = this.sessions.get(sid);
      if (s && s.expiresAt > this.now()) return { name: s.name, role: s.role, via: 'session' };
      if (s) this.sessions.delete(sid);
    }
    return this.anonymousRole ? { name: 'anonymous', role: this.anonymousRole, via: 'anonymous' } : null;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
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
