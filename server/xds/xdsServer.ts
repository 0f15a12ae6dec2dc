/**
 * Switchboard as an xDS control plane (ADS, API v3, state of the world) on its own port
 * (config `xds.port`). Data planes — gRPC channels with @grpc/grpc-js-xds, Envoy — open one
 * `StreamAggregatedResources` stream and get Listener → RouteConfiguration → Cluster →
 * ClusterLoadAssignment for the services they dial (scheme: xdsResources.ts).
 *
 * Topology deltas recompute only the services they touch (XdsResourceCache) and go only to the
 * streams that subscribe to a changed name. Requests are decoded here, not by grpc-js, so a
 * malformed message, an unknown type URL, a NACK or a client that never ACKs is recorded on its
 * connection (GET /api/xds/clients, the Mesh tab) and never ends the process or other streams.
 *
 * Auth: `authorization: Bearer <token>` metadata of a user whose role has the `xds` permission
 * (client, admin). @grpc/grpc-js-xds 1.14 cannot attach call credentials or metadata to its ADS
 * stream (only `insecure`/`google_default` channel creds), so a token may also come as the
 * string field `switchboard.token` of the bootstrap's node.metadata, checked on the first
 * request before anything is sent; `xds.allowAnonymous` (loopback only) admits streams without.
 */
import * as grpc from '@grpc/grpc-js';
import { can, type Role } from '../../protocol/api';
import { XDS_TYPE_URLS, XdsResourceType, type MeshResponse, type XdsClient, type XdsClientsResponse } from '../../protocol/xds';
import type { Logger } from '../log';
import type { Delta } from '../topology/topologyStore';
import { subscriptionOf, XdsConnection } from './xdsConnection';
import { ADS_METHOD_PATH, xdsProtos } from './xdsProtos';
import { XdsResourceCache, type XdsChanges, type XdsTopology } from './xdsResourceCache';

export const NODE_TOKEN_FIELD = 'switchboard.token';

export interface XdsServerOptions {
  /** The topology: `service(id)`, every current id, and its deltas. TopologyStore fits. */
  store: XdsTopology & {
    subscribe(listener: (delta: Delta) => void): () => void;
    summarySnapshot(): { services: { id: string }[] };
    demand(id: string): void;
    sources(): readonly { lastSyncAt: string | null }[];
    readonly pendingCount: number;
  };
  logger: Logger;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 = any free port. */
  port: number;
  /** Token → user; without it every stream is admitted (tests, a trusted network). */
  userForToken?: (token: string) => { name: string; role: Role } | null;
  /** Admit streams without a token (only sensible on loopback; config enforces that). @default false */
  allowAnonymous?: boolean;
  /** A stream that has not authenticated within this time is refused. @default 10000 */
  authTimeoutMs?: number;
  /**
   * How long after start() a name not served yet may still be in a registry not read yet, so
   * that answers naming it are held rather than sent without it (see `unread`). Ends earlier
   * once every source has synced. @default 30000
   */
  startupHoldMs?: number;
  now?: () => number;
}

interface DecodedRequest {
  version_info: string;
  node?: { id?: string; cluster?: string; user_agent_name?: string; user_agent_version?: string; metadata?: { fields?: Record<string, { string_value?: string; stringValue?: string }> } } | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code?: number; message?: string } | null;
}

type Incoming = { ok: true; request: DecodedRequest } | { ok: false; error: string };

const TYPE_BY_URL = new Map<string, XdsResourceType>(XdsResourceType.options.map((t) => [XDS_TYPE_URLS[t], t]));

function decodeRequest(buf: Buffer): Incoming {
  try {
    const { DiscoveryRequest } = xdsProtos();
    const msg = DiscoveryRequest.decode(buf);
    return { ok: true, request: DiscoveryRequest.toObject(msg, { longs: String, enums: String, defaults: true, arrays: true }) as DecodedRequest };
  } catch (err) {
    return { ok: false, error: `malformed DiscoveryRequest (${buf.length} bytes): ${(err as Error).message}` };
  }
}

type AdsCall = grpc.ServerDuplexStream<Incoming, Buffer>;

export class XdsServer {
  readonly cache: XdsResourceCache;
  private server: grpc.Server | null = null;
  private readonly connections = new Map<string, { conn: XdsConnection; call: AdsCall }>();
  /** Per type: resource name → streams subscribing to it, and the wildcard streams. */
  private readonly subscribers: Record<XdsResourceType, Map<string, Set<string>>> = { listener: new Map(), route: new Map(), cluster: new Map(), endpoint: new Map() };
  private readonly wildcard: Record<XdsResourceType, Set<string>> = { listener: new Set(), route: new Set(), cluster: new Set(), endpoint: new Set() };
  /** Encoded response bodies (all but the nonce) by type, version and name set: shared by every stream asking the same. */
  private readonly bodies: Record<XdsResourceType, { version: string; byKey: Map<string, Buffer> }> = {
    listener: { version: '', byKey: new Map() },
    route: { version: '', byKey: new Map() },
    cluster: { version: '', byKey: new Map() },
    endpoint: { version: '', byKey: new Map() },
  };
  private unsubscribe: (() => void) | null = null;
  private nextStream = 0;
  private nextNonce = 0;
  private readonly now: () => number;
  private boundPort = 0;
  /** Streams with an answer held back by `unread`; retried on every topology change. */
  private readonly held = new Set<string>();
  private holdTimer: NodeJS.Timeout | null = null;
  private settled = false;
  private holdOver = false;

  constructor(private readonly options: XdsServerOptions) {
    this.now = options.now ?? Date.now;
    this.cache = new XdsResourceCache(options.store);
  }

  get port(): number {
    return this.boundPort;
  }

  get clientCount(): number {
    return this.connections.size;
  }

  /** Builds every resource, follows the store, and listens. Resolves with the bound port. */
  async start(): Promise<number> {
    if (!this.unsubscribe) {
      this.cache.update(this.options.store.summarySnapshot().services.map((s) => s.id));
      this.unsubscribe = this.options.store.subscribe((delta) => this.onDelta(delta));
      // The timer itself ends the hold (not a deadline compared with the clock, which a timer may
      // fire a millisecond short of, leaving what it found held until the next change).
      this.holdTimer = setTimeout(() => {
        this.holdOver = true;
        this.retryHeld();
      }, this.options.startupHoldMs ?? 30_000);
      this.holdTimer.unref();
    }
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
    const definition: grpc.ServiceDefinition = {
      StreamAggregatedResources: {
        path: ADS_METHOD_PATH,
        requestStream: true,
        responseStream: true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: decodeRequest,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    };
    server.addService(definition, { StreamAggregatedResources: (call: AdsCall) => this.onStream(call) });
    const host = this.options.host ?? '127.0.0.1';
    const target = `${host.includes(':') ? `[${host}]` : host}:${this.options.port || this.boundPort}`;
    this.boundPort = await new Promise<number>((resolve, reject) => server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
    this.server = server;
    this.options.logger.info({ host, port: this.boundPort, resources: this.cache.count('listener') }, 'xDS server listening');
    return this.boundPort;
  }

  /** Stops listening and ends every stream (clients keep their last configuration). The cache stays: start() again resumes. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const { call } of this.connections.values()) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'xDS server stopping' });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.connections.clear();
    this.held.clear();
    for (const t of XdsResourceType.options) {
      this.subscribers[t].clear();
      this.wildcard[t].clear();
    }
  }

  /** stop(), and no longer follow the store. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    await this.stop();
  }

  clients(): XdsClientsResponse {
    return { versions: this.cache.versionsView(), clients: [...this.connections.values()].map(({ conn }) => conn.view()) };
  }

  /** What is served for one service and which clients subscribe to any of it; null if unknown. */
  mesh(serviceId: string): MeshResponse | null {
    const view = this.cache.serviceView(serviceId);
    if (!view) return null;
    const mine: [XdsResourceType, string][] = [
      ...view.listeners.map((n) => ['listener', n] as [XdsResourceType, string]),
      ['route', view.route],
      ...view.clusters.flatMap((c) => [['cluster', c.name], ['endpoint', c.name]] as [XdsResourceType, string][]),
    ];
    const clients: XdsClient[] = [];
    for (const { conn } of this.connections.values()) if (mine.some(([t, n]) => conn.subscribes(t, n))) clients.push(conn.view());
    return { serviceId, listeners: view.listeners, route: view.route, clusters: view.clusters, versions: this.cache.versionsView(), clients };
  }

  // ---- streams ----

  private onStream(call: AdsCall): void {
    const id = String(++this.nextStream);
    const conn = new XdsConnection(id, call.getPeer(), 'anonymous', this.now());
    const entry = { conn, call };
    let authed = this.authenticateMetadata(call, conn);
    if (authed === 'refused') return;
    let authTimer: NodeJS.Timeout | null = null;
    if (authed === 'pending') {
      authTimer = setTimeout(() => this.refuse(call, grpc.status.UNAUTHENTICATED, 'no credentials sent'), this.options.authTimeoutMs ?? 10_000);
      authTimer.unref();
    }
    this.connections.set(id, entry);
    const done = () => {
      if (authTimer) clearTimeout(authTimer);
      this.drop(conn);
    };
    call.on('data', (incoming: Incoming) => {
      try {
        if (authed === 'pending') {
          if (authTimer) clearTimeout(authTimer);
          authed = this.authenticateNode(call, conn, incoming);
          if (authed === 'refused') return;
        }
        this.onRequest(entry, incoming);
      } catch (err) {
        // A bug here must cost one request, never the process.
        conn.problem(this.now(), `request failed: ${(err as Error).message}`);
        this.options.logger.error({ err, node: conn.nodeId }, 'xDS request failed');
      }
    });
    call.on('error', done);
    call.on('cancelled', done);
    call.on('close', done);
    call.on('finish', done);
    call.on('end', () => {
      call.end();
      done();
    });
  }

  private authenticateMetadata(call: AdsCall, conn: XdsConnection): 'ok' | 'pending' | 'refused' {
    const check = this.options.userForToken;
    if (!check) return 'ok';
    const header = call.metadata.get('authorization')[0];
    if (typeof header === 'string') {
      const m = /^Bearer\s+(.+)$/i.exec(header);
      return this.admit(call, conn, m ? check(m[1]!.trim()) : null);
    }
    if (this.options.allowAnonymous) return 'ok';
    return 'pending';
  }

  private authenticateNode(call: AdsCall, conn: XdsConnection, incoming: Incoming): 'ok' | 'refused' {
    // protobufjs bundles struct.proto with camelCase field names (stringValue), whatever keepCase says.
    const value = incoming.ok ? incoming.request.node?.metadata?.fields?.[NODE_TOKEN_FIELD] : undefined;
    const token = value?.stringValue ?? value?.string_value;
    if (!token) {
      this.refuse(call, grpc.status.UNAUTHENTICATED, 'send authorization: Bearer <token> metadata (or node.metadata "switchboard.token") of a user with role client or admin');
      return 'refused';
    }
    return this.admit(call, conn, this.options.userForToken!(token));
  }

  private admit(call: AdsCall, conn: XdsConnection, user: { name: string; role: Role } | null): 'ok' | 'refused' {
    if (!user) {
      this.refuse(call, grpc.status.UNAUTHENTICATED, 'invalid token');
      return 'refused';
    }
    if (!can(user.role, 'xds')) {
      this.refuse(call, grpc.status.PERMISSION_DENIED, `role ${user.role} may not use xDS (client or admin required; you are ${user.name})`);
      return 'refused';
    }
    conn.user = user.name;
    return 'ok';
  }

  private refuse(call: AdsCall, code: grpc.status, details: string): void {
    this.options.logger.info({ peer: call.getPeer(), code, details }, 'xDS stream refused');
    call.emit('error', { code, details });
  }

  private drop(conn: XdsConnection): void {
    if (this.connections.get(conn.id)?.conn !== conn) return;
    this.connections.delete(conn.id);
    this.held.delete(conn.id);
    for (const [type, s] of conn.types) this.index(conn.id, type, s.wildcard, s.names, false, new Set());
  }

  private onRequest(entry: { conn: XdsConnection; call: AdsCall }, incoming: Incoming): void {
    const { conn } = entry;
    const now = this.now();
    if (!incoming.ok) {
      conn.problem(now, incoming.error);
      return;
    }
    const req = incoming.request;
    if (req.node) {
      if (req.node.id) conn.nodeId = req.node.id.slice(0, 256);
      if (req.node.cluster) conn.cluster = req.node.cluster.slice(0, 256);
      if (req.node.user_agent_name) conn.userAgent = `${req.node.user_agent_name} ${req.node.user_agent_version ?? ''}`.trim().slice(0, 256);
    }
    const type = TYPE_BY_URL.get(req.type_url);
    if (!type) {
      conn.problem(now, req.type_url ? `unknown type URL ${req.type_url.slice(0, 200)}` : 'request without a type URL');
      return;
    }
    const s = conn.state(type);
    const sub = subscriptionOf(type, req.resource_names, s);
    if ('error' in sub) {
      conn.problem(now, sub.error);
      return;
    }
    // A name whose service is listed but not read yet: have it read now; it is pushed once in.
    for (const name of sub.names) for (const id of this.cache.pendingServicesFor(type, name)) this.options.store.demand(id);
    if (req.response_nonce !== '' && req.response_nonce === s.sentNonce) {
      s.awaiting = false;
      const detail = req.error_detail;
      if (detail && (detail.code || detail.message)) {
        conn.nack({ at: new Date(now).toISOString(), type, version: s.sentVersion ?? '', nonce: req.response_nonce, code: detail.code ?? 0, message: (detail.message ?? '').slice(0, 2000) });
        this.options.logger.warn({ node: conn.nodeId, type, version: s.sentVersion, error: detail.message }, 'xDS NACK');
      } else {
        s.ackedVersion = req.version_info;
        s.ackedAt = now;
      }
    }
    const changed = sub.wildcard !== s.wildcard || sub.names.size !== s.names.size || [...sub.names].some((n) => !s.names.has(n));
    if (changed) {
      this.index(conn.id, type, s.wildcard, s.names, sub.wildcard, sub.names);
      s.wildcard = sub.wildcard;
      s.names = sub.names;
    }
    s.explicit = sub.explicit;
    const first = req.response_nonce === '';
    if (first || changed) s.dirty = true;
    if (s.dirty && !s.awaiting) this.send(entry, type);
  }

  private index(id: string, type: XdsResourceType, wasWildcard: boolean, was: Set<string>, isWildcard: boolean, is: Set<string>): void {
    if (wasWildcard && !isWildcard) this.wildcard[type].delete(id);
    if (isWildcard) this.wildcard[type].add(id);
    const map = this.subscribers[type];
    for (const n of was) {
      if (is.has(n)) continue;
      const set = map.get(n);
      set?.delete(id);
      if (set?.size === 0) map.delete(n);
    }
    for (const n of is) {
      if (was.has(n)) continue;
      let set = map.get(n);
      if (!set) map.set(n, (set = new Set()));
      set.add(id);
    }
  }

  private send(entry: { conn: XdsConnection; call: AdsCall }, type: XdsResourceType): void {
    const s = entry.conn.state(type);
    if (this.unread(type, s)) {
      s.dirty = true;
      s.heldSince ??= this.now();
      this.held.add(entry.conn.id);
      return;
    }
    s.heldSince = null;
    const version = this.cache.version(type);
    const bodies = this.bodies[type];
    if (bodies.version !== version) {
      bodies.version = version;
      bodies.byKey.clear();
    }
    const key = s.wildcard ? '*' : [...s.names].sort().join('\0');
    let body = bodies.byKey.get(key);
    if (!body) {
      const resources = s.wildcard ? [...this.cache.all(type)] : [...s.names].sort().flatMap((n) => this.cache.get(type, n) ?? []);
      body = Buffer.from(xdsProtos().DiscoveryResponse.encode({ version_info: version, type_url: XDS_TYPE_URLS[type], resources: resources.map((r) => r.any) }).finish());
      if (bodies.byKey.size >= 1000) bodies.byKey.clear();
      bodies.byKey.set(key, body);
    }
    const nonce = String(++this.nextNonce);
    // Protobuf fields may come in any order: the shared body plus this stream's nonce is one message.
    const tail = xdsProtos().DiscoveryResponse.encode({ nonce }).finish();
    s.sentVersion = version;
    s.sentNonce = nonce;
    s.sentAt = this.now();
    s.awaiting = true;
    s.dirty = false;
    entry.call.write(Buffer.concat([body, tail]));
  }

  /**
   * xDS has no "not known yet": a Listener or Cluster left out of an answer is deleted at the
   * client (and @grpc/grpc-js-xds 1.14 does not notice when the same one comes back, so it
   * stays without routes). A control plane that restarts would tell every client its service
   * is gone until the registry is read. So an answer is held while a name it should carry is
   * missing but may be in a registry not read yet: a source that has not synced once (until
   * `startupHoldMs`), or a service listed but not read (it is being read on demand).
   */
  private unread(type: XdsResourceType, s: { wildcard: boolean; names: Set<string> }): boolean {
    const reading = !this.sourcesSettled();
    if (s.wildcard) return reading || (!this.holdOver && this.options.store.pendingCount > 0);
    for (const n of s.names) {
      if (this.cache.get(type, n)) continue;
      if (reading || this.cache.pendingServicesFor(type, n).length > 0) return true;
    }
    return false;
  }

  private sourcesSettled(): boolean {
    if (!this.settled && (this.holdOver || this.options.store.sources().every((src) => src.lastSyncAt !== null))) this.settled = true;
    return this.settled;
  }

  /** Sends the answers held back by `unread` that can go now. */
  private retryHeld(): void {
    for (const id of [...this.held]) {
      this.held.delete(id);
      const entry = this.connections.get(id);
      if (!entry) continue;
      for (const [type, s] of entry.conn.types) if (s.heldSince !== null && s.dirty && !s.awaiting) this.send(entry, type);
    }
  }

  private onDelta(delta: Delta): void {
    if (delta.services.size > 0) {
      let changes: XdsChanges | null = null;
      try {
        changes = this.cache.update(delta.services.keys());
      } catch (err) {
        this.options.logger.error({ err }, 'xDS resources could not be updated');
      }
      if (changes) this.push(changes);
    }
    // A source's first sync, or a pending service read, may release held answers.
    if (this.held.size > 0) this.retryHeld();
  }

  /** Sends the new version of each changed type to the streams that subscribe to a changed name. */
  private push(changes: XdsChanges): void {
    for (const type of XdsResourceType.options) {
      const names = changes[type];
      if (names.size === 0) continue;
      const ids = new Set(this.wildcard[type]);
      for (const n of names) for (const id of this.subscribers[type].get(n) ?? []) ids.add(id);
      for (const id of ids) {
        const entry = this.connections.get(id);
        if (!entry) continue;
        const s = entry.conn.state(type);
        s.dirty = true;
        if (!s.awaiting) this.send(entry, type);
      }
    }
  }
}
