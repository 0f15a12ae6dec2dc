/**
 * Where nodes sit. A full layout is ELK's layered algorithm, left → right (callers before
 * callees), run once for the node set the page first sees and again only when the user asks
 * ("Re-layout"). Nodes that appear later are placed beside what they connect to without moving
 * anything already placed, so a live graph never reshuffles under the reader's eyes.
 */
import ELK from 'elkjs/lib/elk.bundled.js';

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
}

let elk: InstanceType<typeof ELK> | null = null;

/** Positions for every node in `nodeIds` (top-left corners), by ELK layered. */
export async function layoutAll(nodeIds: readonly string[], edges: readonly LayoutEdge[]): Promise<Map<string, Point>> {
  elk ??= new ELK();
  const known = new Set(nodeIds);
  const pairs = new Set<string>();
  const elkEdges: { id: string; sources: string[]; targets: string[] }[] = [];
  for (const e of edges) {
    // Subset edges of one pair are one constraint for the layout; self-calls constrain nothing.
    if (e.from === e.to || !known.has(e.from) || !known.has(e.to)) continue;
    const key = `${e.from}\u0000${e.to}`;
    if (pairs.has(key)) continue;
    pairs.add(key);
    elkEdges.push({ id: `e${elkEdges.length}`, sources: [e.from], targets: [e.to] });
  }
  const result = await elk.layout({
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.layered.spacing.nodeNodeBetweenLayers': String(LAYER_GAP),
      'elk.spacing.nodeNode': String(ROW_GAP),
      'elk.spacing.componentComponent': String(ROW_GAP * 2),
      // Big fleets: the cheaper crossing minimization keeps a 500-node layout well under a second.
      'elk.layered.thoroughness': nodeIds.length > 200 ? '1' : '7',
      'elk.separateConnectedComponents': 'true',
    },
    children: nodeIds.map((id) => ({ id, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: elkEdges,
  });
  const out = new Map<string, Point>();
  for (const c of result.children ?? []) out.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
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
