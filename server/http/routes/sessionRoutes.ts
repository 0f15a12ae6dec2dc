/**
 * Sign-in, sign-out, who am I, and the user list. Sign-in is throttled per address and per user
 * (429 with Retry-After); the cookie is Secure whenever the browser reached us over HTTPS. With
 * `session.secret` the cookie is the whole session (any replica with the secret reads it, CSRF
 * token included); without, it names a session held in this process.
 */
import type { IncomingMessage } from 'node:http';
import { SessionResponse, SignInBody, SignInResponse, SignOutResponse, UsersResponse } from '../../../protocol/api';
import { type Authenticator, SESSION_COOKIE, clientAddress, viaHttps } from '../../auth/authenticator';
import type { SignInLimiter } from '../../auth/signInLimiter';
import { readJson } from '../bodyReader';
import { HttpError } from '../httpError';
import { reply, type Route } from '../router';

export interface SessionRouteDeps {
  auth: Authenticator;
  limiter: SignInLimiter;
  /** Believe X-Forwarded-Proto/-For from a reverse proxy. */
  trustProxy: boolean;
  sessionTtlMs: number;
  bodyBytes: number;
}

export function sessionRoutes(deps: SessionRouteDeps): Route[] {
  const { auth, limiter } = deps;
  const cookie = (req: IncomingMessage, value: string, maxAgeS: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${viaHttps(req, deps.trustProxy) ? '; Secure' : ''}`;
  return [
    {
      method: 'GET',
      path: /^\/api\/session$/,
      permission: null,
      handler: async ({ req, res, principal }) => {
        const user = principal && principal.via !== 'anonymous' ? { name: principal.name, role: principal.role } : null;
        // The CSRF token is readable by our own pages only (same-origin fetch), never by other sites.
        const csrfToken = principal?.via === 'session' ? ((await auth.session(req))?.csrfToken ?? null) : null;
        reply(res, 200, SessionResponse, { user, anonymousRole: auth.anonymousRole, csrfToken, passwordSignIn: auth.listUsers().some((u) => u.password) });
      },
    },
    {
      method: 'POST',
      path: /^\/api\/session$/,
      permission: null,
      handler: async ({ req, res }) => {
        const body = await readJson(req, SignInBody, { limit: deps.bodyBytes });
        const name = 'name' in body ? body.name : null;
        const admission = limiter.admit(clientAddress(req, deps.trustProxy), name);
        if (!admission.ok) throw new HttpError('too_many_requests', `${admission.why}; retry in ${admission.retryAfterS} s`, { headers: { 'retry-after': String(admission.retryAfterS) } });
        let user: { name: string; role: SignInResponse['user']['role'] } | null = null;
        try {
          user = 'token' in body ? auth.userForToken(body.token) : await auth.userForPassword(body.name, body.password);
        } finally {
          admission.release(user !== null);
        }
        if (!user) throw new HttpError('unauthorized', 'token' in body ? 'unknown token' : 'wrong name or password');
        const session = await auth.createSession(user);
        reply(res, 200, SignInResponse, { user, csrfToken: session.csrfToken }, { 'set-cookie': cookie(req, session.cookie, Math.floor(deps.sessionTtlMs / 1000)) });
      },
    },
    {
      method: 'DELETE',
      path: /^\/api\/session$/,
      permission: null,
      handler: async ({ req, res }) => {
        await auth.signOut(req);
        reply(res, 200, SignOutResponse, { user: null }, { 'set-cookie': cookie(req, '', 0) });
      },
    },
    { method: 'GET', path: /^\/api\/users$/, permission: 'admin', handler: ({ res }) => reply(res, 200, UsersResponse, { users: auth.listUsers() }) },
  ];
}
