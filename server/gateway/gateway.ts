/**
 * Server-side discovery for callers that embed nothing: `/gw/<service>/<path>` is routed
 * through the SDK's ServiceClient, so it obeys the same traffic policy (weights, drain) as
 * every embedded client. Not an open proxy: the router lets only Bearer callers with the
 * `gateway` permission through, and only instances the registry lists for that service are
 * reached.
 *
 * Each routed service holds a ServiceClient (two registry long-polls). They are bounded: a
 * client idle for `idleMs` is closed, and at `maxClients` the least recently used idle one makes
 * room (Consul caps connections per client address at 200). Metrics label only services that
 * exist in the topology, so callers cannot mint label values.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { TelemetryReport } from '../../protocol/telemetry';
import { NoEndpointError, ServiceClient } from '../../sdk/serviceClient';
import { readBody } from '../http/bodyReader';
import { HttpError } from '../http/httpError';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { TopologyStore } from '../topology/topologyStore';

export const GATEWAY_PREFIX = '/gw/';
const READY_TIMEOUT_MS = 5_000;
// Hop-by-hop headers (RFC 9110 §7.6.1) and the caller's credentials stay on this side.
const DROP_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'authorization', 'cookie', 'content-length', 'expect']);
// fetch has already decoded the body, so its original encoding and length no longer apply.
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-encoding', 'content-length', 'trailer', 'upgrade']);

export interface GatewayDeps {
  store: TopologyStore;
  metrics: Metrics;
  logger: Logger;
  /** How to discover a source's services (a Consul-compatible registry, or a Kubernetes cluster), or null if the gateway cannot route through it. */
  registryFor(sourceId: string): GatewayRegistry | null;
  /** Service clients held at once. @default 50 (config `limits.gatewayClients`) */
  maxClients?: number;
  /** A client unused this long is closed. @default 5 min */
  idleMs?: number;
  /** Largest request body forwarded. @default 1 MiB */
  maxBodyBytes?: number;
  now?: () => number;
}

export type GatewayRegistry =
  | { kind: 'consul'; address: string; token: string | null }
  | { kind: 'kubernetes'; kubeconfig: string | null; context: string | null; inCluster: boolean };

interface Target {
  id: string;
  sourceId: string;
  scope: string;
  name: string;
}

interface RouteEntry {
  target: Target;
  client: ServiceClient;
  lastUsed: number;
  inFlight: number;
}

export class Gateway {
  /** By service name, least recently used first: where it was found and the client routing to it. */
  private readonly routes = new Map<string, RouteEntry>();
  private readonly maxClients: number;
  private readonly idleMs: number;
  private readonly maxBody: number;
  private readonly now: () => number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly deps: GatewayDeps) {
    this.maxClients = deps.maxClients ?? 50;
    this.idleMs = deps.idleMs ?? 5 * 60_000;
    this.maxBody = deps.maxBodyBytes ?? 1024 * 1024;
    this.now = deps.now ?? Date.now;
    this.sweeper = setInterval(() => this.evictIdle(), Math.max(1000, Math.min(60_000, this.idleMs / 2)));
    this.sweeper.unref();
  }

  /** Service clients currently held (for /metrics). */
  get clientCount(): number {
    return this.routes.size;
  }

  /** Proxies one request; the caller is already authorized (router: `gateway`, Bearer only). */
  async handle(req: IncomingMessage, res: ServerResponse, target: { path: string; query: URLSearchParams }): Promise<void> {
    const rest = target.path.slice(GATEWAY_PREFIX.length);
    const slash = rest.indexOf('/');
    let name: string;
    try {
      name = decodeURIComponent(slash === -1 ? rest : rest.slice(0, slash));
    } catch {
      throw new HttpError('bad_request', 'malformed service name in the path');
    }
    const search = target.query.toString();
    const path = `${slash === -1 ? '/' : rest.slice(slash)}${search ? `?${search}` : ''}`;
    const route = this.route(name);
    if (!route) {
      this.count('-', 'unknown_service');
      throw new HttpError('not_found', `no registered service named "${name}"`);
    }
    const count = (outcome: string) => this.count(route.target.name, outcome);
    route.inFlight++;
    route.lastUsed = this.now();
    try {
      let body: Buffer | undefined;
      try {
        body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req, { limit: this.maxBody });
      } catch (err) {
        count('refused');
        throw err;
      }
      await this.forward(req, res, route, path, body, count);
    } finally {
      route.inFlight--;
      route.lastUsed = this.now();
    }
  }

  private async forward(req: IncomingMessage, res: ServerResponse, route: RouteEntry, path: string, body: Buffer | undefined, count: (outcome: string) => void): Promise<void> {
    const { target, client } = route;
    try {
      await client.ready(READY_TIMEOUT_MS);
      const { response, endpoint, attempts } = await client.request(path, { method: req.method, headers: forwardHeaders(req), body: body?.length ? new Uint8Array(body) : undefined });
      const headers: Record<string, string> = {};
      response.headers.forEach((v, k) => {
        if (!DROP_RESPONSE.has(k)) headers[k] = v;
      });
      headers['x-switchboard-service'] = target.id;
      headers['x-switchboard-instance'] = endpoint.id;
      if (endpoint.subset) headers['x-switchboard-subset'] = endpoint.subset;
      headers['x-switchboard-attempts'] = String(attempts);
      res.writeHead(response.status, headers);
      count(`${Math.floor(response.status / 100)}xx`);
      if (response.body) await pipe(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), res);
      else res.end();
    } catch (err) {
      // The instance failed mid-body: the router cuts the response so the caller sees it was incomplete.
      if (res.headersSent) throw err;
      if (err instanceof NoEndpointError) {
        count('no_instance');
        throw new HttpError('unavailable', err.message);
      }
      count('unreachable');
      this.deps.logger.warn({ service: target.id, err: (err as Error).message }, 'gateway request failed');
      throw new HttpError('bad_gateway', `${target.name}: no instance answered (${(err as Error).message})`);
    }
  }

  /** What the gateway's own clients would report, for the control plane to take in-process. */
  telemetry(): TelemetryReport[] {
    return [...this.routes.values()].map((r) => r.client.telemetry());
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.routes.values()].map((r) => r.client.close()));
    this.routes.clear();
  }

  /** Closes clients nobody used for `idleMs`; returns how many. */
  evictIdle(): number {
    const cutoff = this.now() - this.idleMs;
    let n = 0;
    for (const [name, r] of this.routes) {
      if (r.inFlight === 0 && r.lastUsed <= cutoff) {
        this.drop(name, r);
        n++;
      }
    }
    return n;
  }

  private drop(name: string, r: RouteEntry): void {
    this.routes.delete(name);
    void r.client.close().catch(() => undefined);
  }

  private count(service: string, outcome: string): void {
    this.deps.metrics.gatewayRequests.inc({ service, outcome });
  }

  /**
   * The route for a service name, looked up in the topology on its first request only (later
   * requests skip the scan); with the same name in several sources or datacenters, the first in
   * config order.
   */
  private route(name: string): RouteEntry | null {
    const cached = this.routes.get(name);
    if (cached) {
      // Re-inserted: the map's order is least recently used first.
      this.routes.delete(name);
      this.routes.set(name, cached);
      return cached;
    }
    if (!name) return null;
    const found = this.deps.store.servicesNamed(name).find((s) => this.deps.registryFor(s.sourceId) !== null);
    if (!found) return null;
    if (this.routes.size >= this.maxClients) {
      const idle = [...this.routes].find(([, r]) => r.inFlight === 0);
      if (!idle) throw new HttpError('unavailable', `the gateway is routing to ${this.maxClients} services already (limits.gatewayClients); retry shortly`, { headers: { 'retry-after': '1' } });
      this.drop(idle[0], idle[1]);
    }
    const target: Target = { id: found.id, sourceId: found.sourceId, scope: found.scope, name: found.name };
    const registry = this.deps.registryFor(target.sourceId)!;
    const where =
      registry.kind === 'consul'
        ? { registry: registry.address, token: registry.token, datacenter: target.scope }
        : { kubernetes: { namespace: target.scope, kubeconfig: registry.kubeconfig ?? undefined, context: registry.context ?? undefined, inCluster: registry.inCluster } };
    const client = new ServiceClient({
      ...where,
      service: target.name,
      caller: 'switchboard-gateway',
      onError: (e) => this.deps.logger.debug({ service: target.id, err: e.message }, 'gateway watch trouble; serving last-known-good'),
    }).start();
    const route: RouteEntry = { target, client, lastUsed: this.now(), inFlight: 0 };
    this.routes.set(name, route);
    return route;
  }
}

function forwardHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || DROP_REQUEST.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  const peer = req.socket.remoteAddress ?? '';
  out['x-forwarded-for'] = out['x-forwarded-for'] ? `${out['x-forwarded-for']}, ${peer}` : peer;
  out['x-forwarded-host'] = req.headers.host ?? '';
  return out;
}

function pipe(from: Readable, to: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    from.on('error', () => {
      to.destroy();
      resolve();
    });
    to.on('close', resolve);
    from.pipe(to);
  });
}
