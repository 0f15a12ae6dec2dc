/**
 * The live service graph (DESIGN.md: telemetry → graph): nodes are services from every source
 * plus external callers (the load generator, the gateway), edges are observed calls caller →
 * callee over a window, split per subset when the callee has a traffic policy.
 *
 * It travels over /api/ws as an opt-in stream: `graph.watch` → one `graph` snapshot, then
 * `graph.delta` frames (whole-record puts and id deletes, so a delta applies idempotently)
 * while something changes. `version` counts the graph's changes per window.
 */
import { z } from 'zod';
import { HealthCounts } from './model';
import { RolloutBadge } from './rollout';

/** The windows the graph offers, in the URL's spelling. */
export const GraphWindow = z.enum(['1m', '5m', '15m']);
export type GraphWindow = z.infer<typeof GraphWindow>;
export const GRAPH_WINDOW_MS: Record<GraphWindow, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000 };

/** A node's colour: its instances' health (warning: some but not all are unhealthy); none: no instances, or external. */
export const GraphHealth = z.enum(['passing', 'warning', 'critical', 'unknown', 'none']);
export type GraphHealth = z.infer<typeof GraphHealth>;

export const GraphNode = z.object({
  /** The service id (`source/scope/name`), or `external:<caller>` for a caller that is no registered service. */
  id: z.string(),
  kind: z.enum(['service', 'external']),
  name: z.string(),
  sourceId: z.string().nullable(),
  scope: z.string().nullable(),
  health: GraphHealth,
  counts: HealthCounts.nullable(),
  /** Instances some client sees with an open or half-open breaker. */
  breakersOpen: z.number().int(),
  /** Open breaker views: how many (client, instance) pairs see a breaker open. */
  breakerClients: z.number().int(),
  /** The split in force: a blue/green (one subset takes everything) or a canary (weights spread). */
  split: z.object({ kind: z.enum(['blue-green', 'canary']), weights: z.record(z.string(), z.number()) }).nullable(),
  rollout: RolloutBadge.nullable(),
  /** The service's source is stale or down: what the graph shows is last-known-good. */
  stale: z.boolean(),
});
export type GraphNode = z.infer<typeof GraphNode>;

export const GraphEdge = z.object({
  /** `from|to|subset` */
  id: z.string(),
  from: z.string(),
  to: z.string(),
  /** The callee's subset these calls went to; null when the callee has no policy (or the instance is in none). */
  subset: z.string().nullable(),
  /** Over the window, 3 significant digits. (Request counts are in the edge panel: here they would change every second.) */
  rps: z.number(),
  /** errors / requests over the window, 0–1 to 0.1 % (0 without requests). */
  errorRate: z.number(),
  /** ms over the window's minutes; null without samples. */
  p99: z.number().nullable(),
  /** errors / requests over the last 5–10 s (null: no calls then), so a fault shows at once whatever the window. */
  recentErrorRate: z.number().nullable(),
});
export type GraphEdge = z.infer<typeof GraphEdge>;

export const GraphOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('node.put'), node: GraphNode }),
  z.object({ op: z.literal('node.delete'), id: z.string() }),
  z.object({ op: z.literal('edge.put'), edge: GraphEdge }),
  z.object({ op: z.literal('edge.delete'), id: z.string() }),
]);
export type GraphOp = z.infer<typeof GraphOp>;

/** What the browser and the server hold: records by id. */
export interface GraphModel {
  nodes: ReadonlyMap<string, GraphNode>;
  edges: ReadonlyMap<string, GraphEdge>;
}

export function edgeId(from: string, to: string, subset: string | null): string {
  return `${from}|${to}|${subset ?? ''}`;
}

export function externalNodeId(caller: string): string {
  return `external:${caller}`;
}

/**
 * The graph after `ops`. Inputs are not mutated; untouched records keep their identity (the
 * page re-renders only what changed). Deleting a node does not delete its edges: the server
 * sends those deletes itself. O(ops) plus one copy of each map touched.
 */
export function applyGraphOps(graph: GraphModel, ops: readonly GraphOp[]): GraphModel {
  if (ops.length === 0) return graph;
  let nodes: Map<string, GraphNode> | null = null;
  let edges: Map<string, GraphEdge> | null = null;
  for (const op of ops) {
    switch (op.op) {
      case 'node.put':
        (nodes ??= new Map(graph.nodes)).set(op.node.id, op.node);
        break;
      case 'node.delete':
        (nodes ??= new Map(graph.nodes)).delete(op.id);
        break;
      case 'edge.put':
        (edges ??= new Map(graph.edges)).set(op.edge.id, op.edge);
        break;
      case 'edge.delete':
        (edges ??= new Map(graph.edges)).delete(op.id);
        break;
    }
  }
  return { nodes: nodes ?? graph.nodes, edges: edges ?? graph.edges };
}

export function graphFromLists(nodes: readonly GraphNode[], edges: readonly GraphEdge[]): GraphModel {
  return { nodes: new Map(nodes.map((n) => [n.id, n])), edges: new Map(edges.map((e) => [e.id, e])) };
}

/** `GET /api/graph/edge?caller=&callee=&window=`: the calls between two nodes, per callee instance and status code. */
export const GraphEdgeDetail = z.object({
  caller: z.string(),
  callee: z.string(),
  window: GraphWindow,
  instances: z.array(
    z.object({
      instanceId: z.string(),
      subset: z.string().nullable(),
      requests: z.number().int(),
      errors: z.number().int(),
      rps: z.number(),
      errorRate: z.number(),
      p99: z.number().nullable(),
      /** Answers per status code ("error": no answer); empty from SDKs that do not report codes. */
      statuses: z.record(z.string(), z.number().int()),
    }),
  ),
});
export type GraphEdgeDetail = z.infer<typeof GraphEdgeDetail>;

/** GET /api/graph/observed: whether any call was seen in the window (what `/` opens on). */
export const ObservedCalls = z.object({ window: GraphWindow, observed: z.boolean() });
export type ObservedCalls = z.infer<typeof ObservedCalls>;
