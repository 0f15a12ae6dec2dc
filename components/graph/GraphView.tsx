'use client';
import '@xyflow/react/dist/style.css';
import './graph.css';
import { Background, Controls, MarkerType, ReactFlow, useStore, ViewportPortal, type EdgeTypes, type NodeTypes, type Viewport } from '@xyflow/react';
import { usePathname, useRouter, useSearchParams } from 'next/navigation';
import { useCallback, useEffect, useMemo, useRef, useState, type MouseEvent as ReactMouseEvent } from 'react';
import { useGraph } from '@/lib/useGraph';
import { servicePath } from '@/protocol/model';
import type { GraphEdge, GraphNode } from '@/protocol/graph';
import { CallEdge, type CallFlowEdge } from './CallEdge';
import { EdgePanel } from './EdgePanel';
import { EdgeOverview } from './EdgeOverview';
import { EdgeTable } from './EdgeTable';
import { edgeSeverity, formatMs, formatPercent, formatRps, graphFilterToQuery, parseGraphFilter, visibleGraph, type GraphFilter } from './graphFilter';
import { fitViewport, layoutAll, loadLayoutEngine, placeNew, type Point } from './graphLayout';
import { ServiceNode, type ServiceFlowNode } from './ServiceNode';

const nodeTypes: NodeTypes = { service: ServiceNode };
const edgeTypes: EdgeTypes = { call: CallEdge };
const EMPTY_POSITIONS: ReadonlyMap<string, Point> = new Map();
const NO_EDGES: CallFlowEdge[] = [];
const LAYOUT_MARK = 'switchboard:graph-layout';
/** Past this many edges, a zoomed-out graph draws them as one overview layer (EdgeOverview). */
const OVERVIEW_EDGES = 400;

interface Hover {
  x: number;
  y: number;
  lines: string[];
}

/** The live service graph page: filters (in the URL), the graph or its table, the calls panel. */
export function GraphView() {
  const params = useSearchParams();
  const pathname = usePathname();
  const router = useRouter();
  const fromUrl = useMemo(() => parseGraphFilter(new URLSearchParams(params.toString())), [params]);
  // The selection is state written through to the URL (replaceState): controls answer at once,
  // and the URL (a reload, a shared link, back/forward) is where it starts from.
  const [filter, setFilter] = useState(fromUrl);
  useEffect(() => setFilter(fromUrl), [fromUrl]);
  const update = (patch: Partial<GraphFilter>) => {
    const next = { ...filter, ...patch };
    setFilter(next);
    window.history.replaceState(null, '', `${pathname}${graphFilterToQuery(next)}`);
  };

  const live = useGraph(filter.window);
  const graph = live.graph;
  const [positions, setPositions] = useState<ReadonlyMap<string, Point>>(EMPTY_POSITIONS);
  const [layingOut, setLayingOut] = useState(false);
  const [zoom, setZoom] = useState<Band>('near');
  const zoomedOut = zoom !== 'near';
  const [hover, setHover] = useState<Hover | null>(null);
  const layoutRun = useRef(0);
  const canvasRef = useRef<HTMLElement>(null);
  /**
   * The first view, fitted to the first layout before React Flow mounts: its first render is
   * already at the right zoom (a large graph starts in overview), rather than at 1:1 and then
   * fitted, which would draw every edge once on the way.
   */
  const [initialViewport, setInitialViewport] = useState<Viewport | null>(null);
  const fitted = useRef(false);

  const relayout = useCallback(async () => {
    if (!graph) return;
    const run = ++layoutRun.current;
    setLayingOut(true);
    await loadLayoutEngine();
    // User Timing for bench/graph.ts: how long the layout of the whole picture takes.
    performance.clearMarks(LAYOUT_MARK);
    performance.mark(LAYOUT_MARK);
    const next = await layoutAll([...graph.nodes.keys()], [...graph.edges.values()]);
    performance.clearMeasures(LAYOUT_MARK);
    performance.measure(LAYOUT_MARK, LAYOUT_MARK);
    if (run !== layoutRun.current) return;
    setPositions(next);
    setLayingOut(false);
    if (!fitted.current) {
      fitted.current = true;
      const vp = fitViewport(next, canvasRef.current?.clientWidth ?? 1200, canvasRef.current?.clientHeight ?? 700);
      setZoom(bandOf(vp.zoom));
      setInitialViewport(vp);
    }
  }, [graph]);

  // The layout engine downloads while the graph stream connects, not after its first frame.
  useEffect(() => void loadLayoutEngine().catch(() => undefined), []);

  // The first graph gets a full layout; later nodes are placed beside their neighbours (nothing moves).
  useEffect(() => {
    if (!graph || layingOut) return;
    if (positions.size === 0) {
      if (graph.nodes.size > 0) void relayout();
      return;
    }
    const fresh = [...graph.nodes.keys()].filter((id) => !positions.has(id));
    if (fresh.length > 0) setPositions(placeNew(positions, fresh, [...graph.edges.values()]));
  }, [graph, positions, layingOut, relayout]);

  const visible = useMemo(() => (graph ? visibleGraph(graph, filter) : { nodes: [], edges: [] }), [graph, filter]);
  const flowNodes = useFlowNodes(visible.nodes, positions);
  const flowEdges = useFlowEdges(visible.edges, positions);

  const sources = useMemo(() => [...new Set([...(graph?.nodes.values() ?? [])].flatMap((n) => (n.sourceId ? [n.sourceId] : [])))].sort(), [graph]);
  const scopes = useMemo(
    () => [...new Set([...(graph?.nodes.values() ?? [])].flatMap((n) => (n.scope && (!filter.source || n.sourceId === filter.source) ? [n.scope] : [])))].sort(),
    [graph, filter.source],
  );

  const onNodeClick = useCallback(
    (_: ReactMouseEvent, node: ServiceFlowNode) => {
      if (node.data.node.kind === 'service') router.push(`/services/${servicePath(node.id)}`);
    },
    [router],
  );
  const selectEdge = (e: Pick<GraphEdge, 'from' | 'to'>) => update({ edge: { from: e.from, to: e.to } });
  const onEdgeClick = (_: ReactMouseEvent, edge: CallFlowEdge) => selectEdge(edge.data!.edge);
  const onNodeEnter = useCallback((ev: ReactMouseEvent, node: ServiceFlowNode) => setHover({ x: ev.clientX, y: ev.clientY, lines: nodeLines(node.data.node) }), []);
  const onEdgeEnter = useCallback((ev: ReactMouseEvent, edge: CallFlowEdge) => setHover({ x: ev.clientX, y: ev.clientY, lines: edgeLines(edge.data!.edge, graph?.nodes) }), [graph]);
  const onLeave = useCallback(() => setHover(null), []);

  const idleCount = visible.edges.filter((e) => e.rps === 0).length;
  const overview = zoomedOut && visible.edges.length > OVERVIEW_EDGES;
  return (
    <div className="graph-page">
      <div className="toolbar graph-toolbar" role="group" aria-label="Graph filters">
        <h1 className="graph-title">Service graph</h1>
        <label>
          Source{' '}
          <select value={filter.source ?? ''} onChange={(e) => update({ source: e.target.value || null, scope: null })} data-testid="filter-source">
            <option value="">all</option>
            {sources.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Datacenter / namespace{' '}
          <select value={filter.scope ?? ''} onChange={(e) => update({ scope: e.target.value || null })} data-testid="filter-scope">
            <option value="">all</option>
            {scopes.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Window{' '}
          <select value={filter.window} onChange={(e) => update({ window: e.target.value as GraphFilter['window'] })} data-testid="filter-window">
            <option value="1m">last 1 minute</option>
            <option value="5m">last 5 minutes</option>
            <option value="15m">last 15 minutes</option>
          </select>
        </label>
        <label>
          <input type="checkbox" checked={filter.hideIdle} onChange={(e) => update({ hideIdle: e.target.checked })} data-testid="filter-hide-idle" /> Hide idle edges
        </label>
        <button type="button" className="btn-plain" onClick={() => void relayout()} disabled={!graph || layingOut} data-testid="relayout">
          Re-layout
        </button>
        <button type="button" className="btn-plain" aria-pressed={filter.table} onClick={() => update({ table: !filter.table })} data-testid="toggle-table">
          Table of edges
        </button>
        <span className="summary" data-testid="graph-summary" data-state={live.state} data-version={live.version}>
          {graph ? `${visible.nodes.length} services · ${visible.edges.length} edges${filter.hideIdle ? '' : ` (${idleCount} idle)`}` : live.state === 'unauthorized' ? 'sign in to see the graph' : 'connecting…'}
        </span>
      </div>
      <div className="graph-body">
        {filter.table ? (
          <EdgeTable nodes={graph?.nodes ?? new Map()} edges={visible.edges} onSelect={selectEdge} />
        ) : (
          <section className={`graph-canvas${zoomedOut ? ' zoomed-out' : ''}${zoom === 'far' ? ' far' : ''}`} aria-label={`Service graph: ${visible.nodes.length} services, ${visible.edges.length} call edges. The table of edges (button above) lists the same.`} data-testid="graph-canvas" ref={canvasRef} data-laid-out={positions.size > 0 && !layingOut ? 'true' : 'false'}>
            {graph && graph.nodes.size === 0 ? <p className="empty">No services yet.</p> : null}
            {initialViewport ? (
            <ReactFlow<ServiceFlowNode, CallFlowEdge>
              nodes={flowNodes}
              edges={overview ? NO_EDGES : flowEdges}
              nodeTypes={nodeTypes}
              edgeTypes={edgeTypes}
              onNodeClick={onNodeClick}
              onEdgeClick={onEdgeClick}
              onNodeMouseEnter={onNodeEnter}
              onNodeMouseLeave={onLeave}
              onEdgeMouseEnter={onEdgeEnter}
              onEdgeMouseLeave={onLeave}
              nodesDraggable={false}
              nodesConnectable={false}
              edgesFocusable={false}
              elementsSelectable={false}
              onlyRenderVisibleElements
              defaultViewport={initialViewport}
              minZoom={0.05}
              maxZoom={2}
              proOptions={{ hideAttribution: true }}
            >
              {overview ? (
                <ViewportPortal>
                  <EdgeOverview edges={visible.edges} positions={positions} />
                </ViewportPortal>
              ) : null}
              {/* The dot grid repaints on every pan frame: only on graphs small enough not to mind. */}
              {visible.nodes.length <= 150 ? <Background gap={24} /> : null}
              <Controls showInteractive={false} />
              <ZoomBand onChange={setZoom} />
            </ReactFlow>
            ) : null}
            {layingOut ? <p className="graph-note">Laying out…</p> : null}
          </section>
        )}
        {filter.edge && graph ? <EdgePanel from={filter.edge.from} to={filter.edge.to} window={filter.window} nodes={graph.nodes} onClose={() => update({ edge: null })} /> : null}
      </div>
      <p className="graph-legend">
        <span className="lg ok">calls</span> <span className="lg warn">≥ 1% errors</span> <span className="lg error">≥ 5% errors</span> <span className="lg idle">idle</span> · node colour: instances&apos; health · ⚡ open breakers · click a service to open it, an edge to list its calls
      </p>
      {hover ? (
        <div className="tooltip graph-tooltip" role="tooltip" style={{ left: hover.x + 14, top: hover.y + 14 }} data-testid="graph-tooltip">
          {hover.lines.map((l) => (
            <div key={l}>{l}</div>
          ))}
        </div>
      ) : null}
    </div>
  );
}

type Band = 'near' | 'out' | 'far';

function bandOf(zoom: number): Band {
  return zoom < 0.25 ? 'far' : zoom < 0.5 ? 'out' : 'near';
}

/**
 * Reports the zoom band whenever the viewport crosses one — user pans and zooms, and fitView
 * alike (onMove does not fire for fitView, and a fitted 500-node graph must start in overview).
 */
function ZoomBand({ onChange }: { onChange: (band: Band) => void }) {
  const band = useStore((s): Band => bandOf(s.transform[2]));
  useEffect(() => onChange(band), [band, onChange]);
  return null;
}

/** React Flow nodes, one object per (record, position): unchanged nodes keep their identity, so React Flow skips them. */
function useFlowNodes(nodes: readonly GraphNode[], positions: ReadonlyMap<string, Point>): ServiceFlowNode[] {
  const cache = useRef(new WeakMap<GraphNode, { at: Point; flow: ServiceFlowNode }>());
  return useMemo(() => {
    const out: ServiceFlowNode[] = [];
    for (const n of nodes) {
      const at = positions.get(n.id);
      if (!at) continue;
      const hit = cache.current.get(n);
      if (hit && hit.at === at) {
        out.push(hit.flow);
        continue;
      }
      const flow: ServiceFlowNode = { id: n.id, type: 'service', position: at, data: { node: n }, ariaLabel: `${n.name}${n.kind === 'external' ? ' (external caller)' : `, ${n.health}`}` };
      cache.current.set(n, { at, flow });
      out.push(flow);
    }
    return out;
  }, [nodes, positions]);
}

function useFlowEdges(edges: readonly GraphEdge[], positions: ReadonlyMap<string, Point>): CallFlowEdge[] {
  const cache = useRef(new WeakMap<GraphEdge, { offset: number; flow: CallFlowEdge }>());
  return useMemo(() => {
    // Subset edges of one pair fan out around the straight line between the two nodes.
    const pairs = new Map<string, GraphEdge[]>();
    for (const e of edges) {
      if (!positions.has(e.from) || !positions.has(e.to)) continue;
      const k = `${e.from}\u0000${e.to}`;
      const list = pairs.get(k);
      if (list) list.push(e);
      else pairs.set(k, [e]);
    }
    const out: CallFlowEdge[] = [];
    for (const list of pairs.values()) {
      if (list.length > 1) list.sort((a, b) => ((a.subset ?? '') < (b.subset ?? '') ? -1 : 1));
      list.forEach((e, i) => {
        const offset = i - (list.length - 1) / 2;
        const hit = cache.current.get(e);
        if (hit && hit.offset === offset) return void out.push(hit.flow);
        const sev = edgeSeverity(e);
        const flow: CallFlowEdge = { id: e.id, source: e.from, target: e.to, type: 'call', data: { edge: e, offset }, markerEnd: { type: MarkerType.ArrowClosed, color: SEVERITY_COLOR[sev] } };
        cache.current.set(e, { offset, flow });
        out.push(flow);
      });
    }
    return out;
  }, [edges, positions]);
}

const SEVERITY_COLOR = { ok: '#7b8696', warn: '#c98a1a', error: '#d93025', idle: '#b8c0cc' } as const;

function nodeLines(n: GraphNode): string[] {
  if (n.kind === 'external') return [`${n.name} (external caller)`];
  const c = n.counts!;
  return [
    `${n.name} — ${n.sourceId} / ${n.scope}`,
    `instances: ${c.passing} passing, ${c.warning} warning, ${c.critical} critical, ${c.unknown} unknown`,
    ...(n.breakersOpen ? [`open breakers: ${n.breakersOpen} instance(s), ${n.breakerClients} client view(s)`] : []),
    ...(n.split ? [`split: ${Object.entries(n.split.weights).map(([k, w]) => `${k} ${w}%`).join(', ')}`] : []),
    ...(n.rollout ? [`rollout: ${n.rollout.state}, step ${n.rollout.step}/${n.rollout.steps}`] : []),
    ...(n.stale ? ['source stale: last known state'] : []),
  ];
}

function edgeLines(e: GraphEdge, nodes: ReadonlyMap<string, GraphNode> | undefined): string[] {
  const name = (id: string) => nodes?.get(id)?.name ?? id;
  return [
    `${name(e.from)} → ${name(e.to)}${e.subset ? ` (${e.subset})` : ''}`,
    `${formatRps(e.rps)} requests/s · ${formatPercent(e.errorRate)} errors · p99 ${formatMs(e.p99)}`,
    `errors in the last seconds: ${e.recentErrorRate === null ? 'no calls' : formatPercent(e.recentErrorRate)}`,
  ];
}
