/**
 * The WebSocket hub at /api/ws. A client subscribes to the summary (the service list) and
 * watches the services it shows; it gets a snapshot or just what it missed, then deltas —
 * summary deltas for everyone, instance deltas only for watchers of that service.
 *
 * Cost per change is O(clients) and each distinct frame is serialized once per flush, however
 * many clients receive it. Memory per client is bounded: nothing is sent to a client whose
 * socket buffer is over the high-water mark — snapshots included — and when it drains it gets
 * one coalesced delta from where it was (or a snapshot if that fell out of the store's
 * history). Client frames are rate-limited; a client that floods is closed.
 */
import type { IncomingMessage } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { ClientMessage, HEARTBEAT_MS, MAX_WATCHED_SERVICES, type GraphServerMessage, type ServerMessage } from '../../protocol/realtime';
import type { GraphWindow } from '../../protocol/graph';
import type { GraphFeed } from '../graph/graphService';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { TopologyStore } from '../topology/topologyStore';
import type { Principal } from '../auth/authenticator';
import type { OpenServices } from './openServices';

export interface RealtimeHubOptions {
  store: TopologyStore;
  logger: Logger;
  metrics?: Metrics;
  /** @default HEARTBEAT_MS (15 s) */
  heartbeatMs?: number;
  /** Send nothing to a client while its unsent bytes exceed this. @default 1 MiB */
  highWaterBytes?: number;
  /** Close clients that have neither subscribed nor watched within this. @default 10 s */
  subscribeTimeoutMs?: number;
  /** Client frames allowed per second (sustained); a burst of twice this is tolerated. @default 20 */
  clientFramesPerSecond?: number;
  /**
   * Least time between two fan-outs: under churn (hundreds of changes a second) clients get one
   * coalesced frame per window instead of one per change; an isolated change goes out at once.
   * @default 15 ms
   */
  flushIntervalMs?: number;
  /** Injectable clock for the frame rate limit and flush pacing. @default Date.now */
  now?: () => number;
  /** The service graph (`graph.watch`); without it a graph watch is answered with an error. */
  graph?: GraphFeed;
  /** Told which services clients watch, so their sources can watch those closely. */
  openServices?: OpenServices;
}

/** Where a client's graph stream stands: like StreamPosition, counted in graph versions of one window. */
interface GraphPosition {
  window: GraphWindow;
  sentVersion: number;
  needsSnapshot: boolean;
  release: () => void;
}

/** Where one stream (the summary, or one watched service) of one client stands. */
interface StreamPosition {
  /** Revision the client was last told about (the `fromRev` of the next frame). */
  sentRev: number;
  /** Revision up to which the client has everything (changes after `sentRev` did not concern it). */
  coveredRev: number;
  /** The next frame must be a full copy. */
  needsSnapshot: boolean;
}

interface Client {
  ws: WebSocket;
  principal: Principal;
  /** Asked for large frames gzip-compressed, as binary frames (browsers inflate with DecompressionStream). */
  gzip: boolean;
  /** The summary stream; null until the client subscribes. */
  summary: StreamPosition | null;
  watches: Map<string, StreamPosition>;
  /** The graph stream; null unless the client watches the graph. */
  graph: GraphPosition | null;
  alive: boolean;
  /** Token bucket for client frames. */
  tokens: number;
  tokensAt: number;
}

type Frame = Buffer | null;

export class RealtimeHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly clients = new Set<Client>();
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly drainCheck: NodeJS.Timeout;
  private flushScheduled = false;
  private lastFlushAt = -Infinity;
  private readonly opts: Required<Omit<RealtimeHubOptions, 'metrics' | 'graph' | 'openServices'>> & { metrics?: Metrics; graph?: GraphFeed; openServices?: OpenServices };
  private readonly unsubscribeGraph: () => void;
  /** The summary snapshot serialized once per revision. */
  private snapshotFrame: { rev: number; frame: Buffer } | null = null;

  constructor(options: RealtimeHubOptions) {
    // `??`, not a spread: an explicit `undefined` option must still get its default.
    this.opts = {
      ...options,
      heartbeatMs: options.heartbeatMs ?? HEARTBEAT_MS,
      highWaterBytes: options.highWaterBytes ?? 1024 * 1024,
      subscribeTimeoutMs: options.subscribeTimeoutMs ?? 10_000,
      clientFramesPerSecond: options.clientFramesPerSecond ?? 20,
      flushIntervalMs: options.flushIntervalMs ?? 15,
      now: options.now ?? Date.now,
    };
    // Many registry events can land in one tick (a full resync); coalesce them into one frame.
    this.unsubscribe = this.opts.store.subscribe(() => this.scheduleFlush());
    this.unsubscribeGraph = this.opts.graph?.subscribe(() => this.scheduleFlush()) ?? (() => undefined);
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
    this.drainCheck = setInterval(() => this.flush(), 250);
    this.heartbeat.unref();
    this.drainCheck.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Clients currently held back because their send buffer is over the high-water mark. */
  laggingClients(): number {
    let n = 0;
    for (const c of this.clients) if (c.ws.bufferedAmount > this.opts.highWaterBytes) n++;
    return n;
  }

  /** Completes an HTTP upgrade for an already-authenticated, already-authorized principal. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, principal: Principal): void {
    const subscribe = new URL(req.url ?? '/', 'http://switchboard').searchParams.get('subscribe');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, principal, subscribe));
  }

  /** Closes every connection whose principal matches (sign-out, expired session). */
  closeWhere(match: (p: Principal) => boolean, reason: string): number {
    let n = 0;
    for (const c of this.clients) {
      if (!match(c.principal)) continue;
      c.ws.close(1008, reason);
      n++;
    }
    return n;
  }

  /** `subscribe`: the `?subscribe=` of the upgrade URL (SUBSCRIBE_ON_CONNECT), if any. */
  private accept(ws: WebSocket, principal: Principal, subscribe: string | null): void {
    const rate = this.opts.clientFramesPerSecond;
    const client: Client = { ws, principal, gzip: false, summary: null, watches: new Map(), graph: null, alive: true, tokens: rate * 2, tokensAt: this.opts.now() };
    this.clients.add(client);
    this.opts.metrics?.wsClients.set(this.clients.size);
    const subscribeTimer = setTimeout(() => {
      if (client.summary === null && client.watches.size === 0 && client.graph === null) ws.close(1008, 'subscribe expected');
    }, this.opts.subscribeTimeoutMs);
    if (subscribe !== null) {
      // Subscribed by the URL: the snapshot leaves at once, not after the page's main thread
      // (busy evaluating bundles) gets round to the `open` event and a subscribe frame.
      if (subscribe === 'gzip' || subscribe === '1') {
        clearTimeout(subscribeTimer);
        client.gzip = subscribe === 'gzip';
        client.summary = this.position(undefined, () => false);
        this.scheduleFlush();
      } else {
        this.send(client, { type: 'error', code: 'bad_request', message: `?subscribe= must be "gzip" or "1", not ${JSON.stringify(subscribe.slice(0, 40))}` });
      }
    }
    ws.on('pong', () => (client.alive = true));
    ws.on('message', (data, isBinary) => {
      client.alive = true;
      if (!this.takeToken(client)) {
        this.opts.metrics?.wsFloodCloses.inc();
        ws.close(1008, 'too many messages');
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(isBinary ? '' : data.toString());
      } catch {
        json = undefined;
      }
      const parsed = ClientMessage.safeParse(json);
      if (!parsed.success) {
        this.send(client, { type: 'error', code: 'bad_request', message: `invalid message: ${parsed.error.issues[0]?.message ?? 'not JSON'}` });
        return;
      }
      const msg = parsed.data;
      switch (msg.type) {
        case 'subscribe':
          clearTimeout(subscribeTimer);
          client.gzip = msg.compress === 'gzip';
          client.summary = this.position(msg.sinceRev, (rev) => this.opts.store.summarySince(rev) !== null);
          this.scheduleFlush();
          break;
        case 'watch':
          clearTimeout(subscribeTimer);
          if (!client.watches.has(msg.serviceId) && client.watches.size >= MAX_WATCHED_SERVICES) {
            this.send(client, { type: 'error', code: 'too_many', message: `a connection may watch at most ${MAX_WATCHED_SERVICES} services` });
            break;
          }
          if (!client.watches.has(msg.serviceId)) this.opts.openServices?.open(msg.serviceId);
          client.watches.set(msg.serviceId, this.position(msg.sinceRev, (rev) => this.opts.store.serviceSince(msg.serviceId, rev) !== null));
          // Listed but not read yet (a large registry's first sync): its source reads it now.
          this.opts.store.demand(msg.serviceId);
          this.scheduleFlush();
          break;
        case 'unwatch':
          if (client.watches.delete(msg.serviceId)) this.opts.openServices?.close(msg.serviceId);
          break;
        case 'ping':
          this.send(client, { type: 'pong', t: msg.t });
          break;
        case 'graph.watch': {
          const feed = this.opts.graph;
          if (!feed) {
            this.send(client, { type: 'error', code: 'bad_request', message: 'this server has no service graph' });
            break;
          }
          clearTimeout(subscribeTimer);
          // Take the new window before letting go of the old: a window change keeps its state warm.
          const release = feed.watch(msg.window);
          client.graph?.release();
          const since = msg.sinceVersion;
          const resumes = since !== undefined && feed.since(msg.window, since) !== null;
          client.graph = { window: msg.window, sentVersion: resumes ? since : 0, needsSnapshot: !resumes, release };
          this.scheduleFlush();
          break;
        }
        case 'graph.unwatch':
          client.graph?.release();
          client.graph = null;
          break;
      }
    });
    ws.on('close', () => {
      clearTimeout(subscribeTimer);
      client.graph?.release();
      for (const id of client.watches.keys()) this.opts.openServices?.close(id);
      this.clients.delete(client);
      this.opts.metrics?.wsClients.set(this.clients.size);
    });
    ws.on('error', (err) => this.opts.logger.debug({ err: err.message, user: principal.name }, 'websocket error'));
  }

  /** A stream resumes from `sinceRev` when the store's history still covers it, else starts with a full copy. */
  private position(sinceRev: number | undefined, covered: (rev: number) => boolean): StreamPosition {
    if (sinceRev !== undefined && covered(sinceRev)) return { sentRev: sinceRev, coveredRev: sinceRev, needsSnapshot: false };
    return { sentRev: 0, coveredRev: 0, needsSnapshot: true };
  }

  private takeToken(client: Client): boolean {
    const rate = this.opts.clientFramesPerSecond;
    const now = this.opts.now();
    client.tokens = Math.min(rate * 2, client.tokens + ((now - client.tokensAt) / 1000) * rate);
    client.tokensAt = now;
    if (client.tokens < 1) return false;
    client.tokens -= 1;
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    const wait = this.lastFlushAt + this.opts.flushIntervalMs - this.opts.now();
    if (wait <= 0) setImmediate(run);
    else setTimeout(run, wait);
  }

  private flush(): void {
    this.lastFlushAt = this.opts.now();
    const rev = this.opts.store.rev;
    // Frames built during this flush, by content: clients at the same position share one buffer.
    const frames = new Map<string, Frame>();
    for (const client of this.clients) {
      if (client.ws.readyState !== WebSocket.OPEN) continue;
      if (client.ws.bufferedAmount > this.opts.highWaterBytes) {
        if (this.isBehind(client, rev)) this.opts.metrics?.wsLaggingClients.inc();
        continue;
      }
      if (client.summary) this.flushSummary(client, client.summary, rev, frames);
      for (const [id, w] of client.watches) this.flushService(client, id, w, rev, frames);
      if (client.graph) this.flushGraph(client, client.graph, frames);
    }
  }

  private isBehind(client: Client, rev: number): boolean {
    if (client.summary && (client.summary.needsSnapshot || client.summary.coveredRev !== rev)) return true;
    for (const w of client.watches.values()) if (w.needsSnapshot || w.coveredRev !== rev) return true;
    if (client.graph && (client.graph.needsSnapshot || client.graph.sentVersion !== this.opts.graph?.version(client.graph.window))) return true;
    return false;
  }

  private flushSummary(client: Client, pos: StreamPosition, rev: number, frames: Map<string, Frame>): void {
    if (!pos.needsSnapshot && pos.coveredRev === rev) return;
    if (!pos.needsSnapshot) {
      const key = `s/${pos.coveredRev}/${pos.sentRev}`;
      let frame = frames.get(key);
      if (frame === undefined) {
        const d = this.opts.store.summarySince(pos.coveredRev);
        frame = d === null ? null : d.ops.length === 0 ? EMPTY : encode({ type: 'delta', fromRev: pos.sentRev, rev, ops: d.ops });
        if (d === null) pos.needsSnapshot = true;
        else frames.set(key, frame);
      }
      if (!pos.needsSnapshot) {
        if (frame !== EMPTY && frame !== null) {
          this.sendFrame(client, frame);
          this.opts.metrics?.wsDeltasSent.inc();
          pos.sentRev = rev;
        }
        pos.coveredRev = rev;
        return;
      }
    }
    this.sendFrame(client, this.summarySnapshotFrame());
    this.opts.metrics?.wsSnapshotsSent.inc();
    pos.needsSnapshot = false;
    pos.sentRev = pos.coveredRev = this.opts.store.rev;
  }

  private flushService(client: Client, id: string, pos: StreamPosition, rev: number, frames: Map<string, Frame>): void {
    if (!pos.needsSnapshot && pos.coveredRev === rev) return;
    if (!pos.needsSnapshot) {
      const key = `v/${id}/${pos.coveredRev}/${pos.sentRev}`;
      let frame = frames.get(key);
      if (frame === undefined) {
        const d = this.opts.store.serviceSince(id, pos.coveredRev);
        frame = d === null ? null : d.ops.length === 0 ? EMPTY : encode({ type: 'service.delta', serviceId: id, fromRev: pos.sentRev, rev, ops: d.ops });
        frames.set(key, frame);
      }
      if (frame !== null) {
        if (frame !== EMPTY) {
          this.sendFrame(client, frame);
          this.opts.metrics?.wsDeltasSent.inc();
          pos.sentRev = rev;
        }
        pos.coveredRev = rev;
        return;
      }
    }
    const key = `v/${id}`;
    let frame = frames.get(key);
    if (!frame) {
      frame = encode({ type: 'service', serviceId: id, rev, service: this.opts.store.service(id) ?? null });
      frames.set(key, frame);
    }
    this.sendFrame(client, frame);
    this.opts.metrics?.wsSnapshotsSent.inc();
    pos.needsSnapshot = false;
    pos.sentRev = pos.coveredRev = rev;
  }

  /** Graph frames: a snapshot, or the ops since the client's version, shared by clients at the same version. */
  private flushGraph(client: Client, pos: GraphPosition, frames: Map<string, Frame>): void {
    const feed = this.opts.graph;
    if (!feed) return;
    const version = feed.version(pos.window);
    if (!pos.needsSnapshot && pos.sentVersion === version) return;
    if (!pos.needsSnapshot) {
      const key = `g/${pos.window}/${pos.sentVersion}/${version}`;
      let frame = frames.get(key);
      if (frame === undefined) {
        const ops = feed.since(pos.window, pos.sentVersion);
        frame = ops === null ? null : encode({ type: 'graph.delta', window: pos.window, fromVersion: pos.sentVersion, version, ops });
        frames.set(key, frame);
      }
      if (frame !== null) {
        this.sendFrame(client, frame);
        this.opts.metrics?.wsDeltasSent.inc();
        pos.sentVersion = version;
        return;
      }
    }
    const key = `g/${pos.window}/snapshot/${version}`;
    let frame = frames.get(key);
    if (!frame) {
      const snap = feed.snapshot(pos.window);
      frame = encode({ type: 'graph', window: pos.window, version: snap.version, nodes: snap.nodes, edges: snap.edges });
      frames.set(key, frame);
    }
    this.sendFrame(client, frame);
    this.opts.metrics?.wsSnapshotsSent.inc();
    pos.needsSnapshot = false;
    pos.sentVersion = version;
  }

  private summarySnapshotFrame(): Buffer {
    const snap = this.opts.store.summarySnapshot();
    if (this.snapshotFrame?.rev !== snap.rev) {
      this.snapshotFrame = { rev: snap.rev, frame: encode({ type: 'snapshot', rev: snap.rev, sources: snap.sources, services: snap.services }) };
    }
    return this.snapshotFrame.frame;
  }

  /** Small control frames (errors, pongs) — still never past the high-water mark. */
  private send(client: Client, msg: ServerMessage): boolean {
    if (client.ws.bufferedAmount > this.opts.highWaterBytes || client.ws.readyState !== WebSocket.OPEN) return false;
    this.sendFrame(client, encode(msg));
    return true;
  }

  private sendFrame(client: Client, frame: Buffer): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    if (client.gzip && frame.length >= GZIP_FROM_BYTES) {
      const packed = this.gzipped(frame);
      this.opts.metrics?.wsBytesSent.inc(packed.length);
      client.ws.send(packed, { binary: true });
      return;
    }
    this.opts.metrics?.wsBytesSent.inc(frame.length);
    client.ws.send(frame, { binary: false });
  }

  /** Each large frame is compressed once, however many clients receive it. */
  private readonly gzipCache = new WeakMap<Buffer, Buffer>();
  private gzipped(frame: Buffer): Buffer {
    let packed = this.gzipCache.get(frame);
    if (!packed) {
      // Level 1: a 2 MB list snapshot shrinks ~10× in a few ms; higher levels buy little more.
      packed = gzipSync(frame, { level: 1 });
      this.gzipCache.set(frame, packed);
    }
    return packed;
  }

  /**
   * Pings every client and tells it the revision it has, BEAT_SLICE clients per turn of the
   * event loop: with 10,000 clients one pass held a flip's fan-out back by hundreds of ms.
   */
  private beat(): void {
    const serverTime = new Date().toISOString();
    const clients = [...this.clients];
    const slice = (from: number) => {
      const to = Math.min(from + BEAT_SLICE, clients.length);
      for (let i = from; i < to; i++) this.beatOne(clients[i]!, serverTime);
      if (to < clients.length) setImmediate(() => slice(to));
    };
    slice(0);
  }

  private beatOne(client: Client, serverTime: string): void {
    // Gone since the pass began (closed, or the hub is closing).
    if (!this.clients.has(client) || client.ws.readyState !== WebSocket.OPEN) return;
    // A client that answered neither the last ping nor sent anything is gone (half-open TCP).
    if (!client.alive) {
      client.ws.terminate();
      return;
    }
    client.alive = false;
    client.ws.ping();
    const pos = client.summary;
    if (pos && !pos.needsSnapshot) {
      // Everything up to coveredRev has been sent: tell the client, so its next resume starts there.
      if (this.send(client, { type: 'heartbeat', rev: pos.coveredRev, serverTime })) pos.sentRev = pos.coveredRev;
    }
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.unsubscribeGraph();
    clearInterval(this.heartbeat);
    clearInterval(this.drainCheck);
    for (const c of this.clients) c.ws.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    for (const c of this.clients) c.ws.terminate();
  }
}

/** Clients one turn of the event loop pings at a heartbeat (see beat). */
const BEAT_SLICE = 500;

/** Frames at least this large go compressed to clients that asked for it. */
const GZIP_FROM_BYTES = 16 * 1024;

/** Marks "nothing to send for this position" in the per-flush frame cache. */
const EMPTY: Buffer = Buffer.alloc(0);

function encode(msg: ServerMessage | GraphServerMessage): Buffer {
  return Buffer.from(JSON.stringify(msg));
}
