/**
 * The control plane's HTTP surface, assembled: the router (auth middleware, permission table,
 * one error type) over the route modules — probes, session, topology, traffic, telemetry and
 * the gateway — plus the gauges that show on /metrics how much of each bounded resource is used.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Gauge } from 'prom-client';
import type { Authenticator } from '../auth/authenticator';
import { SignInLimiter } from '../auth/signInLimiter';
import { GATEWAY_PREFIX, type Gateway } from '../gateway/gateway';
import type { Logger } from '../log';
import { readGauge, type Metrics } from '../metrics';
import type { TelemetryReader } from '../telemetry/telemetryReader';
import type { TelemetryStore } from '../telemetry/telemetryStore';
import type { CallGraphStore } from '../telemetry/callGraphStore';
import type { GraphService } from '../graph/graphService';
import { graphRoutes } from './routes/graphRoutes';
import type { TopologyStore } from '../topology/topologyStore';
import type { TrafficService } from '../traffic/trafficService';
import type { RolloutService } from '../rollouts/rolloutService';
import { DEFAULT_BODY_LIMIT } from './bodyReader';
import { createRouter, type Route } from './router';
import { probeRoutes } from './routes/probeRoutes';
import { prometheusRoutes } from './routes/prometheusRoutes';
import { rolloutRoutes } from './routes/rolloutRoutes';
import { sessionRoutes } from './routes/sessionRoutes';
import { telemetryRoutes } from './routes/telemetryRoutes';
import { topologyRoutes } from './routes/topologyRoutes';
import { trafficRoutes } from './routes/trafficRoutes';
import { xdsRoutes } from './routes/xdsRoutes';
import type { XdsServer } from '../xds/xdsServer';

export { HttpError } from './httpError';
export { sendJson } from './router';

export interface ApiRouterDeps {
  store: TopologyStore;
  auth: Authenticator;
  metrics: Metrics;
  logger: Logger;
  /** Readiness beyond the store (e.g. Next prepared). @default () => true */
  extraReady?: () => boolean;
  /** Believe a reverse proxy's X-Forwarded-Proto/-For. @default false */
  trustProxy?: boolean;
  /** @default 12 h */
  sessionTtlMs?: number;
  /** Largest REST body. @default 65536 */
  bodyBytes?: number;
  /** Traffic control; without it the traffic endpoints answer 404. */
  traffic?: TrafficService;
  /** Progressive delivery; without it the rollout endpoints answer 404. */
  rollouts?: RolloutService;
  /** SDK client reports (breakers, request counters); without it those endpoints answer 404. */
  telemetry?: TelemetryStore;
  /** Where charts are read from (config `telemetry.store`). @default the built-in store above */
  telemetryReader?: TelemetryReader;
  /** Caller → callee edges from the same reports (the service graph). */
  callGraph?: CallGraphStore;
  /** The service graph; without it /api/graph answers 404. */
  graph?: GraphService;
  /** `/gw/<service>/…`; without it those paths answer 404. */
  gateway?: Gateway;
  /** The xDS server (config `xds`); without it the xDS endpoints answer 404. */
  xds?: Pick<XdsServer, 'clients' | 'mesh'>;
  /** Sign-in throttling. @default a SignInLimiter with its defaults */
  limiter?: SignInLimiter;
  /** Limits shown on /metrics beside their use. */
  limits?: Record<string, number>;
  now?: () => number;
}

const OWN_EXACT = new Set(['/healthz', '/readyz', '/metrics']);

export function createApiRouter(deps: ApiRouterDeps): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const { store, auth, metrics } = deps;
  const bodyBytes = deps.bodyBytes ?? DEFAULT_BODY_LIMIT;
  const limiter = deps.limiter ?? new SignInLimiter();
  const routes: Route[] = [
    ...probeRoutes({ store, metrics, extraReady: deps.extraReady }),
    ...sessionRoutes({ auth, limiter, trustProxy: deps.trustProxy ?? false, sessionTtlMs: deps.sessionTtlMs ?? 12 * 3600_000, bodyBytes }),
    ...topologyRoutes(store),
    ...(deps.traffic ? trafficRoutes(deps.traffic, bodyBytes) : []),
    ...(deps.rollouts ? rolloutRoutes(deps.rollouts, bodyBytes) : []),
    ...(deps.xds ? xdsRoutes(deps.xds) : []),
    ...(deps.graph ? graphRoutes(deps.graph) : []),
    ...(deps.telemetry ? telemetryRoutes({ telemetry: deps.telemetry, reader: deps.telemetryReader, store, bodyBytes, now: deps.now ?? Date.now, ...(deps.callGraph ? { callGraph: deps.callGraph } : {}) }) : []),
    ...prometheusRoutes(store),
  ];
  const gateway = deps.gateway;
  if (gateway) {
    routes.push({ method: '*', path: /^\/gw\//, permission: 'gateway', bearerOnly: true, handler: ({ req, res, path, query }) => gateway.handle(req, res, { path, query }) });
  }
  registerResourceGauges(deps, limiter);
  return createRouter(routes, {
    auth,
    logger: deps.logger,
    owns: (path) => path.startsWith('/api/') || path.startsWith(GATEWAY_PREFIX) || OWN_EXACT.has(path),
  });
}

/** How much of each bounded resource is in use, beside its limit. */
function registerResourceGauges(deps: ApiRouterDeps, limiter: SignInLimiter): void {
  const { registry } = deps.metrics;
  const gauge = (name: string, help: string, read: () => number) => readGauge(registry, name, help, read);
  gauge('switchboard_sessions', 'Live browser sessions (bounded by limits.sessions)', () => deps.auth.sessionCount);
  gauge('switchboard_signin_tracked_keys', 'Addresses and user names the sign-in limiter remembers (bounded)', () => limiter.trackedKeys);
  if (deps.telemetry) {
    const t = deps.telemetry;
    gauge('switchboard_telemetry_series', 'Telemetry series held (bounded by limits.telemetrySeries)', () => t.seriesCount);
    gauge('switchboard_telemetry_clients', 'Reporting SDK clients held (bounded by limits.telemetrySeries)', () => t.clientCount);
    gauge('switchboard_telemetry_dropped_total', 'Telemetry dropped because a bound was reached', () => t.dropped);
  }
  if (deps.callGraph) {
    const c = deps.callGraph;
    gauge('switchboard_callgraph_series', 'Caller → callee instance series held for the service graph (bounded)', () => c.seriesCount);
    gauge('switchboard_callgraph_dropped_total', 'Call-graph reports dropped because a bound was reached', () => c.dropped);
  }
  if (deps.gateway) {
    const g = deps.gateway;
    gauge('switchboard_gateway_clients', 'Services the gateway holds a registry watch for (bounded by limits.gatewayClients)', () => g.clientCount);
  }
  const gatewayRequests = deps.metrics.gatewayRequests;
  new Gauge({
    name: 'switchboard_metric_label_sets',
    help: 'Label combinations of metrics whose labels come from requests (bounded by the topology)',
    labelNames: ['metric'] as const,
    registers: [registry],
    async collect() {
      this.set({ metric: 'switchboard_gateway_requests_total' }, (await gatewayRequests.get()).values.length);
    },
  });
  if (deps.limits) {
    const limits = deps.limits;
    new Gauge({
      name: 'switchboard_limit',
      help: 'Configured bounds (config limits.*)',
      labelNames: ['limit'] as const,
      registers: [registry],
      collect() {
        for (const [k, v] of Object.entries(limits)) this.set({ limit: k }, v);
      },
    });
  }
}
