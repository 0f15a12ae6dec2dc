/**
 * Assembles one Switchboard: config → sources → topology store → realtime hub + API.
 * Independent of Next, so integration tests can run the whole control plane on port 0.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { startDemoFleet, type DemoFleet } from '../demo/demoFleet';
import { startLoadGenerator, type LoadGenerator } from '../demo/loadGenerator';
import { ensureAdminCredential } from './auth/adminCredential';
import { Authenticator, allows, sameOrigin } from './auth/authenticator';
import { ConsulSignOuts } from './auth/sharedSignOuts';
import { EMBEDDED_SOURCE, type Config } from './config/loadConfig';
import { startEmbeddedRegistry, type EmbeddedRegistry } from '../registry/embeddedRegistry';
import { Gateway, type GatewayRegistry } from './gateway/gateway';
import { createApiRouter } from './http/apiRouter';
import { drainBody } from './http/bodyReader';
import type { Logger } from './log';
import { createMetrics, type Metrics } from './metrics';
import { OpenServices } from './realtime/openServices';
import { RealtimeHub } from './realtime/realtimeHub';
import { namedConsulSource, type ConsulSource } from './sources/consul/consulSource';
import { DnsSource } from './sources/dns/dnsSource';
import { loadKubeConfig } from '../clients/kubernetes/kubeConfig';
import { KubernetesSource } from './sources/kubernetes/kubernetesSource';
import type { Source } from './sources/source';
import type { EarlySources } from './sources/earlySources';
import { TelemetryStore } from './telemetry/telemetryStore';
import { CallGraphStore } from './telemetry/callGraphStore';
import { GraphService } from './graph/graphService';
import { BuiltinTelemetryReader, type TelemetryReader } from './telemetry/telemetryReader';
import { PrometheusGraphEdges, PrometheusTelemetry } from './telemetry/prometheusTelemetry';
import { TopologyStore } from './topology/topologyStore';
import { ConsulTrafficStore } from './traffic/consulTrafficStore';
import { KubernetesTrafficStore } from './traffic/kubernetesTrafficStore';
import type { TrafficStore } from './traffic/trafficStore';
import { TrafficService } from './traffic/trafficService';
import { XdsServer } from './xds/xdsServer';
import { ConsulRolloutStore } from './rollouts/consulRolloutStore';
import { KubernetesRolloutStore } from './rollouts/kubernetesRolloutStore';
import { ConsulLeaderElector, KubernetesLeaseElector, replicaIdentity, type LeaderElector } from './rollouts/leaderElection';
import { RolloutController } from './rollouts/rolloutController';
import { TelemetryRolloutMetrics } from './rollouts/rolloutMetrics';
import type { RolloutStore } from './rollouts/rolloutStore';
import { RolloutService } from './rollouts/rolloutService';

export interface SwitchboardOptions {
  config: Config;
  logger: Logger;
  /** Serves everything that is not API/WS (the Next request handler). Without it: 404. */
  fallback?: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  /** Other upgrade requests (Next HMR in dev). Without it such sockets are destroyed. */
  fallbackUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Builds sources from config; injectable for tests. */
  createSources?: (config: Config, deps: { logger: Logger; metrics: Metrics }) => Source[];
  /** Consul sources the boot started before this module loaded (server/index.ts). */
  earlySources?: EarlySources;
  /** @default HEARTBEAT_MS */
  heartbeatMs?: number;
  /** Rollout controller tuning (tests): pass interval, leader session/lease TTL, replica identity. */
  rollouts?: { pollMs?: number; ttlSeconds?: number; identity?: string };
}

export interface Switchboard {
  store: TopologyStore;
  metrics: Metrics;
  server: Server;
  hub: RealtimeHub;
  /** The xDS server (config `xds`), listening once listen() resolved. */
  xds: XdsServer | null;
  /** Progressive delivery: the REST-facing service and the (leader-elected) controller. */
  rollouts: RolloutService;
  rolloutController: RolloutController;
  telemetry: TelemetryStore;
  /** Caller → callee edges and the live service graph built from them. */
  callGraph: CallGraphStore;
  graph: GraphService;
  /** Where charts, edges and analysis are read: the built-in store, or Prometheus (config `telemetry.store`). */
  telemetryReader: TelemetryReader;
  /** The admin credential created on this start (no users configured, none stored yet): print it once. */
  firstStartCredential: { name: string; token: string; file: string } | null;
  /** Resolves with the bound port. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

function refuseUpgrade(socket: Duplex, status: 400 | 401 | 403, error: string): void {
  const text = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden' }[status];
  const body = JSON.stringify({ error });
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

export function defaultSources(config: Config, deps: { logger: Logger; metrics: Metrics }, early?: EarlySources): Source[] {
  early?.bindMetrics(deps.metrics);
  return [
    ...config.consulSources.map((c) => early?.consul.get(c.name) ?? consulSource(c, deps)),
    ...config.dnsSources.map((d) => new DnsSource(d, deps.logger.child({ source: d.name }))),
    ...config.kubernetesSources.map((k) => new KubernetesSource(k, deps.logger.child({ source: k.name }))),
  ];
}

function consulSource(c: ConstructorParameters<typeof ConsulSource>[0], deps: { logger: Logger; metrics: Metrics }): ConsulSource {
  return namedConsulSource(c, deps.logger, deps.metrics.watchLatency);
}

export function createSwitchboard(options: SwitchboardOptions): Switchboard {
  const { config, logger } = options;
  const store = new TopologyStore();
  const metrics = createMetrics(store);
  // No users configured: an admin credential from the data directory, created on first start.
  const admin = config.auth.users.length === 0 ? ensureAdminCredential(config.dataDir) : null;
  // The demo fleet's SDK clients report with a token that lives only as long as this process.
  const demoToken = config.embedded.demo ? randomBytes(24).toString('base64url') : null;
  const users = [...(admin ? [{ name: admin.name, role: admin.role, tokenSha256: admin.tokenSha256 }] : config.auth.users), ...(demoToken ? [{ name: 'demo-fleet', role: 'client' as const, token: demoToken }] : [])];
  // With session.secret, sessions are stateless encrypted cookies every replica with the same
  // secret accepts (sign-outs shared through the first Consul source's KV); without, they live
  // in this process (one replica).
  const signOutsVia = config.session.secret ? config.consulSources[0] : undefined;
  const sharedSignOuts = signOutsVia ? new ConsulSignOuts({ sourceName: signOutsVia.name, address: signOutsVia.address, token: signOutsVia.token, onError: (message) => logger.warn({ component: 'auth' }, message) }) : null;
  const auth = new Authenticator({ users, anonymousRole: config.auth.anonymousRole, sessionTtlMs: config.session.ttlMs, maxSessions: config.limits.sessions, sessionSecret: config.session.secret, sharedSignOuts, onError: (message) => logger.warn({ component: 'auth' }, message) });
  logger.info({ sessions: auth.stateless ? `stateless (session.secret): any replica with the same secret accepts them; sign-outs shared via ${auth.sharedSignOuts ?? 'nothing (this replica only, until the cookie expires)'}` : 'in memory: this replica only (set session.secret to run several)' }, 'browser sessions');
  // ~4 KB per caller × callee × instance series: the telemetry bound, capped so the graph stays under ~80 MB.
  const callGraph = new CallGraphStore({ maxSeries: Math.min(config.limits.telemetrySeries, 20_000) });
  // Telemetry store (config `telemetry.store`): with Prometheus, the graph's edges are read with PromQL too.
  const promConfig = config.telemetry?.store === 'prometheus' ? config.telemetry.prometheus : null;
  const prometheus = promConfig ? new PrometheusTelemetry(promConfig) : null;
  const graph = new GraphService({ store, edges: prometheus ? new PrometheusGraphEdges(prometheus) : callGraph });
  // Services someone has open get a close watch from their source (declared below; called only once clients connect).
  const openServices = new OpenServices((id, open) => {
    for (const source of sources) if (id.startsWith(`${source.id}/`)) source.focus?.(id, open);
  });
  const hub = new RealtimeHub({ store, logger: logger.child({ component: 'realtime' }), metrics, heartbeatMs: options.heartbeatMs, highWaterBytes: config.limits.wsOutboundBytes, graph, openServices });
  // A session that ends (sign-out, expiry, eviction) takes its open WebSockets with it.
  auth.onSessionEnd((sessionId, why) => hub.closeWhere((p) => p.sessionId === sessionId, why === 'signed out' ? 'signed out' : 'session ended'));
  // Every source here speaks Consul's KV API (the embedded registry included once it is up).
  const trafficStores = new Map<string, TrafficStore>(
    config.consulSources.map((c) => [c.name, new ConsulTrafficStore({ address: c.address, token: c.token })]),
  );
  for (const k of config.kubernetesSources) {
    try {
      trafficStores.set(k.name, new KubernetesTrafficStore(loadKubeConfig(k)));
    } catch {
      // The source reports the broken kubeconfig; without it there is nothing to write to.
    }
  }
  const traffic = new TrafficService({ storeFor: (id) => trafficStores.get(id) ?? null, service: (id) => store.loaded(id) });
  const telemetry = new TelemetryStore({ maxSeries: config.limits.telemetrySeries });
  const telemetryReader: TelemetryReader = prometheus ?? new BuiltinTelemetryReader(telemetry, callGraph);
  // On our /metrics: how reads from Prometheus go, and the gateway's SDK metrics for Prometheus to scrape.
  prometheus?.registerMetrics(metrics.registry);
  // Rollouts live beside the policies, in the same registries; one leader per source drives them.
  const identity = options.rollouts?.identity ?? replicaIdentity();
  const ttlSeconds = options.rollouts?.ttlSeconds;
  const rolloutStores = new Map<string, RolloutStore>(config.consulSources.map((c) => [c.name, new ConsulRolloutStore({ address: c.address, token: c.token })]));
  const electors = new Map<string, LeaderElector>(config.consulSources.map((c) => [c.name, new ConsulLeaderElector({ address: c.address, token: c.token, identity, ttlSeconds })]));
  for (const k of config.kubernetesSources) {
    try {
      const kc = loadKubeConfig(k);
      rolloutStores.set(k.name, new KubernetesRolloutStore(kc));
      const namespace = Array.isArray(k.namespaces) ? k.namespaces[0]! : 'default';
      electors.set(k.name, new KubernetesLeaseElector({ kubeConfig: kc, namespace, identity, leaseSeconds: ttlSeconds }));
    } catch {
      // The source reports the broken kubeconfig.
    }
  }
  let rolloutController: RolloutController | null = null;
  const rollouts = new RolloutService({
    storeFor: (id) => rolloutStores.get(id) ?? null,
    traffic,
    service: (id) => store.loaded(id),
    controllerStatus: (id) => rolloutController!.status(id),
    onWrite: (id, r) => {
      store.setRollout(id, { state: r.state, step: r.step, steps: r.steps.length });
      rolloutController?.kick();
    },
  });
  rolloutController = new RolloutController({
    rollouts,
    storeFor: (id) => rolloutStores.get(id) ?? null,
    sources: () => [...rolloutStores.keys()].map((id) => ({ id, scopes: store.source(id)?.scopes ?? [] })),
    electorFor: (id) => electors.get(id) ?? null,
    metrics: new TelemetryRolloutMetrics(telemetryReader),
    service: (id) => store.loaded(id),
    onBadge: (id, badge) => store.setRollout(id, badge),
    logger: logger.child({ component: 'rollouts' }),
    pollMs: options.rollouts?.pollMs,
  });
  const registries = new Map<string, GatewayRegistry>([
    ...config.consulSources.map((c) => [c.name, { kind: 'consul', address: c.address, token: c.token }] as const),
    ...config.kubernetesSources.map((k) => [k.name, { kind: 'kubernetes', kubeconfig: k.kubeconfig, context: k.context, inCluster: k.inCluster }] as const),
  ]);
  const gateway = new Gateway({ store, metrics, logger: logger.child({ component: 'gateway' }), registryFor: (id) => registries.get(id) ?? null, maxClients: config.limits.gatewayClients });
  // Data planes (gRPC xDS clients, Envoy) on their own port; client (or admin) tokens, as for the gateway.
  // The demo speaks gRPC too (payment-grpc, called over xDS): without an xds block it gets xDS on
  // loopback port 18700 (SWITCHBOARD_DEMO_XDS_PORT moves it; 0: any free port), anonymous streams admitted there only.
  const xdsConfig = config.xds ?? (config.embedded.demo ? { port: process.env.SWITCHBOARD_DEMO_XDS_PORT ? Number(process.env.SWITCHBOARD_DEMO_XDS_PORT) : 18700, host: '127.0.0.1', allowAnonymous: true } : null);
  const xds = xdsConfig
    ? new XdsServer({ store, logger: logger.child({ component: 'xds' }), host: xdsConfig.host, port: xdsConfig.port, allowAnonymous: xdsConfig.allowAnonymous, userForToken: (t) => auth.userForToken(t) })
    : null;
  const api = createApiRouter({
    store,
    auth,
    metrics,
    logger: logger.child({ component: 'http' }),
    traffic,
    rollouts,
    telemetry,
    callGraph,
    graph,
    telemetryReader,
    gateway,
    ...(xds ? { xds } : {}),
    trustProxy: config.listen.trustProxy,
    sessionTtlMs: config.session.ttlMs,
    bodyBytes: config.limits.bodyBytes,
    limits: config.limits,
  });
  const sources = options.createSources ? options.createSources(config, { logger, metrics }) : defaultSources(config, { logger, metrics }, options.earlySources);

  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (await api(req, res)) return;
        if (options.fallback) await options.fallback(req, res);
        else {
          await drainBody(req);
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'not found' }));
        }
      } catch (err) {
        logger.error({ err, url: req.url }, 'request failed');
        // Answered once: a response already under way is cut rather than appended to.
        if (res.headersSent) res.destroy();
        else res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'internal error' }));
      }
    })();
  });

  server.on('upgrade', (req, socket, head) => {
    // Nothing thrown here may escape (it would take the process down) or leave the socket hanging.
    try {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path !== '/api/ws') {
        if (options.fallbackUpgrade) options.fallbackUpgrade(req, socket, head);
        else socket.destroy();
        return;
      }
      // Any page in a browser sends Origin: only our own pages may open the socket, whatever the
      // credential (cookie, or anonymous access on a loopback listener). Non-browser clients send none.
      if (req.headers.origin !== undefined && !sameOrigin(req)) return refuseUpgrade(socket, 403, 'cross-origin WebSocket refused');
      // A stateless session cookie is opened asynchronously; the socket may fail meanwhile.
      const failed = () => socket.destroy();
      socket.on('error', failed);
      void auth.authenticate(req).then(
        (principal) => {
          socket.off('error', failed);
          if (socket.destroyed) return;
          try {
            if (principal === 'invalid' || principal === null) return refuseUpgrade(socket, 401, 'sign in required');
            if (principal.via === 'session' && !sameOrigin(req)) return refuseUpgrade(socket, 403, 'cross-origin WebSocket refused');
            // The WebSocket carries the topology: the same permission as GET /api/topology.
            if (!allows(principal, 'topology:read')) return refuseUpgrade(socket, 403, `role ${principal.role} may not read the topology`);
            hub.handleUpgrade(req, socket, head, principal);
          } catch (err) {
            logger.warn({ err, url: req.url }, 'websocket upgrade failed');
            refuseUpgrade(socket, 400, 'bad upgrade request');
          }
        },
        (err: unknown) => {
          socket.off('error', failed);
          logger.warn({ err, url: req.url }, 'websocket upgrade failed');
          refuseUpgrade(socket, 400, 'bad upgrade request');
        },
      );
    } catch (err) {
      logger.warn({ err, url: req.url }, 'websocket upgrade failed');
      refuseUpgrade(socket, 400, 'bad upgrade request');
    }
  });

  // Once a second: the gateway reports like any SDK client (in-process), and clients that went
  // silent age out of the breaker views.
  const telemetryTick = setInterval(() => {
    const now = Date.now();
    const touched = new Set(telemetry.prune(now));
    callGraph.prune(now);
    for (const report of gateway.telemetry()) {
      if (report.instances.length === 0) continue;
      telemetry.ingest(report, now);
      callGraph.ingest(report, now);
      touched.add(report.service);
    }
    if (!prometheus) for (const service of touched) store.setBreakers(service, telemetry.breakerViews(service));
  }, 1000);
  telemetryTick.unref();
  // With Prometheus as the store, breaker badges follow its breaker series (polled, pushed on change).
  const stopBreakerWatch = prometheus?.watchBreakers((service, views) => store.setBreakers(service, views)) ?? null;

  // A pending service (listed from a registry's summary, instances not read yet) that someone
  // needs is read ahead by its source.
  store.onDemand((id) => {
    for (const source of sources) if (id.startsWith(`${source.id}/`)) source.want?.(id);
  });
  for (const source of sources) {
    store.addSource({ id: source.id, kind: source.kind, name: source.name, address: source.address });
  }
  let registry: EmbeddedRegistry | null = null;
  let fleet: DemoFleet | null = null;
  let fleetStarting: Promise<unknown> | null = null;
  let load: LoadGenerator | null = null;

  const startSource = (source: Source) => {
    let ready = false;
    source.start((event) => {
      try {
        store.apply(source.id, event);
      } catch (err) {
        logger.error({ err, source: source.id, event: event.type }, 'could not apply source event');
      }
      // How long a start took, from the process' start (module loading included): one line per source.
      if (!ready && event.type === 'status' && event.state === 'ok') {
        ready = true;
        logger.info({ source: source.id, msSinceProcessStart: Math.round(performance.now()), detail: event.detail ?? undefined }, 'source ready');
      }
    });
  };

  return {
    store,
    metrics,
    server,
    hub,
    xds,
    rollouts,
    rolloutController,
    telemetry,
    callGraph,
    graph,
    telemetryReader,
    firstStartCredential: admin?.token ? { name: admin.name, token: admin.token, file: admin.file } : null,
    async listen() {
      if (config.embedded.enabled) {
        registry = await startEmbeddedRegistry({
          dataDir: config.dataDir,
          host: '127.0.0.1',
          httpPort: config.embedded.httpPort,
          dnsPort: config.embedded.dnsPort,
          dnsTtlSeconds: config.embedded.dnsTtlSeconds,
          allowedHosts: config.embedded.allowedHosts,
        });
        const embedded = consulSource({ kind: 'embedded', name: EMBEDDED_SOURCE, address: registry.httpAddr, token: null, datacenters: 'all' }, { logger, metrics });
        sources.push(embedded);
        trafficStores.set(EMBEDDED_SOURCE, new ConsulTrafficStore({ address: registry.httpAddr, token: null }));
        rolloutStores.set(EMBEDDED_SOURCE, new ConsulRolloutStore({ address: registry.httpAddr, token: null }));
        electors.set(EMBEDDED_SOURCE, new ConsulLeaderElector({ address: registry.httpAddr, token: null, identity, ttlSeconds }));
        registries.set(EMBEDDED_SOURCE, { kind: 'consul', address: registry.httpAddr, token: null });
        store.addSource({ id: embedded.id, kind: embedded.kind, name: embedded.name, address: embedded.address });
        logger.info({ address: registry.httpAddr, dns: registry.dnsAddr, dataDir: config.dataDir }, 'embedded registry listening');
      }
      for (const source of sources) startSource(source);
      rolloutController.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.listen.port, config.listen.host, () => resolve());
      });
      const port = (server.address() as AddressInfo).port;
      await xds?.start();
      logger.info({ host: config.listen.host, port, sources: sources.map((s) => s.id), msSinceProcessStart: Math.round(performance.now()) }, 'switchboard listening');
      if (registry && config.embedded.demo) {
        const registryAddr = registry.httpAddr;
        // The dashboard is already up; the fleet appears in it as each service registers.
        const report = { url: `http://${config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host}:${port}`, token: demoToken! };
        fleetStarting = startDemoFleet({ registryAddr, report, ...(xds ? { mesh: { xdsPort: xds.port, token: demoToken! } } : {}), onLog: (line) => logger.debug({ demo: line }, 'demo service') })
          .then((f) => {
            fleet = f;
            load = startLoadGenerator({ registryAddr, report });
            logger.info({ instances: f.instances.length }, 'demo fleet running');
          })
          .catch((err) => logger.error({ err }, 'demo fleet failed to start'));
      }
      return port;
    },
    async close() {
      // Demo services deregister as they stop, so stop them while the registry still answers.
      await fleetStarting;
      await load?.stop();
      await fleet?.stop();
      clearInterval(telemetryTick);
      stopBreakerWatch?.();
      await rolloutController.stop();
      await Promise.allSettled(sources.map((s) => s.stop()));
      await gateway.close();
      await xds?.close();
      auth.close();
      await registry?.close();
      graph.close();
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
