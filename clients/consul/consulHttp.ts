/**
 * A small typed client for the Consul HTTP API reads the adapter needs. Every answer is a
 * value: `{ ok: true, value, index }` or `{ ok: false, error }` with a closed error code and
 * the context (source, datacenter, path) — nothing here throws for registry trouble.
 * The ACL token travels only in the `X-Consul-Token` header and never into an error.
 */
import { z } from 'zod';

/** Consul indexes are uint64; numbers are exact up to 2^53, far beyond any real raft index. */
export type ConsulIndex = number;

export type ConsulErrorCode =
  /** Connection refused/reset, DNS, TLS: the agent was not reached or hung up. */
  | 'network'
  /** No answer within the request timeout (wait + margin for blocking queries). */
  | 'timeout'
  /** The caller aborted (stop()). */
  | 'aborted'
  /** A non-2xx answer; `status` and the text/plain `body` say why. */
  | 'http'
  /** 2xx, but the body was not the JSON shape the endpoint documents. */
  | 'invalid_body'
  /** A blocking endpoint answered without `X-Consul-Index`. */
  | 'no_index'
  /** The body was larger than the request's byte cap; reading stopped there. */
  | 'too_large';

export interface ConsulError {
  code: ConsulErrorCode;
  /** `GET /v1/health/state/any?dc=dc1: connect ECONNREFUSED 127.0.0.1:8500` — safe to show and log. */
  message: string;
  source: string;
  dc: string | null;
  /** The endpoint path without query, e.g. `/v1/health/service/web`. */
  path: string;
  status?: number;
  body?: string;
}

/** `bytes`: the size of the body read (for pacing a watch by what it costs to read). */
export type ConsulResult<T> = { ok: true; value: T; index: ConsulIndex | null; bytes: number } | { ok: false; error: ConsulError };

export interface ConsulRequest {
  dc?: string | null;
  /** Blocking query: the last index seen; 0/undefined means answer at once. */
  index?: ConsulIndex;
  /** Blocking query wait; sent as `wait=<n>ms` only together with a non-zero index. */
  waitMs?: number;
  signal?: AbortSignal;
  /** A stable label for metrics, e.g. `/v1/health/service/:name`. @default path */
  endpoint?: string;
  /** Treat 404 as a `null` body (a KV prefix with no keys still answers with an index). */
  allowNotFound?: boolean;
  /** Extra query parameters, e.g. `{ recurse: '' }`. */
  query?: Record<string, string>;
  /** Cap on the body size; a larger body is not read further and fails as `too_large`. @default the client's maxBodyBytes */
  maxBytes?: number;
  /** Timeout of a non-blocking read, for one that is large by nature. @default the client's requestTimeoutMs */
  timeoutMs?: number;
}

export interface ConsulHttpOptions {
  /** Source name, carried into errors. */
  sourceName: string;
  /** Base URL, e.g. `http://127.0.0.1:8500`; credentials in it are sent as Basic auth, never shown. */
  address: string;
  /** ACL token for `X-Consul-Token`. @default null */
  token?: string | null;
  /** Injectable for tests and request counting. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Timeout for non-blocking reads. @default 10_000 */
  requestTimeoutMs?: number;
  /**
   * Extra time a blocking query may take beyond `wait`: Consul adds up to wait/16 of jitter,
   * so the margin is max(this, wait/8). @default 5_000
   */
  blockingMarginMs?: number;
  /**
   * Body size cap for requests that do not set their own `maxBytes`. Bodies are streamed and
   * counted, never buffered past the cap, so a hostile or broken upstream cannot exhaust memory.
   * @default 64 MiB
   */
  maxBodyBytes?: number;
  /** Called after every completed request (success or HTTP error), e.g. for a latency histogram; `bytes` is the body size read. */
  onResponse?: (info: { endpoint: string; seconds: number; ok: boolean; bytes: number }) => void;
}

export const CONSUL_HTTP_DEFAULTS = { requestTimeoutMs: 10_000, blockingMarginMs: 5_000, maxBodyBytes: 64 * 2 ** 20 } as const;

class BodyTooLarge extends Error {
  constructor(readonly limit: number, readonly seen: number) {
    super(`response body exceeds ${limit} bytes`);
  }
}

/** Reads a body as UTF-8 text, at most `limit` bytes; cancels the stream and throws BodyTooLarge beyond that. */
async function readLimited(res: Response, limit: number): Promise<{ text: string; bytes: number }> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new BodyTooLarge(limit, declared);
  }
  if (!res.body) return { text: '', bytes: 0 };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge(limit, bytes);
    }
    chunks.push(value);
  }
  const buf = chunks.length === 1 ? Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength) : Buffer.concat(chunks, bytes);
  return { text: buf.toString('utf8'), bytes };
}

// Response schemas: only the fields the adapter reads; unknown fields are ignored so newer
// Consul versions still parse. Defaults cover fields older versions omit.
export const Datacenters = z.array(z.string());
export const CatalogServices = z.record(z.string(), z.array(z.string()).nullable());
export const HealthCheck = z.object({
  Node: z.string(),
  CheckID: z.string(),
  Name: z.string(),
  Status: z.string(),
  Output: z.string().default(''),
  ServiceID: z.string().default(''),
  ServiceName: z.string().default(''),
  Type: z.string().default(''),
  ModifyIndex: z.number(),
});
export type HealthCheck = z.infer<typeof HealthCheck>;
export const HealthChecks = z.array(HealthCheck);
export const ServiceEntry = z.object({
  Node: z.object({ Node: z.string(), Address: z.string() }),
  Service: z.object({
    ID: z.string(),
    Service: z.string(),
    Tags: z.array(z.string()).nullable().default(null),
    Address: z.string().default(''),
    Port: z.number().int(),
    Meta: z.record(z.string(), z.string()).nullable().default(null),
  }),
  Checks: z.array(HealthCheck).nullable().default(null),
});
export type ServiceEntry = z.infer<typeof ServiceEntry>;
export const ServiceEntries = z.array(ServiceEntry);
/** `/v1/catalog/nodes`. */
export const CatalogNodes = z.array(z.object({ Node: z.string(), Address: z.string() }));
/** `/v1/catalog/node-services/:node` (1.7+); `null` for a node that is gone. */
export const NodeServices = z
  .object({ Node: ServiceEntry.shape.Node, Services: z.array(ServiceEntry.shape.Service).nullable().default(null) })
  .nullable();
export type NodeServices = z.infer<typeof NodeServices>;
/** `/v1/internal/ui/services` (internal API, 1.2+): one summary per service. */
export const UiServices = z.array(
  z.object({
    Name: z.string(),
    Tags: z.array(z.string()).nullable().default(null),
    Nodes: z.array(z.string()).nullable().default(null),
    InstanceCount: z.number().default(0),
  }),
);
export type UiServices = z.infer<typeof UiServices>;

export class ConsulHttp {
  /** The address as shown to users: no credentials. */
  readonly address: string;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly fetchFn: typeof fetch;
  private readonly requestTimeoutMs: number;
  private readonly blockingMarginMs: number;
  private readonly maxBodyBytes: number;
  private readonly secrets: string[];
  private readonly host: string;

  constructor(private readonly options: ConsulHttpOptions) {
    const url = new URL(options.address);
    // `identity`: fetch asks for gzip by default, and Consul then compresses every answer only for
    // us to inflate it again — on a full read of a large fleet that is most of both sides' CPU.
    // Registries sit on the same network; bytes are cheaper than cycles here.
    this.headers = { accept: 'application/json', 'accept-encoding': 'identity' };
    this.secrets = [];
    if (url.username || url.password) {
      // fetch refuses URLs with credentials; a proxy in front of Consul may want Basic auth.
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      if (pass) this.secrets.push(pass);
      url.username = '';
      url.password = '';
    }
    if (options.token) {
      this.headers['x-consul-token'] = options.token;
      this.secrets.push(options.token);
    }
    this.host = url.host;
    this.base = url.toString().replace(/\/+$/, '');
    this.address = this.base;
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.requestTimeoutMs = options.requestTimeoutMs ?? CONSUL_HTTP_DEFAULTS.requestTimeoutMs;
    this.blockingMarginMs = options.blockingMarginMs ?? CONSUL_HTTP_DEFAULTS.blockingMarginMs;
    this.maxBodyBytes = options.maxBodyBytes ?? CONSUL_HTTP_DEFAULTS.maxBodyBytes;
  }

  /** GET `path`, validate the JSON body with `schema`. */
  async get<T>(path: string, schema: z.ZodType<T>, req: ConsulRequest = {}): Promise<ConsulResult<T>> {
    const dc = req.dc ?? null;
    const query = new URLSearchParams();
    if (dc) query.set('dc', dc);
    for (const [k, v] of Object.entries(req.query ?? {})) query.set(k, v);
    // What users see: path + dc only, so repeated failures read the same (the store de-dups them).
    const label = `GET ${path}${dc ? `?dc=${encodeURIComponent(dc)}` : ''}`;
    const blocking = req.index !== undefined && req.index > 0;
    if (blocking) {
      query.set('index', String(req.index));
      if (req.waitMs !== undefined) query.set('wait', `${Math.max(1, Math.round(req.waitMs))}ms`);
    }
    const timeoutMs = blocking
      ? (req.waitMs ?? 300_000) + Math.max(this.blockingMarginMs, (req.waitMs ?? 300_000) / 8)
      : (req.timeoutMs ?? this.requestTimeoutMs);
    const fail = (code: ConsulErrorCode, detail: string, extra: Partial<ConsulError> = {}): ConsulResult<T> => ({
      ok: false,
      error: { code, message: this.redact(`${label}: ${detail}`), source: this.options.sourceName, dc, path, ...extra },
    });

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.signal?.aborted) controller.abort();
    const started = performance.now();
    const qs = query.toString();
    try {
      let res: Response;
      let text: string;
      let bytes: number;
      const limit = req.maxBytes ?? this.maxBodyBytes;
      try {
        res = await this.fetchFn(`${this.base}${path}${qs ? `?${qs}` : ''}`, { headers: this.headers, signal: controller.signal });
        ({ text, bytes } = await readLimited(res, limit));
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          this.options.onResponse?.({ endpoint: req.endpoint ?? path, seconds: (performance.now() - started) / 1000, ok: false, bytes: err.seen });
          return fail('too_large', `response body larger than the ${limit}-byte limit (read ${err.seen} bytes, stopped)`);
        }
        if (timedOut) return fail('timeout', `no answer within ${timeoutMs} ms`);
        if (controller.signal.aborted) return fail('aborted', 'aborted');
        // undici names the peer for refused/reset connections, not for e.g. "bad port".
        const detail = networkMessage(err);
        return fail('network', detail.includes(this.host) ? detail : `${detail} (${this.host})`);
      }
      this.options.onResponse?.({ endpoint: req.endpoint ?? path, seconds: (performance.now() - started) / 1000, ok: res.ok, bytes });
      if (res.status === 404 && req.allowNotFound) text = 'null';
      else if (!res.ok) {
        const body = text.trim().slice(0, 500);
        return fail('http', `HTTP ${res.status}${body ? `: ${body}` : ''}`, { status: res.status, body });
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return fail('invalid_body', 'response is not JSON');
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unexpected shape';
        return fail('invalid_body', `unexpected response body (${where})`);
      }
      const header = res.headers.get('x-consul-index');
      const index = header !== null && /^\d+$/.test(header) ? Number(header) : null;
      return { ok: true, value: parsed.data, index, bytes };
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * A blocking-query round for BlockingQuery: like `get`, but an answer without
   * `X-Consul-Index` is an error, since it cannot be watched.
   */
  async getIndexed<T>(path: string, schema: z.ZodType<T>, req: ConsulRequest & { index: number }): Promise<{ ok: true; value: T; index: ConsulIndex; bytes: number } | { ok: false; error: ConsulError }> {
    const res = await this.get(path, schema, req);
    if (!res.ok) return res;
    if (res.index === null) {
      const dc = req.dc ?? null;
      const message = `GET ${path}${dc ? `?dc=${dc}` : ''}: response has no X-Consul-Index, cannot watch`;
      return { ok: false, error: { code: 'no_index', message, source: this.options.sourceName, dc, path } };
    }
    return { ok: true, value: res.value, index: res.index, bytes: res.bytes };
  }

  private redact(message: string): string {
    let out = message;
    for (const s of this.secrets) out = out.split(s).join('[redacted]');
    return out;
  }
}

/** undici wraps the useful part: `fetch failed` → cause `connect ECONNREFUSED 127.0.0.1:8500`. */
function networkMessage(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error && e.cause !== undefined; depth++) e = e.cause;
  if (e instanceof AggregateError && e.errors.length > 0) e = e.errors[0];
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    return e.message || (typeof code === 'string' ? code : e.name);
  }
  return String(e);
}
