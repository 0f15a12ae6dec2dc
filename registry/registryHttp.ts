/**
 * The Consul HTTP API v1 subset that services and clients use, served from RegistryState with
 * Consul 1.8.7's semantics: blocking queries on every read (`index` + `wait`, X-Consul-Index),
 * text/plain errors with Consul's wording, 405 for a wrong method, an empty 404 for unknown
 * routes, and nothing stored half-way on a bad request.
 *
 * Every request is answered and nothing escapes: a Host outside the allow-list gets 403 (a
 * DNS-rebinding page cannot write), a malformed URL 400, a body over the limit 413 without
 * being buffered, and any other failure a 500 naming it. A blocked query waits on the topics
 * its answer depends on, and its body is rendered once per (endpoint, index) for all waiters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { availableParallelism, networkInterfaces } from 'node:os';
import { parseDuration } from './duration';
import { agentServiceJson, checkJson, CONSUL_VERSION, kvText, memberJson, sessionJson, type NodeInfo } from './consulShapes';
import { capOutput, type HealthChecker } from './healthChecker';
import { decodeRegistration, isStatus, RegisterError } from './registerRequest';
import type { CheckStatus } from './registryRecords';
import { TOPIC, type IndexOf, type RegistryState } from './registryState';
import { runTxn, TxnBodyError } from './registryTxn';
import { checkSessionId, decodeSession, SessionError, SessionTimers } from './registrySessions';
import { CHECK_SERVICE_NODE_FIELDS, compileFilter, FilterError as BexprError, filterErrorText, HEALTH_CHECK_FIELDS, NODE_FIELDS, NODE_SERVICE_FIELDS, SERVICE_NODE_FIELDS, type FieldType } from './filter';
import { ALL_STATUSES, FilterError, RegistryViews, statusFilter, type Pred } from './registryViews';

const MAX_KV_VALUE = 512 * 1024;
/** Register and check-update bodies; Consul has no explicit limit, a registration is a few KB. */
const MAX_JSON_BODY = 1024 * 1024;
/** An oversized body is read and dropped up to this many bytes (so the client sees the 413); beyond, the connection is closed. */
const MAX_DRAIN = 8 * 1024 * 1024;
/** Rendered bodies kept for blocked queries, bytes. */
const RESPONSE_CACHE_BYTES = 128 * 1024 * 1024;
const DEFAULT_WAIT_MS = 5 * 60_000;
/** Compiled `?filter=` expressions kept per field set. */
const MAX_COMPILED_FILTERS = 256;
const MAX_WAIT_MS = 10 * 60_000;

/** `key`'s value in `cache` (made and kept when absent), the least recently used dropped past MAX_COMPILED_FILTERS. */
function recentlyUsed<V>(cache: Map<string, V>, key: string, make: () => V): V {
  const value = cache.has(key) ? (cache.get(key) as V) : make();
  cache.delete(key);
  cache.set(key, value);
  if (cache.size > MAX_COMPILED_FILTERS) cache.delete(cache.keys().next().value!);
  return value;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  q: URLSearchParams;
  /** The query string as sent, without `?` (Consul quotes it in some errors). */
  rawQuery: string;
  params: string[];
}

type Reply = { json: unknown } | { encoded: Body } | { raw: Buffer } | { notFound: true };
/** An encoded JSON body: one buffer or chunks written in order. */
interface Body {
  chunks: Buffer[];
  bytes: number;
}
const notFound: Reply = { notFound: true };

type Route = [method: string, pattern: RegExp, handler: (ctx: Ctx) => Promise<void> | void];

/** Query parameters every endpoint takes: `dc` (checked), `token` (no ACLs here), and the consistency modes (every read is consistent). */
const COMMON_PARAMS = ['dc', 'token', 'pretty', 'stale', 'consistent'];
const BLOCKING = ['index', 'wait'];
/**
 * The other parameters each endpoint implements; anything else is refused with 400 naming it,
 * never ignored (`near` is accepted where Consul takes it: with one node the order cannot change).
 */
const ENDPOINT_PARAMS: [method: string, pattern: RegExp, params: string[]][] = [
  ['GET', /^\/v1\/kv\//, ['recurse', 'keys', 'separator', 'raw', ...BLOCKING]],
  ['PUT', /^\/v1\/kv\//, ['cas', 'flags', 'acquire', 'release']],
  ['DELETE', /^\/v1\/kv\//, ['recurse', 'cas']],
  ['PUT', /^\/v1\/agent\/check\/(pass|warn|fail)\//, ['note']],
  ['GET', /^\/v1\/agent\/(services|checks)$/, ['filter']],
  ['GET', /^\/v1\/agent\/members$/, ['wan', 'segment']],
  ['GET', /^\/v1\/catalog\/nodes$/, ['filter', 'node-meta', 'near', ...BLOCKING]],
  ['GET', /^\/v1\/catalog\/node-services\//, ['filter', ...BLOCKING]],
  ['GET', /^\/v1\/catalog\/node\//, BLOCKING],
  ['GET', /^\/v1\/catalog\/services$/, BLOCKING],
  ['GET', /^\/v1\/catalog\/service\//, ['tag', 'filter', 'near', ...BLOCKING]],
  ['GET', /^\/v1\/health\/service\//, ['tag', 'passing', 'filter', 'near', ...BLOCKING]],
  ['GET', /^\/v1\/health\/(checks|state)\//, ['filter', 'near', ...BLOCKING]],
  ['GET', /^\/v1\/health\/node\//, ['filter', ...BLOCKING]],
  ['GET', /^\/v1\/session\/(info|list|node)/, BLOCKING],
  ['GET', /^\/v1\/internal\/ui\/services$/, BLOCKING],
];

/** Refuses a query parameter the endpoint does not implement (400, naming it and what is supported). */
function checkParams(method: string, path: string, q: URLSearchParams): void {
  const own = ENDPOINT_PARAMS.find(([m, re]) => m === method && re.test(path))?.[2] ?? [];
  for (const name of new Set(q.keys())) {
    if (COMMON_PARAMS.includes(name) || own.includes(name)) continue;
    const supported = [...own, ...COMMON_PARAMS].join(', ');
    throw new ApiError(400, `Unsupported query parameter ${JSON.stringify(name)} on ${method} ${path}: the embedded registry does not implement it and refuses it rather than ignore it (supported here: ${supported})`);
  }
}

export interface RegistryHttpDeps {
  state: RegistryState;
  checker: HealthChecker;
  node: NodeInfo;
  /** What /v1/status/leader answers. */
  leaderAddr: string;
  /** Host names (besides loopback and the listen address) requests may carry in `Host`. */
  allowedHosts?: readonly string[];
  /** The address the server listens on; a wildcard also allows this machine's interface addresses. */
  listenHost?: string;
  /** The HTTP port (what /agent/members shows as the member's port). */
  port?: number;
  /** Session TTL timers; created here when not given. */
  sessionTimers?: SessionTimers;
  random?: () => number;
}

/** Host allow-list: loopback names and addresses, the listen address, configured names. */
export function hostAllowed(hostHeader: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (hostHeader === undefined) return true; // HTTP/1.0 without Host: not a browser
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']') === -1 ? undefined : host.indexOf(']'));
  else if (host.lastIndexOf(':') !== -1 && host.indexOf(':') === host.lastIndexOf(':')) host = host.slice(0, host.lastIndexOf(':'));
  host = host.replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4 && host.startsWith('127.')) return true;
  if (host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  return allowed.has(host);
}

function allowedHostSet(deps: RegistryHttpDeps): Set<string> {
  const out = new Set((deps.allowedHosts ?? []).map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')));
  const listen = deps.listenHost?.toLowerCase();
  if (listen) out.add(listen.replace(/^\[|\]$/g, ''));
  if (listen === '0.0.0.0' || listen === '::' || listen === '') {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.toLowerCase());
  }
  return out;
}

/** Rendered bodies by key, one version each, evicted least-recently-used past a byte budget. */
class ResponseCache {
  private readonly entries = new Map<string, { version: string; body: Body }>();
  private bytes = 0;
  constructor(private readonly budget: number) {}
  get(key: string, version: string, render: () => string | Buffer[]): Body {
    const hit = this.entries.get(key);
    if (hit && hit.version === version) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.body;
    }
    if (hit) {
      this.entries.delete(key);
      this.bytes -= hit.body.bytes;
    }
    const rendered = render();
    const chunks = typeof rendered === 'string' ? [Buffer.from(rendered)] : rendered;
    const body = { chunks, bytes: chunks.reduce((n, c) => n + c.length, 0) };
    this.entries.set(key, { version, body });
    this.bytes += body.bytes;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.budget || k === key) break;
      this.entries.delete(k);
      this.bytes -= e.body.bytes;
    }
    return body;
  }
}

export function createRegistryHandler(deps: RegistryHttpDeps) {
  const { state, checker, node } = deps;
  const random = deps.random ?? Math.random;
  const views = new RegistryViews(state, node);
  const cache = new ResponseCache(RESPONSE_CACHE_BYTES);
  const allowedHosts = allowedHostSet(deps);
  const timers = deps.sessionTimers ?? new SessionTimers(state);
  const jsonText = (text: string): Reply => {
    const b = Buffer.from(text);
    return { encoded: { chunks: [b], bytes: b.length } };
  };
  const isNode = (name: string) => name === node.name;
  const startedAt = Date.now();

  /** A JSON body rendered once per (key, version) for every waiter that asks for it. */
  const cached = (key: string, version: number | string, render: () => string | Buffer[]): Reply => ({ encoded: cache.get(key, String(version), render) });

  /** Waits per Consul's blocking rules, then answers with the endpoint's index (never below 1). */
  async function blocking(ctx: Ctx, indexOf: IndexOf, render: () => Reply, topics?: readonly string[]): Promise<void> {
    const indexText = ctx.q.get('index');
    const waitText = ctx.q.get('wait');
    let waitMs = DEFAULT_WAIT_MS;
    if (waitText !== null) {
      try {
        waitMs = parseDuration(waitText);
      } catch {
        throw new ApiError(400, 'Invalid wait time');
      }
    }
    let min = 0;
    if (indexText !== null && indexText !== '') {
      if (!/^\d+$/.test(indexText)) throw new ApiError(400, 'Invalid index');
      min = Number(indexText);
    }
    if (min > 0) {
      const wait = Math.min(waitMs, MAX_WAIT_MS);
      // Consul adds up to wait/16 so that many clients don't return in lockstep.
      const waiting = state.wait(indexOf, min, wait + random() * (wait / 16), topics);
      let closed = false;
      const onClose = () => {
        closed = true;
        waiting.cancel();
      };
      ctx.req.once('close', onClose);
      await waiting.done;
      ctx.req.off('close', onClose);
      if (closed && ctx.res.destroyed) return;
    }
    const index = String(Math.max(1, indexOf()));
    const reply = render();
    ctx.res.setHeader('X-Consul-Index', index);
    if ('encoded' in reply) {
      const { chunks, bytes } = reply.encoded;
      ctx.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': bytes, 'X-Consul-Knownleader': 'true', 'X-Consul-Lastcontact': '0' });
      // Corked: the chunks leave in one writev, without being copied into one body first.
      ctx.res.cork();
      for (const c of chunks) ctx.res.write(c);
      ctx.res.uncork();
      ctx.res.end();
    } else if ('raw' in reply) {
      ctx.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      ctx.res.end(reply.raw);
    } else if ('json' in reply) json(ctx.res, reply.json);
    else {
      // A missing key is an empty 404 that still carries an index, so clients can block on it.
      ctx.res.writeHead(404);
      ctx.res.end();
    }
  }

  function checkDc(q: URLSearchParams): void {
    const dc = q.get('dc');
    if (dc && dc !== node.datacenter) throw new ApiError(500, 'No path to datacenter');
  }

  const flag = (q: URLSearchParams, name: string) => q.has(name) && q.get(name) !== 'false' && q.get(name) !== '0';

  /** `?filter=` is evaluated where Consul 1.8 evaluates it; elsewhere it is refused, never ignored. */
  function noFilter(q: URLSearchParams, endpoint: string): void {
    if (q.has('filter')) throw new ApiError(400, `?filter is not supported on ${endpoint}: Consul 1.8 does not filter this endpoint and the embedded registry refuses the parameter rather than ignore it`);
  }

  /** Compiled filters by field set and text, least recently used first (a watcher sends the same one on every request). */
  const compiled = new Map<FieldType, Map<string, Pred>>();

  /** The compiled `?filter=` (none when absent or empty, as Consul), or Consul's 500 naming what is wrong. */
  function filterOf(q: URLSearchParams, fields: FieldType): { pred: Pred; text: string } | undefined {
    const text = q.get('filter');
    if (text === null || text === '') return undefined;
    let byText = compiled.get(fields);
    if (!byText) compiled.set(fields, (byText = new Map()));
    const pred = recentlyUsed(byText, text, () => {
      try {
        return compileFilter(text, fields);
      } catch (err) {
        if (err instanceof BexprError) throw new ApiError(500, filterErrorText(err));
        throw err;
      }
    });
    return { pred, text };
  }

  /** Status-only filters by text (undefined: not status-only), least recently used first. */
  const statusOnly = new Map<string, Set<CheckStatus> | undefined>();

  function statusFilterOf(text: string): Set<CheckStatus> | undefined {
    return recentlyUsed(statusOnly, text, () => {
      try {
        return statusFilter(text);
      } catch (err) {
        if (!(err instanceof FilterError)) throw err;
        return undefined;
      }
    });
  }

  /** A blocked query (one that follows an index) keeps per-block filter results between its wakes; a one-off read does not. */
  const follows = (q: URLSearchParams) => /^[1-9]\d*$/.test(q.get('index') ?? '');

  /** Ends the request after a write is on disk (group commit). */
  async function written(res: ServerResponse, body?: unknown): Promise<void> {
    await state.durable();
    if (body === undefined) empty(res);
    else json(res, body);
  }

  const routes: Route[] = [
    ['PUT', /^\/v1\/agent\/service\/register$/, async ({ req, res }) => {
      const body = await readBody(req, MAX_JSON_BODY);
      let parsed: unknown;
      const raw = body.toString('utf8');
      try {
        parsed = JSON.parse(raw || 'null');
      } catch (err) {
        throw new ApiError(400, `Request decode failed: ${goJsonError(err as Error, raw)}`);
      }
      const reg = decodeRegistration(parsed);
      const before = new Set(state.checksOfService(reg.service.ID).map((c) => c.CheckID));
      state.registerService(reg.service, reg.checks);
      for (const id of before) checker.syncCheck(id);
      for (const c of reg.checks) checker.syncCheck(c.CheckID);
      for (const c of reg.checks) if (c.definition.type === 'ttl') checker.ttlRefreshed(c.CheckID);
      await written(res);
    }],
    ['PUT', /^\/v1\/agent\/service\/deregister\/(.+)$/, async ({ res, params }) => {
      const gone = state.checksOfService(params[0]!).map((c) => c.CheckID);
      state.deregisterService(params[0]!);
      for (const id of gone) checker.syncCheck(id);
      await written(res);
    }],
    ['PUT', /^\/v1\/agent\/check\/(pass|warn|fail)\/(.+)$/, async ({ res, q, params }) => {
      const [verb, id] = params as [string, string];
      ttlUpdate(id, verb === 'pass' ? 'passing' : verb === 'warn' ? 'warning' : 'critical', q.get('note') ?? '');
      await written(res);
    }],
    ['PUT', /^\/v1\/agent\/check\/update\/(.+)$/, async ({ req, res, params }) => {
      const raw = (await readBody(req, MAX_JSON_BODY)).toString('utf8');
      let body: { Status?: unknown; Output?: unknown };
      try {
        body = JSON.parse(raw || '{}');
      } catch (err) {
        throw new ApiError(400, `Request decode failed: ${goJsonError(err as Error, raw)}`);
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, `Request decode failed: json: cannot unmarshal ${Array.isArray(body) ? 'array' : body === null ? 'null' : typeof body} into Go value of type structs.checkUpdate`);
      const status = typeof body.Status === 'string' ? body.Status : '';
      if (!isStatus(status)) throw new ApiError(400, `Invalid check status: '${status}'`);
      ttlUpdate(params[0]!, status, typeof body.Output === 'string' ? body.Output : '');
      await written(res);
    }],
    ['GET', /^\/v1\/agent\/services$/, ({ res, q }) => {
      const f = filterOf(q, NODE_SERVICE_FIELDS);
      json(res, Object.fromEntries([...state.services.values()].filter((s) => !f || f.pred(views.projectService(s))).map((s) => [s.ID, agentServiceJson(s)])));
    }],
    ['GET', /^\/v1\/agent\/checks$/, ({ res, q }) => {
      const f = filterOf(q, HEALTH_CHECK_FIELDS);
      json(res, Object.fromEntries([...state.checks.values()].filter((c) => !f || f.pred(views.projectCheck(c))).map((c) => [c.CheckID, checkJson(node, c, state.services, false)])));
    }],
    ['GET', /^\/v1\/status\/leader$/, ({ res }) => json(res, deps.leaderAddr)],
    ['GET', /^\/v1\/status\/peers$/, ({ res }) => json(res, [deps.leaderAddr])],
    ['GET', /^\/v1\/agent\/self$/, ({ res }) => json(res, agentSelf())],
    ['GET', /^\/v1\/agent\/members$/, ({ res, q }) => {
      // `consul members` asks for every segment (`_all`); this agent has only the default one ("").
      const segment = q.get('segment');
      if (segment !== null && segment !== '' && segment !== '_all') throw new ApiError(400, `Unsupported segment ${JSON.stringify(segment)}: the embedded registry has only the default network segment ("")`);
      // ?wan lists the WAN pool: this agent is its only member there too (named node.dc).
      const m = memberJson(node, deps.port ?? 0);
      json(res, [flag(q, 'wan') ? { ...m, Name: `${node.name}.${node.datacenter}` } : m]);
    }],
    ['GET', /^\/v1\/catalog\/nodes$/, (ctx) => {
      checkDc(ctx.q);
      const f = filterOf(ctx.q, NODE_FIELDS);
      const excluded = nodeMetaFilter(ctx.q) || (f !== undefined && !f.pred(views.projectNode()));
      return blocking(ctx, () => 1, () => jsonText(excluded ? '[]' : views.catalogNodes()));
    }],
    ['GET', /^\/v1\/catalog\/node\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      noFilter(ctx.q, '/v1/catalog/node/:node');
      if (!isNode(ctx.params[0]!)) return blocking(ctx, () => 1, () => jsonText('null'));
      return blocking(ctx, state.servicesTableIndex, () => cached('catalog/node', state.servicesTableIndex(), () => views.catalogNode()), [TOPIC.services]);
    }],
    ['GET', /^\/v1\/catalog\/node-services\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      const f = filterOf(ctx.q, NODE_SERVICE_FIELDS);
      if (!isNode(ctx.params[0]!)) return blocking(ctx, () => 1, () => jsonText('{"Node":null,"Services":null}'));
      if (f) {
        const cacheKey = follows(ctx.q) ? f.text : undefined;
        return blocking(ctx, state.servicesTableIndex, () => cached(`catalog/node-services?${f.text}`, state.servicesTableIndex(), () => views.nodeServicesFiltered(f.pred, cacheKey)), [TOPIC.services]);
      }
      return blocking(ctx, state.servicesTableIndex, () => cached('catalog/node-services', state.servicesTableIndex(), () => views.nodeServices()), [TOPIC.services]);
    }],
    ['GET', /^\/v1\/health\/node\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      const f = filterOf(ctx.q, HEALTH_CHECK_FIELDS);
      if (!isNode(ctx.params[0]!)) return blocking(ctx, state.checksTableIndex, () => jsonText('[]'), [TOPIC.checks]);
      if (f) {
        const cacheKey = follows(ctx.q) ? `${[...ALL_STATUSES].sort().join(',')}?${f.text}` : undefined;
        return blocking(ctx, state.checksTableIndex, () => cached(`health/node?${f.text}`, state.checksTableIndex(), () => views.filteredChecks(f.pred, new Set(ALL_STATUSES), cacheKey)), [TOPIC.checks]);
      }
      // Every check of the one node: the same body as /health/state/any.
      return blocking(ctx, state.checksTableIndex, () => cached('health/state/critical,passing,warning', state.checksTableIndex(), () => views.healthState(new Set(ALL_STATUSES))), [TOPIC.checks]);
    }],
    ['PUT', /^\/v1\/session\/create$/, async ({ req, res }) => {
      const raw = (await readBody(req, MAX_JSON_BODY)).toString('utf8');
      let parsed: unknown;
      try {
        parsed = raw.trim() === '' ? {} : JSON.parse(raw);
      } catch (err) {
        throw new ApiError(400, `Request decode failed: ${goJsonError(err as Error, raw)}`);
      }
      const rec = state.createSession(decodeSession(parsed, state, node.name));
      timers.arm(rec.ID);
      await written(res, { ID: rec.ID });
    }],
    ['PUT', /^\/v1\/session\/destroy\/(.*)$/, async ({ res, params }) => {
      checkSessionId(params[0]!);
      timers.forget(params[0]!);
      state.destroySession(params[0]!);
      await written(res, true);
    }],
    ['PUT', /^\/v1\/session\/renew\/(.*)$/, ({ res, params }) => {
      checkSessionId(params[0]!);
      const s = state.sessions.get(params[0]!);
      if (!s) throw new ApiError(404, `Session id '${params[0]}' not found`);
      timers.arm(s.ID);
      json(res, [sessionJson(s)]);
    }],
    ['GET', /^\/v1\/session\/info\/(.*)$/, (ctx) => {
      checkDc(ctx.q);
      checkSessionId(ctx.params[0]!);
      const id = ctx.params[0]!;
      return blocking(ctx, state.sessionsTableIndex, () => {
        const s = state.sessions.get(id);
        return { json: s ? [sessionJson(s)] : [] };
      }, [TOPIC.sessions]);
    }],
    ['PUT', /^\/v1\/txn$/, async ({ req, res, q }) => {
      checkDc(q);
      const raw = (await readBody(req, MAX_JSON_BODY)).toString('utf8');
      const out = runTxn(raw, state, node);
      if (out.status === 200) await state.durable();
      res.writeHead(out.status, { 'Content-Type': 'application/json', 'X-Consul-Knownleader': 'true', 'X-Consul-Lastcontact': '0' });
      res.end(out.body);
    }],
    ['GET', /^\/v1\/session\/list$/, (ctx) => {
      checkDc(ctx.q);
      return blocking(ctx, state.sessionsTableIndex, () => ({ json: state.sessionList().map(sessionJson) }), [TOPIC.sessions]);
    }],
    ['GET', /^\/v1\/session\/node\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      const name = ctx.params[0]!;
      return blocking(ctx, state.sessionsTableIndex, () => ({ json: state.sessionList().filter((s) => s.Node === name).map(sessionJson) }), [TOPIC.sessions]);
    }],
    ['GET', /^\/v1\/catalog\/datacenters$/, ({ res }) => json(res, [node.datacenter])],
    ['GET', /^\/v1\/catalog\/services$/, (ctx) => {
      checkDc(ctx.q);
      noFilter(ctx.q, '/v1/catalog/services');
      // Its body changes only with a name or a tag set, not with every registration.
      return blocking(ctx, state.servicesTableIndex, () => cached('catalog/services', state.catalogVersion, () => views.catalogServices()), [TOPIC.services]);
    }],
    ['GET', /^\/v1\/catalog\/service\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      const f = filterOf(ctx.q, SERVICE_NODE_FIELDS);
      const name = ctx.params[0]!;
      const tags = ctx.q.getAll('tag');
      const index = () => state.serviceIndex(name);
      return blocking(ctx, index, () => cached(`catalog/service/${name}?${tags.join('&')}&filter=${f?.text ?? ''}`, index(), () => views.catalogService(name, tags, f?.pred)), [TOPIC.name(name)]);
    }],
    ['GET', /^\/v1\/health\/service\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      const f = filterOf(ctx.q, CHECK_SERVICE_NODE_FIELDS);
      const name = ctx.params[0]!;
      const tags = ctx.q.getAll('tag');
      const passing = flag(ctx.q, 'passing');
      const index = () => state.serviceIndex(name);
      return blocking(ctx, index, () => cached(`health/service/${name}?${passing}&${tags.join('&')}&filter=${f?.text ?? ''}`, index(), () => views.healthService(name, tags, passing, f?.pred)), [TOPIC.name(name)]);
    }],
    ['GET', /^\/v1\/health\/checks\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      const f = filterOf(ctx.q, HEALTH_CHECK_FIELDS);
      const name = ctx.params[0]!;
      const index = () => state.serviceIndex(name);
      return blocking(ctx, index, () => cached(`health/checks/${name}?filter=${f?.text ?? ''}`, index(), () => views.healthChecks(name, f?.pred)), [TOPIC.name(name)]);
    }],
    ['GET', /^\/v1\/health\/state\/([^/]+)$/, (ctx) => {
      checkDc(ctx.q);
      const wanted = ctx.params[0]!;
      let statuses = new Set<CheckStatus>(wanted === 'any' ? ALL_STATUSES : isStatus(wanted) ? [wanted] : []);
      const f = filterOf(ctx.q, HEALTH_CHECK_FIELDS);
      let general: Pred | undefined;
      if (f) {
        // Status-only filters keep the O(non-passing) path; anything else is evaluated per check.
        const matching = statusFilterOf(f.text);
        if (matching) statuses = new Set([...statuses].filter((s) => matching.has(s)));
        else general = f.pred;
      }
      if (general) {
        const pred = general;
        const selected = `${[...statuses].sort().join(',')}?${f!.text}`;
        const cacheKey = follows(ctx.q) ? selected : undefined;
        return blocking(ctx, state.checksTableIndex, () => cached(`health/state/${selected}`, state.checksTableIndex(), () => views.filteredChecks(pred, statuses, cacheKey)), [TOPIC.checks]);
      }
      const key = `health/state/${[...statuses].sort().join(',')}`;
      // Like 1.8.7, an unknown state is an empty list rather than an error.
      return blocking(ctx, state.checksTableIndex, () => cached(key, state.checksTableIndex(), () => views.healthState(statuses)), [TOPIC.checks]);
    }],
    ['GET', /^\/v1\/internal\/ui\/services$/, (ctx) => {
      checkDc(ctx.q);
      noFilter(ctx.q, '/v1/internal/ui/services');
      const index = () => Math.max(state.servicesTableIndex(), state.checksTableIndex());
      return blocking(ctx, index, () => cached('internal/ui/services', index(), () => views.uiServices()), [TOPIC.services, TOPIC.checks]);
    }],
    ['GET', /^\/v1\/kv\/(.*)$/, (ctx) => {
      checkDc(ctx.q);
      const key = ctx.params[0]!;
      if (ctx.q.has('keys')) {
        const sep = ctx.q.get('separator') ?? '';
        return blocking(ctx, state.kvTableIndex, () => {
          const keys = state.kvList(key).map((r) => {
            const i = sep ? r.Key.indexOf(sep, key.length) : -1;
            return i === -1 ? r.Key : r.Key.slice(0, i + sep.length);
          });
          return keys.length ? { json: [...new Set(keys)] } : notFound;
        }, [TOPIC.kv]);
      }
      if (ctx.q.has('recurse')) {
        return blocking(ctx, state.kvTableIndex, () => {
          const found = state.kvList(key);
          return found.length ? jsonText(`[${found.map(kvText).join(',')}]`) : notFound;
        }, [TOPIC.kv]);
      }
      return blocking(ctx, () => state.kvKeyIndex(key), () => {
        const r = state.kv.get(key);
        if (!r) return notFound;
        return ctx.q.has('raw') ? { raw: Buffer.from(r.Value ?? new Uint8Array()) } : jsonText(`[${kvText(r)}]`);
      }, [TOPIC.kv]);
    }],
    ['PUT', /^\/v1\/kv\/(.+)$/, async ({ req, res, q, params, rawQuery }) => {
      checkDc(q);
      const flags = uint64Param(q, 'flags') ?? '0';
      const acquire = q.get('acquire');
      const release = q.get('release');
      const casGiven = q.has('cas');
      if ((acquire !== null || release !== null) && (casGiven || (acquire !== null && release !== null))) throw new ApiError(400, `Conflicting flags: ${rawQuery}`);
      const cas = uintParam(q, 'cas');
      const body = await readBody(req, MAX_KV_VALUE, (size) => new ApiError(413, `Request body(${size} bytes) too large, max size: ${MAX_KV_VALUE} bytes. See https://www.consul.io/docs/agent/options.html#kv_max_value_size.`));
      const key = params[0]!;
      if (acquire !== null) {
        checkSessionId(acquire);
        if (!state.sessions.has(acquire)) throw new ApiError(500, `invalid session "${acquire}"`);
        return written(res, state.kvAcquire(key, body, flags, acquire));
      }
      if (release !== null) {
        checkSessionId(release);
        return written(res, state.kvRelease(key, body, flags, release));
      }
      await written(res, state.kvPut(key, body, flags, cas));
    }],
    ['DELETE', /^\/v1\/kv\/(.*)$/, async ({ res, q, params }) => {
      await written(res, state.kvDelete(params[0]!, { recurse: q.has('recurse'), cas: uintParam(q, 'cas') }));
    }],
  ];

  /** `?node-meta=key:value` (repeatable): the node's only meta is `consul-network-segment: ""`; true when it does not match. */
  function nodeMetaFilter(q: URLSearchParams): boolean {
    const own: Record<string, string> = { 'consul-network-segment': '' };
    return q.getAll('node-meta').some((kv) => {
      const i = kv.indexOf(':');
      const [k, v] = i === -1 ? [kv, ''] : [kv.slice(0, i), kv.slice(i + 1)];
      return own[k] !== v;
    });
  }

  function agentSelf() {
    let ttl = 0;
    for (const c of state.checks.values()) if (c.definition.type === 'ttl') ttl++;
    const index = String(state.currentIndex);
    const members = { coordinate_resets: '0', encrypted: 'false', event_queue: '0', event_time: '1', failed: '0', health_score: '0', intent_queue: '0', left: '0', member_time: '1', members: '1', query_queue: '0', query_time: '1' };
    return {
      Config: { Datacenter: node.datacenter, NodeName: node.name, NodeID: node.id, Revision: '', Server: true, Version: CONSUL_VERSION },
      DebugConfig: {
        Datacenter: node.datacenter, NodeName: node.name, NodeID: node.id, ServerMode: true, Bootstrap: false, DevMode: false,
        ClientAddrs: [node.address], BindAddr: node.address, AdvertiseAddrLAN: node.address, HTTPPort: deps.port ?? 0, DNSPort: -1,
        Version: CONSUL_VERSION, Revision: '', ACLsEnabled: false, PrimaryDatacenter: node.datacenter,
      },
      Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 },
      Member: memberJson(node, deps.port ?? 0),
      Stats: {
        agent: { check_monitors: '0', check_ttls: String(ttl), checks: String(state.checks.size), services: String(state.services.size) },
        build: { prerelease: '', revision: '', version: CONSUL_VERSION },
        consul: { acl: 'disabled', bootstrap: 'false', known_datacenters: '1', leader: 'true', leader_addr: deps.leaderAddr, server: 'true' },
        raft: {
          applied_index: index, commit_index: index, fsm_pending: '0', last_contact: '0', last_log_index: index, last_log_term: '1',
          last_snapshot_index: '0', last_snapshot_term: '0', num_peers: '0', protocol_version: '3', protocol_version_max: '3', protocol_version_min: '0',
          snapshot_version_max: '1', snapshot_version_min: '0', state: 'Leader', term: '1',
        },
        runtime: { arch: process.arch === 'x64' ? 'amd64' : process.arch, cpu_count: String(availableParallelism()), goroutines: '0', max_procs: String(availableParallelism()), os: process.platform, version: `node${process.versions.node}`, uptime_seconds: String(Math.floor((Date.now() - startedAt) / 1000)) },
        serf_lan: members,
        serf_wan: members,
      },
      Meta: { 'consul-network-segment': '' },
    };
  }

  function ttlUpdate(id: string, status: 'passing' | 'warning' | 'critical', output: string): void {
    const check = state.checks.get(id);
    if (!check || check.definition.type !== 'ttl') throw new ApiError(500, `CheckID "${id}" does not have associated TTL`);
    state.updateCheck(id, status, capOutput(output));
    checker.ttlRefreshed(id);
  }

  /** Never rejects: every failure becomes an answer. */
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ctx: Ctx = { req, res, q: new URLSearchParams(), rawQuery: '', params: [] };
    try {
      if (!hostAllowed(req.headers.host, allowedHosts)) {
        throw new ApiError(403, `Host ${JSON.stringify(req.headers.host)} is not allowed: the embedded registry answers only requests addressed to loopback, its listen address or a configured host name (DNS-rebinding protection)`);
      }
      let url: URL;
      let path: string;
      try {
        url = new URL(`http://registry${(req.url ?? '/').startsWith('/') ? '' : '/'}${req.url ?? '/'}`);
        path = decodeURIComponent(url.pathname);
      } catch {
        throw new ApiError(400, `Bad Request: invalid URL escape in ${JSON.stringify(req.url ?? '')}`);
      }
      ctx.q = url.searchParams;
      ctx.rawQuery = url.search.replace(/^\?/, '');
      // The first route for this path and method; 404 when no route has the path, 405 when none has the method.
      let route: Route | undefined;
      let known = false;
      for (const r of routes) {
        if (!r[1].test(path)) continue;
        known = true;
        if (r[0] === req.method) {
          route = r;
          break;
        }
      }
      if (!known) throw new ApiError(404, `Unknown endpoint: ${req.method} ${path} is not implemented by the embedded registry (see registry/README.md for what it implements)`);
      if (!route) throw new ApiError(405, `method ${req.method} not allowed`);
      checkParams(req.method!, path, ctx.q);
      ctx.params = (route[1].exec(path) ?? []).slice(1);
      await route[2](ctx);
    } catch (err) {
      try {
        if (res.headersSent) return void res.end();
        if (err instanceof BodyTooLarge) {
          res.setHeader('Connection', 'close');
          text(res, 413, err.error.message);
          if (err.drained) return;
          // Past the drain limit: stop reading; the connection closes after the answer.
          res.once('finish', () => req.destroy());
          return;
        }
        if (err instanceof ApiError || err instanceof RegisterError || err instanceof SessionError || err instanceof TxnBodyError) text(res, err.status, err.message);
        else text(res, 500, `embedded registry: ${(err as Error)?.message ?? String(err)}`);
      } catch {
        res.destroy();
      }
    }
  };
}

function uintParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^\d+$/.test(v)) throw new ApiError(500, `strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}

/** A uint64 query parameter as its digits (`consul lock` sends flags above 2^53). */
function uint64Param(q: URLSearchParams, name: string): string | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^\d+$/.test(v)) throw new ApiError(500, `strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
  if (BigInt(v) > 0xffffffffffffffffn) throw new ApiError(500, `strconv.ParseUint: parsing ${JSON.stringify(v)}: value out of range`);
  return BigInt(v).toString();
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Consul-Knownleader': 'true', 'X-Consul-Lastcontact': '0' });
  res.end(JSON.stringify(body));
}

function text(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(message);
}

function empty(res: ServerResponse): void {
  res.writeHead(200);
  res.end();
}

class BodyTooLarge extends Error {
  constructor(
    readonly error: ApiError,
    /** The whole body was read (and dropped), so the connection can be answered cleanly. */
    readonly drained: boolean,
  ) {
    super(error.message);
  }
}

/**
 * Reads a body of at most `max` bytes. Past the limit nothing more is kept: the rest is read
 * and dropped (up to MAX_DRAIN, so the client gets to read the 413), and the request is
 * answered 413 with the size when known.
 */
async function readBody(req: IncomingMessage, max: number, tooLarge?: (size: number | string) => ApiError): Promise<Buffer> {
  const make = (size: number | string) => (tooLarge ? tooLarge(size) : new ApiError(413, `Request body too large: ${size} bytes, the embedded registry accepts at most ${max} bytes here`));
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_DRAIN) throw new BodyTooLarge(make(declared), false);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_DRAIN) throw new BodyTooLarge(make(`more than ${MAX_DRAIN}`), false);
    if (size <= max) chunks.push(chunk as Buffer);
  }
  if (size > max) throw new BodyTooLarge(make(size), true);
  return Buffer.concat(chunks);
}

/** Go's encoding/json wording for JSON syntax errors, so messages read like Consul's. */
function goJsonError(err: Error, input: string): string {
  const pos = /position (\d+)/.exec(err.message);
  if (/Unexpected end of JSON input/.test(err.message) || (pos && Number(pos[1]) >= input.length)) return 'unexpected EOF';
  const ch = pos ? input[Number(pos[1])] : (/Unexpected token '?(.)/.exec(err.message)?.[1] ?? '?');
  const where = /property name/.test(err.message) ? 'looking for beginning of object key string' : 'looking for beginning of value';
  return `invalid character '${ch}' ${where}`;
}
