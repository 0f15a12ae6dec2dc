/**
 * Who is calling: a Bearer token (scripts, SDK clients) or a browser session cookie, else the
 * configured anonymous role. Tokens are compared by SHA-256 digest in constant time; sessions
 * live in memory (a restart signs browsers out, which is acceptable for a read-mostly UI).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Role } from '../config/configSchema';

export interface Principal {
  name: string;
  role: Role;
  /** How the caller proved who it is; cookie callers need an Origin check on unsafe methods. */
  via: 'bearer' | 'session' | 'anonymous';
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export function hasRole(principal: Principal | null, needed: Role): boolean {
  return principal !== null && RANK[principal.role] >= RANK[needed];
}

export const SESSION_COOKIE = 'sb_session';

export interface AuthenticatorOptions {
  users: readonly { name: string; role: Role; token: string }[];
  anonymousRole: Role | null;
  /** @default 12 h */
  sessionTtlMs?: number;
  now?: () => number;
}

export class Authenticator {
  private readonly users: { name: string; role: Role; digest: Buffer }[];
  private readonly sessions = new Map<string, { name: string; role: Role; expiresAt: number }>();
  private readonly ttl: number;
  private readonly now: () => number;
  readonly anonymousRole: Role | null;

  constructor(options: AuthenticatorOptions) {
    this.users = options.users.map((u) => ({ name: u.name, role: u.role, digest: digest(u.token) }));
    this.anonymousRole = options.anonymousRole;
    this.ttl = options.sessionTtlMs ?? 12 * 3600_000;
    this.now = options.now ?? Date.now;
  }

  /** The user owning `token`, or null. */
  userForToken(token: string): { name: string; role: Role } | null {
    const d = digest(token);
    let found: { name: string; role: Role } | null = null;
    // No early exit: every comparison runs so timing does not reveal which user matched.
    for (const u of this.users) if (timingSafeEqual(u.digest, d)) found = { name: u.name, role: u.role };
    return found;
  }

  createSession(user: { name: string; role: Role }): string {
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { ...user, expiresAt: this.now() + this.ttl });
    return id;
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
