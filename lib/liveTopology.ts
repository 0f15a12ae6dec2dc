/**
 * The browser's one WebSocket to /api/ws. It subscribes to the summary (react-query key
 * ['topology']) and watches the services the page shows (['service', id]); frames are
 * validated, then applied through the pure steps in topologyCache.ts. Other streams on the
 * same socket (the service graph) attach as channels: told when the socket opens so they can
 * (re)watch, and handed the frames of their types.
 *
 * Renders happen on animation frames: every frame that arrived since the last paint is applied
 * in one go and the cache is written once per key. While the tab is hidden nothing paints, so
 * frames wait (bounded: past a limit they are dropped and the connection resyncs when the tab
 * shows again). Reconnects back off with jitter and resume every stream from its revision.
 *
 * The first connection is usually already open when this starts: an inline script in the
 * document head opened it and subscribed (lib/earlySocket.ts), so the list snapshot arrives
 * (and is parsed) while the bundles load. It is adopted with the frames it has received so
 * far, and those already parsed are applied at once rather than on the next frame, so the list
 * can render its rows on its first render.
 *
 * Summary frames (a snapshot holds every service of the fleet) are checked against
 * lib/wireShapes.ts: no zod, whose copying cost 100–250 ms per 10,000 services on the way to the
 * first row and whose code the list's first page then need not load. Other frames (a watched
 * service's) are checked against protocol/realtime.ts through lib/serviceFrames.ts, imported
 * when first needed; frames behind one that waits for it keep their order.
 */
import type { QueryClient } from '@tanstack/react-query';
import type { ServerMessage } from '@/protocol/realtime';
import { HEARTBEAT_MS } from '@/protocol/realtimeTiming';
import { socketUrl, takeEarlySocket, type DecodingFrame, type EarlySocket } from './earlySocket';
import { stepSummary, type ServiceCache, type Step, type SummaryCache } from './topologyCache';
import { isSummaryFrameType, parseSummaryFrame } from './wireShapes';

type ServiceFrames = typeof import('./serviceFrames');

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export const TOPOLOGY_KEY = ['topology'] as const;
export const serviceKey = (id: string) => ['service', id] as const;

/** Frames kept while the tab is hidden; beyond this, resync from scratch on return. */
const MAX_PENDING = 5_000;

/** A frame that is not decoded yet (compressed, or still being inflated and parsed). */
const NOT_YET = Symbol('not decoded yet');

export interface LiveTopologyOptions {
  /** @default WebSocket */
  WebSocketImpl?: typeof WebSocket;
  /** Schedules a flush before the next paint. @default requestAnimationFrame */
  onNextFrame?: (cb: () => void) => void;
  /** The socket opened before this started, if any (taken once). @default takeEarlySocket */
  takeEarlySocket?: () => EarlySocket | null;
}

/** Another stream on this connection (lib/liveGraph.ts). */
export interface LiveChannel {
  /** The frame types it takes, e.g. `graph` and `graph.delta`. */
  readonly frameTypes: readonly string[];
  /** The socket (re)opened: send what starts or resumes the stream. */
  opened(send: (msg: unknown) => void): void;
  /** One of its frames, parsed JSON not yet validated (the channel owns its schema). */
  frame(msg: unknown): void;
}

export class LiveTopology {
  private ws: WebSocket | null = null;
  private state: ConnectionState = 'connecting';
  private readonly listeners = new Set<() => void>();
  private pending: ServerMessage[] = [];
  private overflowed = false;
  private flushScheduled = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  /** Frames waiting behind one being inflated (or decoded, or whose schema is loading), in order. */
  private inbox: (string | ArrayBuffer | DecodingFrame)[] = [];
  private busy = false;
  private serviceFrames: ServiceFrames | null = null;
  private serviceFramesLoading: Promise<ServiceFrames> | null = null;
  private stopped = false;
  /** Watched services and how many components show each. */
  private readonly watched = new Map<string, number>();
  private readonly channels = new Set<LiveChannel>();
  private readonly WS: typeof WebSocket;
  private readonly onNextFrame: (cb: () => void) => void;
  /** Only the first connection may be the early socket; null once it has been looked for. */
  private takeEarly: (() => EarlySocket | null) | null;

  constructor(
    private readonly queryClient: QueryClient,
    options: LiveTopologyOptions = {},
  ) {
    this.WS = options.WebSocketImpl ?? WebSocket;
    this.onNextFrame = options.onNextFrame ?? ((cb) => requestAnimationFrame(cb));
    this.takeEarly = options.takeEarlySocket ?? (() => takeEarlySocket(window));
  }

  start(): void {
    this.stopped = false;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    document.removeEventListener('visibilitychange', this.onVisibility);
    for (const t of [this.retryTimer, this.watchdog]) if (t) clearTimeout(t);
    this.ws?.close();
    this.ws = null;
  }

  getState = (): ConnectionState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Follow one service's instances while something shows it; returns the release. */
  watch(id: string): () => void {
    const n = this.watched.get(id) ?? 0;
    this.watched.set(id, n + 1);
    // Its frames will need lib/serviceFrames.ts: fetch it now, not when the first one arrives.
    void this.loadServiceFrames().catch(() => undefined);
    if (n === 0) this.send({ type: 'watch', serviceId: id, sinceRev: this.serviceCache(id)?.rev });
    return () => {
      const left = (this.watched.get(id) ?? 1) - 1;
      if (left > 0) return void this.watched.set(id, left);
      this.watched.delete(id);
      this.send({ type: 'unwatch', serviceId: id });
      // What it held is stale from now on: the next watch starts with a fresh copy.
      this.queryClient.removeQueries({ queryKey: serviceKey(id), exact: true });
    };
  }

  /** Adds a stream to this connection until the returned detach; it gets `opened` now if the socket is up. */
  attach(channel: LiveChannel): () => void {
    this.channels.add(channel);
    if (this.ws?.readyState === WebSocket.OPEN) channel.opened((msg) => this.send(msg));
    return () => this.channels.delete(channel);
  }

  /** For channels: a frame on this connection (dropped while it is down; `opened` resumes). */
  sendFrame(msg: unknown): void {
    this.send(msg);
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    for (const l of this.listeners) l();
  }

  private summaryCache(): SummaryCache | undefined {
    return this.queryClient.getQueryData<SummaryCache>(TOPOLOGY_KEY);
  }

  private serviceCache(id: string): ServiceCache | undefined {
    return this.queryClient.getQueryData<ServiceCache>(serviceKey(id));
  }

  private connect(): void {
    const early = this.takeEarly?.() ?? null;
    this.takeEarly = null;
    const ws = early?.ws ?? new this.WS(socketUrl(location));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => this.opened(true);
    ws.onmessage = (ev) => this.arrived(ev.data as string | ArrayBuffer);
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      this.flush();
      this.setState('reconnecting');
      void this.retry();
    };
    if (!early) return;
    // Adopted: it may have opened (and subscribed) already, and what it received comes first.
    if (ws.readyState === WebSocket.OPEN) this.opened(!early.subscribed);
    for (const data of early.frames) this.arrived(data);
    // What is decoded already is applied now, before the list's first render, not on the next frame.
    this.flush();
  }

  private opened(subscribe: boolean): void {
    this.attempt = 0;
    if (subscribe) this.send({ type: 'subscribe', sinceRev: this.summaryCache()?.rev, compress: 'gzip' });
    for (const id of this.watched.keys()) this.send({ type: 'watch', serviceId: id, sinceRev: this.serviceCache(id)?.rev });
    for (const c of this.channels) c.opened((msg) => this.send(msg));
    this.setState('live');
    this.armWatchdog();
  }

  private arrived(data: string | ArrayBuffer | DecodingFrame): void {
    this.armWatchdog();
    // Large frames arrive gzip-compressed (binary) and inflate asynchronously; frames behind one
    // (or behind one waiting for lib/serviceFrames.ts) wait in `inbox`.
    if (!this.busy) {
      const json = typeof data === 'string' ? parseJson(data) : data instanceof ArrayBuffer || !data.done ? NOT_YET : data.json;
      if (json !== NOT_YET) {
        if (this.receive(json, false)) return;
        data = { ready: Promise.resolve(json), done: true, json };
      }
    }
    this.inbox.push(data);
    if (!this.busy) void this.drainInbox();
  }

  private async drainInbox(): Promise<void> {
    this.busy = true;
    while (this.inbox.length > 0) {
      const data = this.inbox.shift()!;
      const json = typeof data === 'string' ? parseJson(data) : data instanceof ArrayBuffer ? parseJson(await inflate(data).catch(() => '')) : await data.ready;
      if (this.receive(json, false)) continue;
      await this.loadServiceFrames().catch(() => undefined);
      this.receive(json, true);
    }
    this.busy = false;
  }

  private loadServiceFrames(): Promise<ServiceFrames> {
    this.serviceFramesLoading ??= import('./serviceFrames').then(
      (m) => (this.serviceFrames = m),
      (err: unknown) => {
        this.serviceFramesLoading = null; // tried again by the next frame that needs it
        throw err;
      },
    );
    return this.serviceFramesLoading;
  }

  /**
   * Validates one parsed frame and queues it for the next flush (or hands it to its channel).
   * False, having done nothing, if its schema is in lib/serviceFrames.ts and that is not loaded,
   * unless `final`: then such a frame is dropped (the module could not be loaded).
   */
  private receive(json: unknown, final: boolean): boolean {
    if (json === undefined) return true; // not JSON
    const type = (json as { type?: unknown } | null)?.type;
    for (const c of this.channels) {
      if (typeof type === 'string' && c.frameTypes.includes(type)) {
        c.frame(json);
        return true;
      }
    }
    if (!isSummaryFrameType(type) && !this.serviceFrames) return final;
    const parsed = isSummaryFrameType(type) ? parseSummaryFrame(json) : this.serviceFrames!.parseServerMessage(json);
    if (!parsed.success) return true;
    if (this.pending.length >= MAX_PENDING) {
      this.pending = [];
      this.overflowed = true;
    }
    if (!this.overflowed) this.pending.push(parsed.data);
    if (!document.hidden) this.scheduleFlush();
    return true;
  }

  private async retry(): Promise<void> {
    // A refused upgrade looks like a plain close; ask the API whether we are signed in.
    try {
      const r = await fetch('/api/sources', { headers: { accept: 'application/json' } });
      if (r.status === 401 || r.status === 403) {
        this.setState('unauthorized');
        return;
      }
    } catch {
      // server unreachable: keep retrying
    }
    const delay = Math.min(15_000, 500 * 2 ** this.attempt) * (0.5 + Math.random() * 0.5);
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** No frame (not even a heartbeat) for 2.5 heartbeats: the connection is dead even if TCP says otherwise. */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.ws?.close(), HEARTBEAT_MS * 2.5);
  }

  private send(msg: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.onNextFrame(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private onVisibility = (): void => {
    if (document.hidden) return;
    if (this.overflowed) {
      // Too much happened while hidden: start every stream over rather than replay it.
      this.overflowed = false;
      this.pending = [];
      this.send({ type: 'subscribe', compress: 'gzip' });
      for (const id of this.watched.keys()) this.send({ type: 'watch', serviceId: id });
      return;
    }
    this.flush();
  };

  /** Applies every buffered frame in order, then writes each touched cache entry once (one render). */
  private flush(): void {
    if (this.pending.length === 0) return;
    const frames = this.pending;
    this.pending = [];
    let summary = this.summaryCache();
    let summaryChanged = false;
    let summaryResync = false;
    const services = new Map<string, ServiceCache | undefined>();
    const resyncing = new Set<string>();
    for (const msg of frames) {
      switch (msg.type) {
        case 'snapshot':
        case 'delta':
        case 'heartbeat': {
          if (summaryResync && msg.type !== 'snapshot') break;
          const step: Step<SummaryCache> = stepSummary(summary, msg);
          if (step.kind === 'apply') {
            summary = step.value;
            summaryChanged = true;
            summaryResync = false;
          } else if (step.kind === 'resync' && !summaryResync) {
            summaryResync = true;
            this.send({ type: 'subscribe', sinceRev: step.sinceRev, compress: 'gzip' });
          }
          break;
        }
        case 'service':
        case 'service.delta': {
          const id = msg.serviceId;
          if (!this.watched.has(id)) break;
          if (resyncing.has(id) && msg.type !== 'service') break;
          const current = services.has(id) ? services.get(id) : this.serviceCache(id);
          // Loaded: this frame was validated by it.
          const step = this.serviceFrames!.stepService(current, msg);
          if (step.kind === 'apply') {
            services.set(id, step.value);
            resyncing.delete(id);
          } else if (step.kind === 'resync' && !resyncing.has(id)) {
            resyncing.add(id);
            this.send({ type: 'watch', serviceId: id, sinceRev: step.sinceRev });
          }
          break;
        }
        case 'pong':
        case 'error':
          break;
      }
    }
    if (summaryChanged && summary) this.queryClient.setQueryData(TOPOLOGY_KEY, summary);
    for (const [id, value] of services) if (value) this.queryClient.setQueryData(serviceKey(id), value);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function inflate(data: ArrayBuffer): Promise<string> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).text();
}
