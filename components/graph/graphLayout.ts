/**
 * Where nodes sit. A full layout is ELK's layered algorithm, left → right (callers before
 * callees), run once for the node set the page first sees and again only when the user asks
 * ("Re-layout"). Nodes that appear later are placed beside what they connect to without moving
 * anything already placed, so a live graph never reshuffles under the reader's eyes.
 */
import type ELK from 'elkjs/lib/elk.bundled.js';

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 70;
const LAYER_GAP = 120;
const ROW_GAP = 28;

export interface Point {
  x: number;
  y: number;
}

export interface LayoutEdge {
  from: string;
  to: string;
  /** Requests/s: on a large graph the busiest calls are the ones the layout keeps. */
  rps?: number;
}

/** Past this many caller → callee pairs the layout gets a thinned edge set (see layoutEdges). */
export const THIN_FROM_PAIRS = 1000;

let engine: Promise<InstanceType<typeof ELK>> | null = null;

/**
 * ELK, loaded on first use. It is 1.6 MB of JavaScript: imported with the route, every page
 * that links to /graph (the header does) would download and compile it when Next prefetches
 * the route, competing with the service list for the main thread.
 */
export function loadLayoutEngine(): Promise<InstanceType<typeof ELK>> {
  engine ??= import('elkjs/lib/elk.bundled.js').then(
    ({ default: Elk }) => new Elk(),
    (err: unknown) => {
      engine = null; // a failed download is retried by the next layout
      throw err;
    },
  );
  return engine;
}

/** Positions for every node in `nodeIds` (top-left corners), by ELK layered. */
export async function layoutAll(nodeIds: readonly string[], edges: readonly LayoutEdge[]): Promise<Map<string, Point>> {
  const elk = await loadLayoutEngine();
  const known = new Set(nodeIds);
  const pairs = layoutEdges(known, edges);
  const big = new Set(edges.map((e) => `${e.from}\u0000${e.to}`)).size > THIN_FROM_PAIRS;
  const elkEdges = pairs.map(([from, to], i) => ({ id: `e${i}`, sources: [from], targets: [to] }));
  const result = await elk.layout({
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.layered.spacing.nodeNodeBetweenLayers': String(LAYER_GAP),
      'elk.spacing.nodeNode': String(ROW_GAP),
      'elk.spacing.componentComponent': String(ROW_GAP * 2),
      'elk.separateConnectedComponents': 'true',
      // Big fleets: the cheap strategies keep 500 services / 5,000 edges to a few hundred ms.
      ...(big
        ? { 'elk.layered.thoroughness': '1', 'elk.layered.layering.strategy': 'LONGEST_PATH', 'elk.layered.nodePlacement.strategy': 'SIMPLE', 'elk.edgeRouting': 'POLYLINE', 'elk.layered.crossingMinimization.greedySwitch.type': 'OFF' }
        : { 'elk.layered.thoroughness': '7' }),
    },
    children: nodeIds.map((id) => ({ id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: elkEdges,
  });
  const out = new Map<string, Point>();
  for (const c of result.children ?? []) out.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
  return out;
}

/**
 * The caller → callee pairs the layout sees. Subset edges of one pair are one constraint and
 * self-calls none. On a large graph (more than THIN_FROM_PAIRS pairs) ELK's layered algorithm
 * spends its time on long edges (one dummy node per layer crossed) and on dense crossings: it
 * gets only calls between adjacent layers (longest-path layering), the two busiest per callee,
 * plus each callee's busiest call if none of those is left. Every edge is still drawn; only the
 * placement ignores the rest.
 */
export function layoutEdges(known: ReadonlySet<string>, edges: readonly LayoutEdge[]): [string, string][] {
  const byPair = new Map<string, { from: string; to: string; rps: number }>();
  for (const e of edges) {
    if (e.from === e.to || !known.has(e.from) || !known.has(e.to)) continue;
    const key = `${e.from}\u0000${e.to}`;
    const p = byPair.get(key);
    if (p) p.rps += e.rps ?? 0;
    else byPair.set(key, { from: e.from, to: e.to, rps: e.rps ?? 0 });
  }
  const pairs = [...byPair.values()];
  if (pairs.length <= THIN_FROM_PAIRS) return pairs.map((p) => [p.from, p.to]);
  // Longest-path layers; a cycle stops growing after as many rounds as there are nodes.
  const layer = new Map<string, number>();
  for (let round = 0, changed = true; changed && round < known.size; round++) {
    changed = false;
    for (const p of pairs) {
      const want = (layer.get(p.from) ?? 0) + 1;
      if ((layer.get(p.to) ?? 0) < want) {
        layer.set(p.to, want);
        changed = true;
      }
    }
  }
  pairs.sort((a, b) => b.rps - a.rps);
  const kept = new Map<string, number>();
  const out: [string, string][] = [];
  for (const p of pairs) {
    if ((layer.get(p.to) ?? 0) - (layer.get(p.from) ?? 0) !== 1 || (kept.get(p.to) ?? 0) >= 2) continue;
    kept.set(p.to, (kept.get(p.to) ?? 0) + 1);
    out.push([p.from, p.to]);
  }
  for (const p of pairs) {
    if (kept.has(p.to)) continue;
    kept.set(p.to, 1);
    out.push([p.from, p.to]);
  }
  return out;
}

/**
 * Places `newIds` without touching `placed`: a callee goes one layer right of its first placed
 * caller, a caller one layer left of its first placed callee, below whatever already sits in
 * that column; a node connected to nothing placed goes under the whole picture.
 */
export function placeNew(placed: ReadonlyMap<string, Point>, newIds: readonly string[], edges: readonly LayoutEdge[]): Map<string, Point> {
  const out = new Map(placed);
  let bottom = 0;
  for (const p of placed.values()) bottom = Math.max(bottom, p.y + NODE_HEIGHT);
  const columnBottom = (x: number) => {
    let y = -Infinity;
    for (const p of out.values()) if (Math.abs(p.x - x) < NODE_WIDTH / 2) y = Math.max(y, p.y + NODE_HEIGHT);
    return y === -Infinity ? 0 : y + ROW_GAP;
  };
  let looseX = 0;
  for (const id of newIds) {
    if (out.has(id)) continue;
    let anchor: Point | null = null;
    let dx = 0;
    for (const e of edges) {
      if (e.to === id && e.from !== id && out.has(e.from)) {
        anchor = out.get(e.from)!;
        dx = NODE_WIDTH + LAYER_GAP;
        break;
      }
      if (e.from === id && e.to !== id && out.has(e.to)) {
        anchor = out.get(e.to)!;
        dx = -(NODE_WIDTH + LAYER_GAP);
        break;
      }
    }
    if (anchor) {
      const x = anchor.x + dx;
      out.set(id, { x, y: columnBottom(x) });
    } else {
      out.set(id, { x: looseX, y: bottom + ROW_GAP * 2 });
      looseX += NODE_WIDTH + ROW_GAP;
    }
  }
  return out;
}

/** The viewport (React Flow's x, y, zoom) that shows every placed node in a `width` × `height` canvas, at most 1.5:1. */
export function fitViewport(positions: ReadonlyMap<string, Point>, width: number, height: number): { x: number; y: number; zoom: number } {
  if (positions.size === 0) return { x: 0, y: 0, zoom: 1 };
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const p of positions.values()) {
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x + NODE_WIDTH);
    maxY = Math.max(maxY, p.y + NODE_HEIGHT);
  }
  const pad = 0.92;
  const zoom = Math.min(1.5, Math.max(0.05, Math.min((width * pad) / (maxX - minX), (height * pad) / (maxY - minY))));
  return { x: (width - (maxX - minX) * zoom) / 2 - minX * zoom, y: (height - (maxY - minY) * zoom) / 2 - minY * zoom, zoom };
}
