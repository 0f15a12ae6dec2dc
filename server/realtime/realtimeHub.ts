/**
 * The WebSocket hub at /api/ws. A client subscribes (optionally with the last revision it
 * applied) and gets a snapshot or just what it missed, then deltas. Memory per client is
 * bounded: a client whose socket buffer is over the high-water mark is skipped, and when it
 * drains it receives one coalesced delta from its last revision (or a snapshot if that has
 * fallen out of the store's history) — nothing queues up on the server for it.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { ClientMessage, HEARTBEAT_MS, type ServerMessage } from '../../protocol/realtime';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { DeltaOp } from '../../protocol/delta';
import type { TopologyStore } from '../topology/topologyStore';
import type { Principal } from '../auth/authenticator';

export interface RealtimeHubOptions {
  store: TopologyStore;
  logger: Logger;
  metrics?: Metrics;
  /** @default HEARTBEAT_MS (15 s) */
  heartbeatMs?: number;
  /** Skip sending to a client while its unsent bytes exceed this. @default 1 MiB */
  highWaterBytes?: number;
  /** Close clients that have not subscribed within this. @default 10 s */
  subscribeTimeoutMs?: number;
}

interface Client {
  ws: WebSocket;
  principal: Principal;
  /** Revision the client has been sent up to; null until it subscribes. */
  sentRev: number | null;
  alive: boolean;
}

export class RealtimeHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly clients = new Set<Client>();
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly drainCheck: NodeJS.Timeout;
  private flushScheduled = false;
  private readonly opts: Required<Omit<RealtimeHubOptions, 'metrics'>> & { metrics?: Metrics };

  constructor(options: RealtimeHubOptions) {
    // `??`, not a spread: an explicit `undefined` option must still get its default.
    this.opts = {
      ...options,
      heartbeatMs: options.heartbeatMs ?? HEARTBEAT_MS,
      highWaterBytes: options.highWaterBytes ?? 1024 * 1024,
      subscribeTimeoutMs: options.subscribeTimeoutMs ?? 10_000,
    };
    // Many registry events can land in one tick (a full resync); coalesce them into one frame.
    this.unsubscribe = this.opts.store.subscribe(() => this.scheduleFlush());
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

  /** Completes an HTTP upgrade for an already-authenticated principal. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, principal: Principal): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, principal));
  }

  private accept(ws: WebSocket, principal: Principal): void {
    const client: Client = { ws, principal, sentRev: null, alive: true };
    this.clients.add(client);
    this.opts.metrics?.wsClients.set(this.clients.size);
    const subscribeTimer = setTimeout(() => {
      if (client.sentRev === null) ws.close(1008, 'subscribe expected');
    }, this.opts.subscribeTimeoutMs);
    ws.on('pong', () => (client.alive = true));
    ws.on('message', (data, isBinary) => {
      client.alive = true;
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
          this.resync(client, msg.sinceRev);
          break;
        case 'ping':
          this.send(client, { type: 'pong', t: msg.t });
          break;
      }
    });
    ws.on('close', () => {
      clearTimeout(subscribeTimer);
      this.clients.delete(client);
      this.opts.metrics?.wsClients.set(this.clients.size);
    });
    ws.on('error', (err) => this.opts.logger.debug({ err: err.message, user: principal.name }, 'websocket error'));
  }

  /** Sends what a client at `sinceRev` is missing: a delta if history allows, else a snapshot. */
  private resync(client: Client, sinceRev: number | undefined): void {
    const { store } = this.opts;
    const delta = sinceRev === undefined ? null : store.since(sinceRev);
    if (delta) {
      if (delta.ops.length > 0) this.sendDelta(client, delta.fromRev, delta.rev, delta.ops);
      client.sentRev = delta.rev;
    } else {
      this.sendSnapshot(client);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const { store } = this.opts;
    for (const client of this.clients) {
      if (client.sentRev === null || client.sentRev === store.rev || client.ws.readyState !== WebSocket.OPEN) continue;
      if (client.ws.bufferedAmount > this.opts.highWaterBytes) {
        this.opts.metrics?.wsLaggingClients.inc();
        continue;
      }
      const delta = store.since(client.sentRev);
      if (delta) {
        this.sendDelta(client, delta.fromRev, delta.rev, delta.ops);
        client.sentRev = delta.rev;
      } else {
        this.sendSnapshot(client);
      }
    }
  }

  private sendSnapshot(client: Client): void {
    const topology = this.opts.store.snapshot();
    this.send(client, { type: 'snapshot', topology });
    client.sentRev = topology.rev;
    this.opts.metrics?.wsSnapshotsSent.inc();
  }

  private sendDelta(client: Client, fromRev: number, rev: number, ops: DeltaOp[]): void {
    this.send(client, { type: 'delta', fromRev, rev, ops });
    this.opts.metrics?.wsDeltasSent.inc();
  }

  private send(client: Client, msg: ServerMessage): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(msg);
    this.opts.metrics?.wsBytesSent.inc(Buffer.byteLength(text));
    client.ws.send(text);
  }

  private beat(): void {
    const rev = this.opts.store.rev;
    const serverTime = new Date().toISOString();
    for (const client of this.clients) {
      // A client that answered neither the last ping nor sent anything is gone (half-open TCP).
      if (!client.alive) {
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
      if (client.sentRev !== null) this.send(client, { type: 'heartbeat', rev, serverTime });
    }
  }

  async close(): Promise<void> {
    this.unsubscribe();
    clearInterval(this.heartbeat);
    clearInterval(this.drainCheck);
    for (const c of this.clients) c.ws.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    for (const c of this.clients) c.ws.terminate();
  }
}
