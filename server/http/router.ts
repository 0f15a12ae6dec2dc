/**
 * The one HTTP router: route modules declare method, path and the permission they need; the
 * router parses the request target without throwing, authenticates, enforces the permission
 * (the same table REST, WebSocket, gateway and telemetry use), refuses cross-site changes, and
 * answers every error through HttpError. Every request it claims is answered exactly once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { rolesWith, type Permission } from '../../protocol/api';
import { type Authenticator, CSRF_HEADER, type Principal, allows, sameOrigin } from '../auth/authenticator';
import type { Logger } from '../log';
import { drainBody } from './bodyReader';
import { HttpError, toHttpError } from './httpError';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Decoded path parameters (capture groups). */
  params: string[];
  path: string;
  query: URLSearchParams;
  /** The caller; for public routes whoever they are (possibly `null`: nobody). */
  principal: Principal | null;
}

export interface Route {
  /** `*`: any method (the gateway). */
  method: Method | '*';
  path: RegExp;
  /** null: public (probes, sign-in). */
  permission: Permission | null;
  /** Only Bearer callers, never a cookie or anonymous access (the gateway: not an open proxy). */
  bearerOnly?: boolean;
  handler(ctx: RequestContext): Promise<void> | void;
}

export interface RouterOptions {
  auth: Authenticator;
  logger: Logger;
  /** Path prefixes (and exact paths) this router owns; anything else is left to the fallback. */
  owns: (path: string) => boolean;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The path and query of a request target, or null if it is not an origin-form target. Never throws. */
export function parseTarget(url: string | undefined): { path: string; query: URLSearchParams } | null {
  if (!url || !url.startsWith('/')) return null;
  const q = url.indexOf('?');
  const raw = q === -1 ? url : url.slice(0, q);
  const hash = raw.indexOf('#');
  const path = hash === -1 ? raw : raw.slice(0, hash);
  // Control characters and backslashes (which browsers read as `/`) are not paths anyone routes.
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c) return null;
  }
  return { path, query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)) };
}

export function createRouter(routes: readonly Route[], options: RouterOptions) {
  const { auth, logger } = options;

  /** Handles the request if it is ours; returns false to let the fallback (Next) serve it. */
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const target = parseTarget(req.url);
    if (!target) {
      // Nobody downstream gets a target we cannot parse ourselves.
      const answer = new HttpError('bad_request', 'malformed request target');
      if (!(await drainBody(req))) answer.headers.connection = 'close';
      sendError(res, answer, logger);
      return true;
    }
    if (!options.owns(target.path)) return false;
    try {
      const matching = routes.filter((r) => r.path.test(target.path));
      if (matching.length === 0) throw new HttpError('not_found', `no such endpoint: ${target.path}`);
      const route = matching.find((r) => r.method === req.method || r.method === '*');
      if (!route) throw new HttpError('method_not_allowed', `${req.method} is not allowed on ${target.path}`, { headers: { allow: matching.map((r) => r.method).join(', ') } });
      const params = (route.path.exec(target.path) ?? []).slice(1).map((p) => safeDecode(p ?? ''));
      const principal = await authorize(route, req);
      await route.handler({ req, res, params, path: target.path, query: target.query, principal });
    } catch (err) {
      if (!(err instanceof HttpError)) logger.error({ err, url: req.url, method: req.method }, 'request failed');
      const answer = toHttpError(err);
      // An early answer must reach the client: read what is left of the body first (bounded).
      if (!res.headersSent && !(await drainBody(req))) answer.headers.connection = 'close';
      sendError(res, answer, logger);
    }
    return true;
  };

  async function authorize(route: Route, req: IncomingMessage): Promise<Principal | null> {
    const found = await auth.authenticate(req);
    const unsafe = !SAFE.has(req.method ?? 'GET');
    if (route.permission === null) {
      // Public changes (sign-in, sign-out) are still ours alone to make from a browser.
      if (unsafe && req.headers.origin !== undefined && !sameOrigin(req)) throw new HttpError('forbidden', 'cross-origin request refused');
      return found === 'invalid' ? null : found;
    }
    if (found === 'invalid') throw new HttpError('unauthorized', 'invalid token');
    if (found === null) throw new HttpError('unauthorized', 'sign in required');
    if (route.bearerOnly && found.via !== 'bearer') throw new HttpError('unauthorized', `this endpoint needs Authorization: Bearer <token> (role ${rolesWith(route.permission).join(' or ')})`);
    if (!allows(found, route.permission)) {
      const [least, ...others] = rolesWith(route.permission);
      const also = others.length ? `, also held by ${others.join(', ')}` : '';
      throw new HttpError('forbidden', `role ${least} required for ${route.permission}${also} (you are ${found.name}, ${found.role})`);
    }
    if (unsafe && found.via !== 'bearer') {
      // A browser must not be usable from another site's page to change anything: the Origin
      // must be ours (browsers always send it on cross-site writes), and a session must also
      // echo its CSRF token.
      if (found.via === 'session' && !sameOrigin(req)) throw new HttpError('forbidden', 'cross-origin request refused');
      if (found.via === 'anonymous' && req.headers.origin !== undefined && !sameOrigin(req)) throw new HttpError('forbidden', 'cross-origin request refused');
      if (found.via === 'session' && !(await auth.csrfOk(req))) throw new HttpError('forbidden', `missing or wrong ${CSRF_HEADER} header (get it from GET /api/session)`);
    }
    return found;
  }
}

/** A JSON answer. The type is the schema's input, so a handler cannot drift from protocol/api.ts. */
export function reply<S extends z.ZodType>(res: ServerResponse, status: number, _schema: S, body: z.input<S>, headers: Record<string, string> = {}): void {
  sendJson(res, status, body, headers);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** Answers once; if an answer is already under way, the connection is cut so the caller sees it failed. */
export function sendError(res: ServerResponse, err: HttpError, logger?: Logger): void {
  if (res.headersSent || res.writableEnded) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  try {
    sendJson(res, err.status, { error: err.message, ...err.body }, err.headers);
  } catch (e) {
    logger?.warn({ err: e }, 'could not send an error answer');
    res.destroy();
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError('bad_request', `malformed URL component: ${s}`);
  }
}
