/**
 * The browser's graph stream: its own connection to /api/ws (the same endpoint, auth and
 * protocol as the topology; opening it does not disturb the summary connection's resume state),
 * `graph.watch` for one window, then a `graph` snapshot and `graph.delta` frames applied through
 * the pure applyGraphOps. Frames are applied once per animation frame (many deltas → one render);
 * a version gap re-watches with `sinceVersion` and the server answers with what was missed or a
 * snapshot. Reconnects back off with jitter and resume from the version held.
 */
import { applyGraphOps, graphFromLists, type GraphModel, type GraphWindow } from '@/protocol/graph';
import { AnyServerMessage, HEARTBEAT_MS } from '@/protocol/realtime';

export type GraphConnectionState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export interface LiveGraphSnapshot {
  state: GraphConnectionState;
  /** null until the first snapshot arrives. */
  graph: GraphModel | null;
  version: number;
  window: GraphWindow;
  /** ms the last batch of frames took to apply (the benchmark reads it). */
  applyMs: number;
}

export interface LiveGraphOptions {
  /** @default WebSocket */
  WebSocketImpl?: typeof WebSocket;
  /** @default requestAnimationFrame */
  onNextFrame?: (cb: () => void) => void;
}

export const FRAME_MARK = 'switchboard:graph-frame';
/** When the page first had a graph to show (once per page). */
export const FIRST_MARK = 'switchboard:graph-first';
/** From the start of applying a batch of frames to the end of notifying React (not the render). */
export const APPLY_MEASURE = 'switchboard:graph-apply';

type GraphFrame = Extract<AnyServerMessage, { type: 'graph' | 'graph.delta' }>;

export class LiveGraph {
  private ws: WebSocket | null = null;
  private snap: LiveGraphSnapshot;
  private readonly listeners = new Set<() => void>();
  private pending: GraphFrame[] = [];
  private flushScheduled = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pinger: ReturnType<typeof setInterval> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private stopped = true;
  private readonly WS: typeof WebSocket;
  private readonly onNextFrame: (cb: () => void) => void;

  constructor(window: GraphWindow, options: LiveGraphOptions = {}) {
    this.snap = { state: 'connecting', graph: null, version: 0, window, applyMs: 0 };
    this.WS = options.WebSocketImpl ?? WebSocket;
    this.onNextFrame = options.onNextFrame ?? ((cb) => requestAnimationFrame(cb));
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    for (const t of [this.retryTimer, this.watchdog]) if (t) clearTimeout(t);
    if (this.pinger) clearInterval(this.pinger);
    this.ws?.close();
    this.ws = null;
  }

  /** Another window: the graph held is dropped (its numbers belong to the old window). */
  setWindow(window: GraphWindow): void {
    if (window === this.snap.window) return;
    this.pending = [];
    this.update({ window, graph: null, version: 0 });
    this.send({ type: 'graph.watch', window });
  }

  getSnapshot = (): LiveGraphSnapshot => this.snap;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private update(patch: Partial<LiveGraphSnapshot>): void {
    this.snap = { ...this.snap, ...patch };
    for (const l of this.listeners) l();
  }

  private connect(): void {
    const ws = new this.WS(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.send({ type: 'graph.watch', window: this.snap.window, ...(this.snap.graph ? { sinceVersion: this.snap.version } : {}) });
      this.update({ state: 'live' });
      // Graph-only connections get no summary heartbeats: a ping keeps the watchdog fed.
      if (this.pinger) clearInterval(this.pinger);
      this.pinger = setInterval(() => this.send({ type: 'ping', t: Date.now() }), HEARTBEAT_MS);
      this.armWatchdog();
    };
    ws.onmessage = (ev) => {
      this.armWatchdog();
      if (typeof ev.data !== 'string') return;
      let parsed;
      try {
        parsed = AnyServerMessage.safeParse(JSON.parse(ev.data));
      } catch {
        return;
      }
      if (!parsed.success) return;
      const msg = parsed.data;
      if (msg.type !== 'graph' && msg.type !== 'graph.delta') return;
      if (msg.window !== this.snap.window) return;
      // User Timing for the benchmark (bench/graph.ts): the last frame's arrival and apply, one entry each.
      performance.clearMarks(FRAME_MARK);
      performance.mark(FRAME_MARK);
      this.pending.push(msg);
      this.scheduleFlush();
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      if (this.pinger) clearInterval(this.pinger);
      this.update({ state: 'reconnecting' });
      void this.retry();
    };
  }

  private async retry(): Promise<void> {
    try {
      const r = await fetch('/api/sources', { headers: { accept: 'application/json' } });
      if (r.status === 401 || r.status === 403) return this.update({ state: 'unauthorized' });
    } catch {
      // unreachable: keep trying
    }
    const delay = Math.min(15_000, 500 * 2 ** this.attempt) * (0.5 + Math.random() * 0.5);
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

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
    // A hidden tab paints nothing; timers still run, so frames keep being applied (no backlog).
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    if (typeof document !== 'undefined' && document.hidden) setTimeout(run, 250);
    else this.onNextFrame(run);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const started = performance.now();
    const frames = this.pending;
    this.pending = [];
    let { graph, version } = this.snap;
    let resync = false;
    for (const msg of frames) {
      if (msg.type === 'graph') {
        if (this.snap.graph === null && !performance.getEntriesByName(FIRST_MARK).length) performance.mark(FIRST_MARK);
        graph = graphFromLists(msg.nodes, msg.edges);
        version = msg.version;
        resync = false;
      } else if (!resync) {
        if (!graph || msg.fromVersion !== version) {
          // A gap: ask for what was missed (or a snapshot); deltas until then are useless.
          resync = true;
          this.send({ type: 'graph.watch', window: this.snap.window, ...(graph ? { sinceVersion: version } : {}) });
          continue;
        }
        graph = applyGraphOps(graph, msg.ops);
        version = msg.version;
      }
    }
    if (graph !== this.snap.graph || version !== this.snap.version) this.update({ graph, version, applyMs: performance.now() - started });
    performance.clearMeasures(APPLY_MEASURE);
    performance.measure(APPLY_MEASURE, { start: started });
  }
}
