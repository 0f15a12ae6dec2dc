/**
 * The JSON API, /healthz, /readyz and /metrics. Handlers stay thin: parse, authorize, call
 * the store. Every 4xx body is `{ "error": "…" }` naming the problem.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { healthCounts, serviceId } from '../../protocol/model';
import { type Authenticator, CSRF_HEADER, type Principal, SESSION_COOKIE, hasRole, readCookie, sameOrigin } from '../auth/authenticator';
import type { Role } from '../config/configSchema';
import type { Metrics } from '../metrics';
import { TelemetryReport } from '../../protocol/telemetry';
import { drainId } from '../../protocol/traffic';
import type { TelemetryStore } from '../telemetry/telemetryStore';
import type { TopologyStore } from '../topology/topologyStore';
import { PolicyChange } from '../traffic/trafficPolicy';
import type { TrafficError, TrafficResult, TrafficService } from '../traffic/trafficService';

export interface ApiRouterDeps {
  store: TopologyStore;
  auth: Authenticator;
  metrics: Metrics;
  /** Readiness beyond the store (e.g. Next prepared). @default () => true */
  extraReady?: () => boolean;
  /** Mark the session cookie Secure (when served over TLS). @default false */
  secureCookies?: boolean;
  /** Traffic control; without it the traffic endpoints answer 404. */
  traffic?: TrafficService;
  /** SDK client reports (breakers, request counters); without it those endpoints answer 404. */
  telemetry?: TelemetryStore;
  now?: () => number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], principal: Principal) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  /** null = public (probes). Anything above viewer changes traffic: Origin-checked for browser sessions. */
  role: Role | null;
  handler: Handler;
}

const MAX_BODY = 64 * 1024;
const SignInBody = z.union([
  z.strictObject({ token: z.string().min(1, 'token must not be empty') }),
  z.strictObject({ name: z.string().min(1, 'name must not be empty'), password: z.string().min(1, 'password must not be empty') }),
], { error: 'send { "token" } or { "name", "password" }' });
const FlipBody = z.strictObject({ reason: z.string().max(500).optional(), force: z.boolean().optional() });
const RollbackBody = z.strictObject({ id: z.string().min(1, 'id of a history entry is required'), force: z.boolean().optional() });
const SERVICE = String.raw`\/api\/services\/([^/]+)\/([^/]+)\/([^/]+)`;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createApiRouter(deps: ApiRouterDeps) {
  const { store, auth, metrics } = deps;
  const anonymous: Principal = { name: 'anonymous', role: 'viewer', via: 'anonymous' };

  const routes: Route[] = [
    { method: 'GET', pattern: /^\/healthz$/, role: null, handler: (_q, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      pattern: /^\/readyz$/,
      role: null,
      handler: (_q, res) => {
        const pending = store.sources().filter((s) => s.state === 'syncing').map((s) => s.id);
        const ready = pending.length === 0 && (deps.extraReady?.() ?? true);
        sendJson(res, ready ? 200 : 503, ready ? { status: 'ready' } : { status: 'not ready', waitingFor: pending });
      },
    },
    {
      method: 'GET',
      pattern: /^\/metrics$/,
      role: null,
      handler: async (_q, res) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(await metrics.registry.metrics());
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/topology$/,
      role: 'viewer',
      // `?view=summary`: every service's header and counts without instances (what the list shows).
      handler: (req, res) => sendJson(res, 200, new URL(req.url ?? '/', 'http://x').searchParams.get('view') === 'summary' ? store.summarySnapshot() : store.snapshot()),
    },
    { method: 'GET', pattern: /^\/api\/sources$/, role: 'viewer', handler: (_q, res) => sendJson(res, 200, { sources: store.sources() }) },
    {
      method: 'GET',
      pattern: /^\/api\/services\/([^/]+)\/([^/]+)\/([^/]+)$/,
      role: 'viewer',
      handler: (_q, res, [source, scope, name]) => {
        const id = serviceId(source!, scope!, name!);
        const service = store.service(id);
        if (!service) throw new HttpError(404, `service "${id}" not found`);
        const status = store.source(service.sourceId) ?? null;
        // DNS answers carry no health: show where else each address:port is registered, with that health.
        const links = status?.kind === 'dns' ? Object.fromEntries(service.instances.map((i) => [i.id, store.instancesAt(i.address, i.port, id)])) : {};
        sendJson(res, 200, { service, counts: healthCounts(service.instances), source: status, links });
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/session$/,
      role: null,
      handler: (req, res) => {
        const p = auth.authenticate(req);
        const user = p && p !== 'invalid' && p.via !== 'anonymous' ? { name: p.name, role: p.role } : null;
        // The CSRF token is readable by our own pages only (same-origin fetch), never by other sites.
        sendJson(res, 200, { user, anonymousRole: auth.anonymousRole, csrfToken: p && p !== 'invalid' && p.via === 'session' ? auth.session(req)?.csrfToken ?? null : null });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/session$/,
      role: null,
      handler: async (req, res) => {
        if (req.headers.origin && !sameOrigin(req)) throw new HttpError(403, 'cross-origin sign-in refused');
        const body = SignInBody.safeParse(await readJson(req));
        if (!body.success) throw new HttpError(400, body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
        const user = 'token' in body.data ? auth.userForToken(body.data.token) : await auth.userForPassword(body.data.name, body.data.password);
        if (!user) throw new HttpError(401, 'token' in body.data ? 'unknown token' : 'wrong name or password');
        const session = auth.createSession(user);
        res.setHeader('set-cookie', sessionCookie(session.id, deps.secureCookies ?? false));
        sendJson(res, 200, { user, csrfToken: session.csrfToken });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/api\/session$/,
      role: null,
      handler: (req, res) => {
        if (req.headers.origin && !sameOrigin(req)) throw new HttpError(403, 'cross-origin sign-out refused');
        const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
        if (sid) auth.endSession(sid);
        res.setHeader('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
        sendJson(res, 200, { user: null });
      },
    },
    { method: 'GET', pattern: /^\/api\/users$/, role: 'admin', handler: (_q, res) => sendJson(res, 200, { users: auth.listUsers() }) },
    ...trafficRoutes(deps.traffic),
    ...telemetryRoutes(deps),
  ];

  /** Handles the request if it is ours; returns false to let Next serve it. */
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const isOurs = path.startsWith('/api/') || path === '/healthz' || path === '/readyz' || path === '/metrics';
    if (!isOurs) return false;
    try {
      const matching = routes.filter((r) => r.pattern.test(path));
      if (matching.length === 0) throw new HttpError(404, `no such endpoint: ${path}`);
      const route = matching.find((r) => r.method === req.method);
      if (!route) {
        res.setHeader('allow', matching.map((r) => r.method).join(', '));
        throw new HttpError(405, `${req.method} is not allowed on ${path}`);
      }
      const params = (route.pattern.exec(path) ?? []).slice(1).map((p) => safeDecode(p));
      let principal: Principal = anonymous;
      if (route.role) {
        const p = auth.authenticate(req);
        if (p === 'invalid') throw new HttpError(401, 'invalid token');
        if (!p) throw new HttpError(401, 'sign in required');
        if (!hasRole(p, route.role)) throw new HttpError(403, `role ${route.role} required (you are ${p.name}, ${p.role})`);
        // A browser session must not be usable from another site's page to change traffic:
        // the Origin must be ours and the request must carry the session's CSRF token.
        if (route.method !== 'GET' && p.via === 'session') {
          if (!sameOrigin(req)) throw new HttpError(403, 'cross-origin request refused');
          if (!auth.csrfOk(req)) throw new HttpError(403, `missing or wrong ${CSRF_HEADER} header (get it from GET /api/session)`);
        }
        principal = p;
      }
      await route.handler(req, res, params, principal);
    } catch (err) {
      if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
      else {
        sendJson(res, 500, { error: 'internal error' });
        throw err;
      }
    }
    return true;
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function sessionCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(id)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${12 * 3600}${secure ? '; Secure' : ''}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, `malformed URL component: ${s}`);
  }
}

async function readJson(req: IncomingMessage, optional = false): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (type && !type.includes('application/json')) throw new HttpError(415, 'content-type must be application/json');
  if (!type && !optional) throw new HttpError(415, 'content-type must be application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  // Endpoints whose body is all optional (flip) accept an empty one.
  if (optional && text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Traffic control endpoints (DESIGN.md REST). `If-Match: <ModifyIndex>` makes a write conditional. */
function trafficRoutes(traffic: TrafficService | undefined): Route[] {
  if (!traffic) return [];
  const id = (p: string[]) => serviceId(p[0]!, p[1]!, p[2]!);
  const ifMatch = (req: IncomingMessage) => {
    const h = req.headers['if-match'];
    if (h === undefined) return undefined;
    const n = Number(String(h).replace(/"/g, ''));
    if (!Number.isInteger(n) || n < 0) throw new HttpError(400, `If-Match: expected the policy's modifyIndex (an integer), got ${h}`);
    return n;
  };
  // A registry that refuses or fails (Consul ACL, Kubernetes RBAC, an outage) is reported, not a 500.
  const reply = async <T>(res: ServerResponse, work: Promise<TrafficResult<T>>) => {
    let r: TrafficResult<T>;
    try {
      r = await work;
    } catch (err) {
      r = { ok: false, error: { code: 'registry', message: (err as Error).message } };
    }
    if (r.ok) sendJson(res, 200, r.value);
    else sendTrafficError(res, r.error);
  };
  return [
    { method: 'GET', pattern: new RegExp(`^${SERVICE}\\/traffic$`), role: 'viewer', handler: (_q, res, p) => reply(res, traffic.view(id(p))) },
    { method: 'GET', pattern: new RegExp(`^${SERVICE}\\/traffic\\/history$`), role: 'viewer', handler: (_q, res, p) => reply(res, traffic.history(id(p))) },
    {
      method: 'PUT',
      pattern: new RegExp(`^${SERVICE}\\/traffic$`),
      role: 'operator',
      handler: async (req, res, p, who) => {
        const body = PolicyChange.safeParse(await readJson(req));
        if (!body.success) throw new HttpError(400, describe(body.error));
        await reply(res, traffic.change(id(p), body.data, who.name, ifMatch(req)));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^${SERVICE}\\/traffic\\/flip$`),
      role: 'operator',
      handler: async (req, res, p, who) => {
        const body = FlipBody.safeParse(await readJson(req, true));
        if (!body.success) throw new HttpError(400, describe(body.error));
        await reply(res, traffic.flip(id(p), who.name, { ...body.data, ifMatch: ifMatch(req) }));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^${SERVICE}\\/traffic\\/enable$`),
      role: 'operator',
      handler: (_q, res, p, who) => reply(res, traffic.enable(id(p), who.name)),
    },
    {
      method: 'POST',
      pattern: new RegExp(`^${SERVICE}\\/traffic\\/rollback$`),
      role: 'operator',
      handler: async (req, res, p, who) => {
        const body = RollbackBody.safeParse(await readJson(req));
        if (!body.success) throw new HttpError(400, describe(body.error));
        await reply(res, traffic.rollback(id(p), body.data.id, who.name, body.data));
      },
    },
  ];
}

/** SDK clients report here (role client is enough); the dashboard reads the series back. */
function telemetryRoutes(deps: ApiRouterDeps): Route[] {
  const { telemetry, store } = deps;
  if (!telemetry) return [];
  const now = deps.now ?? Date.now;
  return [
    {
      method: 'POST',
      pattern: /^\/api\/telemetry$/,
      role: 'client',
      handler: async (req, res) => {
        const body = TelemetryReport.safeParse(await readJson(req));
        if (!body.success) throw new HttpError(400, describe(body.error));
        telemetry.ingest(body.data, now());
        store.setBreakers(body.data.service, telemetry.breakerViews(body.data.service));
        res.writeHead(204).end();
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^${SERVICE}\\/telemetry$`),
      role: 'viewer',
      handler: (_q, res, [source, scope, name]) => {
        const id = serviceId(source!, scope!, name!);
        const service = store.service(id);
        if (!service) throw new HttpError(404, `service "${id}" not found`);
        const t = now();
        sendJson(res, 200, {
          service: telemetry.points(service.name, null, t),
          instances: Object.fromEntries(service.instances.map((i) => [i.id, telemetry.points(service.name, drainId(i.id), t)])),
          reporters: telemetry.reporters(service.name),
        });
      },
    },
  ];
}

function sendTrafficError(res: ServerResponse, e: TrafficError): void {
  switch (e.code) {
    case 'not_found':
      return sendJson(res, 404, { error: e.message });
    case 'invalid':
      return sendJson(res, 400, { error: e.message });
    case 'guardrail':
      return sendJson(res, 422, { error: e.message });
    case 'conflict':
      return sendJson(res, 409, { error: e.message, current: e.current });
    case 'registry':
      return sendJson(res, 502, { error: `the registry refused: ${e.message}` });
  }
}

function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}
