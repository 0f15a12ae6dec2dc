/**
 * The browser's graph stream, on the page's one WebSocket (lib/liveTopology.ts: the same
 * connection, auth, compression and reconnects as the topology): `graph.watch` for one window,
 * then a `graph` snapshot and `graph.delta` frames applied through the pure applyGraphOps. Frames
 * are applied once per animation frame (many deltas → one render); a version gap re-watches with
 * `sinceVersion` and the server answers with what was missed or a snapshot. When the socket
 * reopens, the watch resumes from the version held.
 */
import { applyGraphOps, graphFromLists, type GraphModel, type GraphWindow } from '@/protocol/graph';
import { AnyServerMessage } from '@/protocol/realtime';
import type { ConnectionState, LiveChannel } from './liveTopology';

export type GraphConnectionState = ConnectionState;

export interface LiveGraphSnapshot {
  state: GraphConnectionState;
  /** null until the first snapshot arrives. */
  graph: GraphModel | null;
  version: number;
  window: GraphWindow;
  /** ms the last batch of frames took to apply (the benchmark reads it). */
  applyMs: number;
}

/** What the graph needs of the page's connection (LiveTopology). */
export interface GraphConnection {
  attach(channel: LiveChannel): () => void;
  sendFrame(msg: unknown): void;
  getState(): ConnectionState;
  subscribe(listener: () => void): () => void;
}

export interface LiveGraphOptions {
  /** @default requestAnimationFrame */
  onNextFrame?: (cb: () => void) => void;
}

export const FRAME_MARK = 'switchboard:graph-frame';
/** When the page first had a graph to show (once per page). */
export const FIRST_MARK = 'switchboard:graph-first';
/** From the start of applying a batch of frames to the end of notifying React (not the render). */
export const APPLY_MEASURE = 'switchboard:graph-apply';

type GraphFrame = Extract<AnyServerMessage, { type: 'graph' | 'graph.delta' }>;

export class LiveGraph implements LiveChannel {
  readonly frameTypes = ['graph', 'graph.delta'] as const;
  private snap: LiveGraphSnapshot;
  private readonly listeners = new Set<() => void>();
  private pending: GraphFrame[] = [];
  private flushScheduled = false;
  private detach: (() => void) | null = null;
  private unsubscribeState: (() => void) | null = null;
  private readonly onNextFrame: (cb: () => void) => void;

  constructor(
    window: GraphWindow,
    private readonly connection: GraphConnection,
    options: LiveGraphOptions = {},
  ) {
    this.snap = { state: connection.getState(), graph: null, version: 0, window, applyMs: 0 };
    this.onNextFrame = options.onNextFrame ?? ((cb) => requestAnimationFrame(cb));
  }

  start(): void {
    this.unsubscribeState = this.connection.subscribe(() => this.update({ state: this.connection.getState() }));
    this.detach = this.connection.attach(this);
    this.update({ state: this.connection.getState() });
  }

  stop(): void {
    this.detach?.();
    this.unsubscribeState?.();
    this.detach = this.unsubscribeState = null;
    this.connection.sendFrame({ type: 'graph.unwatch' });
  }

  /** LiveChannel: the socket (re)opened — watch, resuming from the version held. */
  opened(send: (msg: unknown) => void): void {
    send({ type: 'graph.watch', window: this.snap.window, ...(this.snap.graph ? { sinceVersion: this.snap.version } : {}) });
  }

  /** LiveChannel: one graph frame, validated here. */
  frame(json: unknown): void {
    const parsed = AnyServerMessage.safeParse(json);
    if (!parsed.success) return;
    const msg = parsed.data;
    if (msg.type !== 'graph' && msg.type !== 'graph.delta') return;
    if (msg.window !== this.snap.window) return;
    // User Timing for the benchmark (bench/graph.ts): the last frame's arrival and apply, one entry each.
    performance.clearMarks(FRAME_MARK);
    performance.mark(FRAME_MARK);
    this.pending.push(msg);
    this.scheduleFlush();
  }

  /** Another window: the graph held is dropped (its numbers belong to the old window). */
  setWindow(window: GraphWindow): void {
    if (window === this.snap.window) return;
    this.pending = [];
    this.update({ window, graph: null, version: 0 });
    this.connection.sendFrame({ type: 'graph.watch', window });
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
          this.connection.sendFrame({ type: 'graph.watch', window: this.snap.window, ...(graph ? { sinceVersion: version } : {}) });
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
