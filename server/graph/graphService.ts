/**
 * Keeps the live service graph for the windows someone watches: once a tick (1 s) it rebuilds
 * each watched window's graph from the topology and the call-graph store, diffs it against the
 * last one and, when something changed, bumps that window's version and tells its listeners
 * (the realtime hub). A short history of deltas lets a client that fell a few versions behind
 * catch up without a snapshot.
 *
 * Windows are computed only while watched (first watcher starts the tick, the last one leaving
 * stops it after a short grace), so a control plane nobody looks at does no graph work.
 */
import { externalNodeId, GRAPH_WINDOW_MS, type GraphEdge, type GraphEdgeDetail, type GraphModel, type GraphNode, type GraphOp, type GraphWindow } from '../../protocol/graph';
import { newHistogram, quantile } from '../../sdk/latencyHistogram';
import type { EdgeSample } from '../telemetry/callGraphStore';
import type { TopologyStore } from '../topology/topologyStore';
import { buildGraph, diffGraph, settle, type GraphSample, type ServiceDirectory } from './serviceGraph';
import { StoreDirectory } from './storeDirectory';

export interface GraphSnapshot {
  window: GraphWindow;
  version: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** What the realtime hub needs of the graph. */
export interface GraphFeed {
  /** Start computing `window` (refcounted); returns the release. */
  watch(window: GraphWindow): () => void;
  version(window: GraphWindow): number;
  snapshot(window: GraphWindow): GraphSnapshot;
  /** The ops from `version` (exclusive) to the current one, or null when the history no longer covers it. */
  since(window: GraphWindow, version: number): GraphOp[] | null;
  /** Called after a tick that changed some window. */
  subscribe(listener: () => void): () => void;
}

export interface GraphServiceOptions {
  store: TopologyStore;
  /** The call-graph store (or anything that samples edges the same way). */
  edges: { samples(windowMs: number, now: number): EdgeSample[] | GraphSample[]; readonly version?: number };
  /** @default a StoreDirectory over `store` */
  directory?: ServiceDirectory;
  /** @default Date.now */
  now?: () => number;
  /** Every window is rebuilt at least this often (the window slides). @default 1000 */
  tickMs?: number;
  /** A new report or topology change is picked up within this (no faster than it). @default 250 */
  reactMs?: number;
  /** Deltas kept per window for clients that fell behind. @default 30 */
  historySize?: number;
  /** A window nobody watches any more is dropped after this. @default 10 s */
  idleMs?: number;
}

interface WindowState {
  watchers: number;
  version: number;
  graph: GraphModel;
  history: { version: number; ops: GraphOp[] }[];
  idleTimer: ReturnType<typeof setTimeout> | null;
  /** Sorted lists for snapshots, built once per version. */
  lists: GraphSnapshot | null;
}

const EMPTY: GraphModel = { nodes: new Map(), edges: new Map() };

export class GraphService implements GraphFeed {
  private readonly windows = new Map<GraphWindow, WindowState>();
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly directory: ServiceDirectory;
  private readonly now: () => number;
  /** Last tick's build and diff time, ms (for /metrics and the benchmark). */
  lastTickMs = 0;
  private lastBuildAt = -Infinity;
  private seen = { edges: -1, rev: -1 };

  constructor(private readonly opts: GraphServiceOptions) {
    this.directory = opts.directory ?? new StoreDirectory(opts.store);
    this.now = opts.now ?? Date.now;
  }

  watch(window: GraphWindow): () => void {
    let w = this.windows.get(window);
    if (!w) {
      // Versions start at the clock (ms), not 0: a client resuming against a restarted server, or a
      // window rebuilt after it idled out, holds a version older than any this state has, so it
      // gets a snapshot instead of deltas against a graph it never had.
      w = { watchers: 0, version: Math.floor(this.now()), graph: EMPTY, history: [], idleTimer: null, lists: null };
      this.windows.set(window, w);
      this.update(window, w);
    }
    if (w.idleTimer) clearTimeout(w.idleTimer);
    w.idleTimer = null;
    w.watchers++;
    if (!this.timer) {
      this.timer = setInterval(() => this.poll(), this.opts.reactMs ?? 250);
      this.timer.unref?.();
    }
    const state = w;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--state.watchers > 0) return;
      state.idleTimer = setTimeout(() => {
        if (state.watchers > 0 || this.windows.get(window) !== state) return;
        this.windows.delete(window);
        if (this.windows.size === 0 && this.timer) {
          clearInterval(this.timer);
          this.timer = null;
        }
      }, this.opts.idleMs ?? 10_000);
      state.idleTimer.unref?.();
    };
  }

  version(window: GraphWindow): number {
    return this.windows.get(window)?.version ?? 0;
  }

  snapshot(window: GraphWindow): GraphSnapshot {
    const w = this.windows.get(window);
    if (!w) return { window, version: 0, nodes: [], edges: [] };
    w.lists ??= { window, version: w.version, nodes: [...w.graph.nodes.values()], edges: [...w.graph.edges.values()] };
    return w.lists;
  }

  since(window: GraphWindow, version: number): GraphOp[] | null {
    const w = this.windows.get(window);
    if (!w) return null;
    if (version === w.version) return [];
    const first = w.history[0];
    if (!first || version < first.version - 1 || version > w.version) return null;
    const ops: GraphOp[] = [];
    for (const h of w.history) if (h.version > version) ops.push(...h.ops);
    return ops;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A rebuild when the window has slid a tick, or sooner when a report or the topology moved. */
  private poll(): void {
    const now = this.now();
    const moved = (this.opts.edges.version ?? -2) !== this.seen.edges || this.opts.store.rev !== this.seen.rev;
    if (now - this.lastBuildAt >= (this.opts.tickMs ?? 1000) || moved) this.tick();
  }

  /** Rebuilds every watched window; public so tests and the benchmark can drive it. */
  tick(): void {
    const started = performance.now();
    this.lastBuildAt = this.now();
    this.seen = { edges: this.opts.edges.version ?? -2, rev: this.opts.store.rev };
    let changed = false;
    for (const [window, w] of this.windows) if (this.update(window, w)) changed = true;
    this.lastTickMs = performance.now() - started;
    if (changed) for (const l of this.listeners) l();
  }

  /**
   * Were any calls observed over `window`? What `/` needs to choose between the graph and the
   * list: a read of the call samples, not a graph build (nor a watch that keeps rebuilding).
   */
  observedCalls(window: GraphWindow): boolean {
    return this.opts.edges.samples(GRAPH_WINDOW_MS[window], this.now()).length > 0;
  }

  /** The calls between two nodes over a window, per callee instance (and status code). */
  edgeDetail(caller: string, callee: string, window: GraphWindow): GraphEdgeDetail {
    const per = new Map<string, { subset: string | null; requests: number; errors: number; rps: number; latency: number[]; p99: number | null; statuses: Record<string, number> }>();
    for (const s of this.opts.edges.samples(GRAPH_WINDOW_MS[window], this.now()) as GraphSample[]) {
      const from = this.directory.caller(s.caller) ?? externalNodeId(s.caller);
      if (from !== caller) continue;
      const target = this.directory.callee(s.callee, s.instanceId);
      if ((target?.serviceId ?? externalNodeId(s.callee)) !== callee) continue;
      let e = per.get(s.instanceId);
      if (!e) per.set(s.instanceId, (e = { subset: target?.subset ?? null, requests: 0, errors: 0, rps: 0, latency: newHistogram(), p99: null, statuses: {} }));
      e.requests += s.requests;
      e.errors += s.errors;
      e.rps += s.rps;
      const sample = s as Partial<EdgeSample>;
      if (sample.latency) sample.latency.forEach((c, i) => (e.latency[i]! += c));
      else if (s.p99 !== null) e.p99 = Math.max(e.p99 ?? 0, s.p99);
      for (const [code, n] of Object.entries(sample.statuses ?? {})) e.statuses[code] = (e.statuses[code] ?? 0) + n;
    }
    return {
      caller,
      callee,
      window,
      instances: [...per]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([instanceId, e]) => ({
          instanceId,
          subset: e.subset,
          requests: e.requests,
          errors: e.errors,
          rps: Math.round(e.rps * 100) / 100,
          errorRate: e.requests > 0 ? e.errors / e.requests : 0,
          p99: quantile(e.latency, 0.99) ?? e.p99,
          statuses: e.statuses,
        })),
    };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const w of this.windows.values()) if (w.idleTimer) clearTimeout(w.idleTimer);
    this.windows.clear();
  }

  private update(window: GraphWindow, w: WindowState): boolean {
    const summary = this.opts.store.summarySnapshot();
    const built = buildGraph({
      sources: summary.sources,
      services: summary.services,
      samples: this.opts.edges.samples(GRAPH_WINDOW_MS[window], this.now()),
      directory: this.directory,
    });
    const next = settle(w.graph, built);
    const ops = diffGraph(w.graph, next);
    if (ops.length === 0) return false;
    w.graph = next;
    w.version++;
    w.lists = null;
    w.history.push({ version: w.version, ops });
    if (w.history.length > (this.opts.historySize ?? 30)) w.history.shift();
    return true;
  }
}
