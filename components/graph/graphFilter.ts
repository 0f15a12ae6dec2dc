/**
 * The graph page's selection, kept in the URL (?source=&scope=&hideIdle=1&window=5m&view=table
 * &edge=<from>→<to>), and what it lets through. Pure: parse, print, filter.
 */
import { GraphWindow, type GraphEdge, type GraphModel, type GraphNode } from '@/protocol/graph';

export interface GraphFilter {
  source: string | null;
  scope: string | null;
  hideIdle: boolean;
  window: GraphWindow;
  /** Show the edges as a table (the graph's text alternative). */
  table: boolean;
  /** The edge whose calls the side panel lists: caller and callee node ids. */
  edge: { from: string; to: string } | null;
}

export const DEFAULT_FILTER: GraphFilter = { source: null, scope: null, hideIdle: false, window: '5m', table: false, edge: null };

const EDGE_SEP = '→';

export function parseGraphFilter(p: URLSearchParams): GraphFilter {
  const w = GraphWindow.safeParse(p.get('window'));
  const edge = p.get('edge');
  const at = edge ? edge.indexOf(EDGE_SEP) : -1;
  return {
    source: p.get('source') || null,
    scope: p.get('scope') || null,
    hideIdle: p.get('hideIdle') === '1',
    window: w.success ? w.data : DEFAULT_FILTER.window,
    table: p.get('view') === 'table',
    edge: edge && at > 0 ? { from: edge.slice(0, at), to: edge.slice(at + EDGE_SEP.length) } : null,
  };
}

export function graphFilterToQuery(f: GraphFilter): string {
  const p = new URLSearchParams();
  if (f.source) p.set('source', f.source);
  if (f.scope) p.set('scope', f.scope);
  if (f.hideIdle) p.set('hideIdle', '1');
  if (f.window !== DEFAULT_FILTER.window) p.set('window', f.window);
  if (f.table) p.set('view', 'table');
  if (f.edge) p.set('edge', `${f.edge.from}${EDGE_SEP}${f.edge.to}`);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface VisibleGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/**
 * Services outside the chosen source/scope are hidden, and so are edges touching a hidden node
 * (and idle ones when asked). External callers show when one of their edges does.
 */
export function visibleGraph(graph: GraphModel, f: GraphFilter): VisibleGraph {
  const shown = (n: GraphNode) => n.kind === 'external' || ((!f.source || n.sourceId === f.source) && (!f.scope || n.scope === f.scope));
  const edges: GraphEdge[] = [];
  const touched = new Set<string>();
  for (const e of graph.edges.values()) {
    if (f.hideIdle && e.rps === 0) continue;
    const a = graph.nodes.get(e.from);
    const b = graph.nodes.get(e.to);
    if (!a || !b || !shown(a) || !shown(b)) continue;
    edges.push(e);
    touched.add(e.from).add(e.to);
  }
  const nodes: GraphNode[] = [];
  for (const n of graph.nodes.values()) if (n.kind === 'service' ? shown(n) : touched.has(n.id)) nodes.push(n);
  return { nodes, edges };
}

export type EdgeSeverity = 'idle' | 'ok' | 'warn' | 'error';

/** An edge's colour: the worse of its window's and its last seconds' error rate (a fault shows at once). */
export function edgeSeverity(e: Pick<GraphEdge, 'rps' | 'errorRate' | 'recentErrorRate'>): EdgeSeverity {
  const rate = Math.max(e.errorRate, e.recentErrorRate ?? 0);
  if (rate >= 0.05) return 'error';
  if (rate >= 0.01) return 'warn';
  if (e.rps === 0 && e.recentErrorRate === null) return 'idle';
  return 'ok';
}

export function formatRps(rps: number): string {
  return rps >= 100 ? rps.toFixed(0) : rps >= 10 ? rps.toFixed(1) : rps.toFixed(2);
}

export function formatPercent(rate: number): string {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
}

export function formatMs(ms: number | null): string {
  return ms === null ? '–' : ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}
