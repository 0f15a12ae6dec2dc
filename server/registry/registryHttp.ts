/**
 * The Consul HTTP API v1 subset that services and clients use, served from RegistryState with
 * Consul 1.8.7's semantics: blocking queries on every read (`index` + `wait`, X-Consul-Index),
 * text/plain errors with Consul's wording, 405 for a wrong method, an empty 404 for unknown
 * routes, and nothing stored half-way on a bad request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from './duration';
import { agentServiceJson, catalogServiceJson, checkJson, healthServiceJson, kvJson, nodeJson, serfCheckJson, type NodeInfo } from './consulShapes';
import type { HealthChecker } from './healthChecker';
import { decodeRegistration, isStatus, RegisterError } from './registerRequest';
import type { IndexOf, RegistryState } from './registryState';

const MAX_KV_VALUE = 512 * 1024;
const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;

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
  params: string[];
}

type Reply = { json: unknown } | { raw: Buffer } | { notFound: true };
const notFound: Reply = { notFound: true };

type Route = [method: string, pattern: RegExp, handler: (ctx: Ctx) => Promise<void> | void];

export interface RegistryHttpDeps {
  state: RegistryState;
  checker: HealthChecker;
  node: NodeInfo;
  /** What /v1/status/leader answers. */
  leaderAddr: string;
  random?: () => number;
}

export function createRegistryHandler(deps: RegistryHttpDeps) {
  const { state, checker, node } = deps;
  const random = deps.random ?? Math.random;

  /** Waits per Consul's blocking rules, then answers with the endpoint's index (never below 1). */
  async function blocking(ctx: Ctx, indexOf: IndexOf, render: () => Reply): Promise<void> {
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
      const abort = new AbortController();
      ctx.req.once('close', () => abort.abort());
      // Consul adds up to wait/16 so that many clients don't return in lockstep.
      await state.waitForChange(indexOf, min, wait + random() * (wait / 16), abort.signal);
      if (abort.signal.aborted && ctx.res.destroyed) return;
    }
    const reply = render();
    ctx.res.setHeader('X-Consul-Index', String(Math.max(1, indexOf())));
    if ('raw' in reply) {
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

  function serviceEntries(name: string, q: URLSearchParams) {
    const tags = q.getAll('tag');
    // One pass over the checks per request, not one per instance.
    const checksOf = new Map<string, ReturnType<typeof checkJson>[]>();
    for (const c of state.checks.values()) {
      if (c.ServiceName !== name) continue;
      const list = checksOf.get(c.ServiceID) ?? [];
      list.push(checkJson(node, c, state.services));
      checksOf.set(c.ServiceID, list);
    }
    return [...state.services.values()]
      .filter((s) => s.Service === name && tags.every((t) => s.Tags.includes(t)))
      .sort((a, b) => (a.ID < b.ID ? -1 : 1))
      .map((s) => ({ Node: nodeJson(node), Service: healthServiceJson(s), Checks: [serfCheckJson(node), ...(checksOf.get(s.ID) ?? [])] }))
      .filter((e) => !flag(q, 'passing') || e.Checks.every((c) => c.Status === 'passing'));
  }

  const routes: Route[] = [
    ['PUT', /^\/v1\/agent\/service\/register$/, async ({ req, res }) => {
      const body = await readBody(req, 1024 * 1024);
      let parsed: unknown;
      const raw = body.toString('utf8');
      try {
        parsed = JSON.parse(raw || 'null');
      } catch (err) {
        throw new ApiError(400, `Request decode failed: ${goJsonError(err as Error, raw)}`);
      }
      const reg = decodeRegistration(parsed);
      state.registerService(reg.service, reg.checks);
      checker.sync();
      for (const c of reg.checks) if (c.definition.type === 'ttl') checker.ttlRefreshed(c.CheckID);
      empty(res);
    }],
    ['PUT', /^\/v1\/agent\/service\/deregister\/(.+)$/, ({ res, params }) => {
      state.deregisterService(params[0]!);
      checker.sync();
      empty(res);
    }],
    ['PUT', /^\/v1\/agent\/check\/(pass|warn|fail)\/(.+)$/, ({ res, q, params }) => {
      const [verb, id] = params as [string, string];
      ttlUpdate(id, verb === 'pass' ? 'passing' : verb === 'warn' ? 'warning' : 'critical', q.get('note') ?? '');
      empty(res);
    }],
    ['PUT', /^\/v1\/agent\/check\/update\/(.+)$/, async ({ req, res, params }) => {
      const raw = (await readBody(req, 1024 * 1024)).toString('utf8');
      let body: { Status?: unknown; Output?: unknown };
      try {
        body = JSON.parse(raw || '{}');
      } catch (err) {
        throw new ApiError(400, `Request decode failed: ${goJsonError(err as Error, raw)}`);
      }
      const status = typeof body.Status === 'string' ? body.Status : '';
      if (!isStatus(status)) throw new ApiError(400, `Invalid check status: '${status}'`);
      ttlUpdate(params[0]!, status, typeof body.Output === 'string' ? body.Output : '');
      empty(res);
    }],
    ['GET', /^\/v1\/agent\/services$/, ({ res }) => json(res, Object.fromEntries([...state.services.values()].map((s) => [s.ID, agentServiceJson(s)])))],
    ['GET', /^\/v1\/agent\/checks$/, ({ res }) => json(res, Object.fromEntries([...state.checks.values()].map((c) => [c.CheckID, checkJson(node, c, state.services, false)])))],
    ['GET', /^\/v1\/status\/leader$/, ({ res }) => json(res, deps.leaderAddr)],
    ['GET', /^\/v1\/catalog\/datacenters$/, ({ res }) => json(res, [node.datacenter])],
    ['GET', /^\/v1\/catalog\/services$/, (ctx) => {
      checkDc(ctx.q);
      return blocking(ctx, state.servicesTableIndex, () => {
        const out: Record<string, string[]> = {};
        for (const s of state.services.values()) out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...s.Tags])];
        return { json: out };
      });
    }],
    ['GET', /^\/v1\/catalog\/service\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      const name = ctx.params[0]!;
      const tags = ctx.q.getAll('tag');
      return blocking(ctx, () => state.serviceIndex(name), () => ({
        json: [...state.services.values()].filter((s) => s.Service === name && tags.every((t) => s.Tags.includes(t))).map((s) => catalogServiceJson(node, s)),
      }));
    }],
    ['GET', /^\/v1\/health\/service\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      const name = ctx.params[0]!;
      return blocking(ctx, () => state.serviceIndex(name), () => ({ json: serviceEntries(name, ctx.q) }));
    }],
    ['GET', /^\/v1\/health\/checks\/(.+)$/, (ctx) => {
      checkDc(ctx.q);
      const name = ctx.params[0]!;
      return blocking(ctx, () => state.serviceIndex(name), () => ({
        json: [...state.checks.values()].filter((c) => c.ServiceName === name).map((c) => checkJson(node, c, state.services)),
      }));
    }],
    ['GET', /^\/v1\/health\/state\/([^/]+)$/, (ctx) => {
      checkDc(ctx.q);
      const wanted = ctx.params[0]!;
      return blocking(ctx, state.checksTableIndex, () => {
        // Like 1.8.7, an unknown state is an empty list rather than an error.
        if (!['any', 'passing', 'warning', 'critical'].includes(wanted)) return { json: [] };
        const all = [serfCheckJson(node), ...[...state.checks.values()].map((c) => checkJson(node, c, state.services))];
        return { json: wanted === 'any' ? all : all.filter((c) => c.Status === wanted) };
      });
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
        });
      }
      if (ctx.q.has('recurse')) {
        return blocking(ctx, state.kvTableIndex, () => {
          const found = state.kvList(key);
          return found.length ? { json: found.map(kvJson) } : notFound;
        });
      }
      return blocking(ctx, () => state.kvKeyIndex(key), () => {
        const r = state.kv.get(key);
        if (!r) return notFound;
        return ctx.q.has('raw') ? { raw: Buffer.from(r.Value ?? new Uint8Array()) } : { json: [kvJson(r)] };
      });
    }],
    ['PUT', /^\/v1\/kv\/(.+)$/, async ({ req, res, q, params }) => {
      const cas = uintParam(q, 'cas');
      const flags = uintParam(q, 'flags') ?? 0;
      const body = await readBody(req, MAX_KV_VALUE, (size) => new ApiError(413, `Request body(${size} bytes) too large, max size: ${MAX_KV_VALUE} bytes. See https://www.consul.io/docs/agent/options.html#kv_max_value_size.`));
      json(res, state.kvPut(params[0]!, body, flags, cas));
    }],
    ['DELETE', /^\/v1\/kv\/(.*)$/, ({ res, q, params }) => {
      json(res, state.kvDelete(params[0]!, { recurse: q.has('recurse'), cas: uintParam(q, 'cas') }));
    }],
  ];

  function ttlUpdate(id: string, status: 'passing' | 'warning' | 'critical', output: string): void {
    const check = state.checks.get(id);
    if (!check || check.definition.type !== 'ttl') throw new ApiError(500, `CheckID "${id}" does not have associated TTL`);
    state.updateCheck(id, status, output);
    checker.ttlRefreshed(id);
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://registry');
    const path = decodeURIComponent(url.pathname);
    const ctx: Ctx = { req, res, q: url.searchParams, params: [] };
    try {
      const matching = routes.filter(([, re]) => re.test(path));
      if (matching.length === 0) {
        res.writeHead(404);
        res.end();
        return;
      }
      const route = matching.find(([m]) => m === req.method);
      if (!route) throw new ApiError(405, `method ${req.method} not allowed`);
      ctx.params = (route[1].exec(path) ?? []).slice(1);
      await route[2](ctx);
    } catch (err) {
      if (res.headersSent) return void res.end();
      if (err instanceof ApiError || err instanceof RegisterError) text(res, err.status, err.message);
      else text(res, 500, (err as Error).message);
    }
  };
}

function uintParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^\d+$/.test(v)) throw new ApiError(500, `strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
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

async function readBody(req: IncomingMessage, max: number, tooLarge?: (size: number) => ApiError): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    chunks.push(chunk as Buffer);
  }
  if (size > max) throw tooLarge ? tooLarge(size) : new ApiError(413, `Request body too large, max size: ${max} bytes`);
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
