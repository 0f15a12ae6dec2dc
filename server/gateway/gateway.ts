/**
 * Server-side discovery for callers that embed nothing: `/gw/<service>/<path>` is routed
 * through the SDK's ServiceClient, so it obeys the same traffic policy (weights, drain) as
 * every embedded client. Not an open proxy: callers present a Bearer token (the `client`
 * role is enough), and only instances the registry lists for that service are reached.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { TelemetryReport } from '../../protocol/telemetry';
import { NoEndpointError, ServiceClient } from '../../sdk/serviceClient';
import { type Authenticator, hasRole } from '../auth/authenticator';
import { sendJson } from '../http/apiRouter';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { TopologyStore } from '../topology/topologyStore';

export const GATEWAY_PREFIX = '/gw/';
const MAX_BODY = 1024 * 1024;
const READY_TIMEOUT_MS = 5_000;
// Hop-by-hop headers (RFC 9110 §7.6.1) and the caller's credentials stay on this side.
const DROP_REQUEST = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'authorization', 'cookie', 'content-length', 'expect']);
// fetch has already decoded the body, so its original encoding and length no longer apply.
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-encoding', 'content-length', 'trailer', 'upgrade']);

export interface GatewayDeps {
  store: TopologyStore;
  auth: Authenticator;
  metrics: Metrics;
  logger: Logger;
  /** How to discover a source's services (a Consul-compatible registry, or a Kubernetes cluster), or null if the gateway cannot route through it. */
  registryFor(sourceId: string): GatewayRegistry | null;
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

export class Gateway {
  /** By service name: where it was found and the client routing to it (one watch per service, reused by every request). */
  private readonly routes = new Map<string, { target: Target; client: ServiceClient }>();

  constructor(private readonly deps: GatewayDeps) {}

  /** Handles `/gw/…`; returns false for any other path. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith(GATEWAY_PREFIX)) return false;
    const rest = url.pathname.slice(GATEWAY_PREFIX.length);
    const slash = rest.indexOf('/');
    const name = decodeURIComponent(slash === -1 ? rest : rest.slice(0, slash));
    const path = `${slash === -1 ? '/' : rest.slice(slash)}${url.search}`;
    const count = (outcome: string) => this.deps.metrics.gatewayRequests.inc({ service: name || '-', outcome });

    const principal = this.deps.auth.authenticate(req);
    if (principal === null || principal === 'invalid' || principal.via !== 'bearer' || !hasRole(principal, 'client')) {
      count('refused');
      sendJson(res, 401, { error: 'the gateway needs Authorization: Bearer <token> (role client or above)' });
      return true;
    }
    const route = this.route(name);
    if (!route) {
      count('refused');
      sendJson(res, 404, { error: `no registered service named "${name}"` });
      return true;
    }
    let body: Buffer | undefined;
    try {
      body = await readBody(req);
    } catch {
      count('refused');
      sendJson(res, 413, { error: `request body larger than ${MAX_BODY} bytes` });
      return true;
    }
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
      if (res.headersSent) {
        // The instance failed mid-body: cut the response so the caller sees it was incomplete.
        res.destroy();
        return true;
      }
      if (err instanceof NoEndpointError) {
        count('no_instance');
        sendJson(res, 503, { error: err.message });
      } else {
        count('unreachable');
        this.deps.logger.warn({ service: target.id, err: (err as Error).message }, 'gateway request failed');
        sendJson(res, 502, { error: `${name}: no instance answered (${(err as Error).message})` });
      }
    }
    return true;
  }

  /** What the gateway's own clients would report, for the control plane to take in-process. */
  telemetry(): TelemetryReport[] {
    return [...this.routes.values()].map((r) => r.client.telemetry());
  }

  async close(): Promise<void> {
    await Promise.all([...this.routes.values()].map((r) => r.client.close()));
    this.routes.clear();
  }

  /**
   * The route for a service name, looked up in the topology on its first request only (later
   * requests skip the scan); with the same name in several sources or datacenters, the first in
   * config order.
   */
  private route(name: string): { target: Target; client: ServiceClient } | null {
    const cached = this.routes.get(name);
    if (cached || !name) return cached ?? null;
    const found = this.deps.store.servicesNamed(name).find((s) => this.deps.registryFor(s.sourceId) !== null);
    if (!found) return null;
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
    const route = { target, client };
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

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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
