/**
 * Builds the service graph from the topology summaries and the call-graph store's edge samples,
 * and diffs two graphs into the ops a browser applies (protocol/graph.ts). Pure: lookups into
 * the topology come in through a ServiceDirectory.
 *
 * Numbers are rounded (3 significant digits) before they go into a record, so an edge whose
 * traffic is steady does not produce a delta every second.
 */
import { edgeId, externalNodeId, type GraphEdge, type GraphHealth, type GraphModel, type GraphNode, type GraphOp } from '../../protocol/graph';
import type { HealthCounts, ServiceSummary, SourceStatus } from '../../protocol/model';
import { newHistogram, quantile } from '../../sdk/latencyHistogram';
import type { EdgeStat } from '../telemetry/telemetryReader';

/** An edge sample: the reader's EdgeStat, plus what the built-in store adds (histograms, the last seconds). */
export type GraphSample = EdgeStat & { latency?: readonly number[]; recentRequests?: number; recentErrors?: number };

export interface ServiceDirectory {
  /** The service an SDK report's `service` (a name) and instance id belong to, and the instance's subset under its policy. */
  callee(name: string, instanceId: string): { serviceId: string; subset: string | null } | null;
  /** The service a report's `caller` is (a service name, or an instance id of one); null: an external caller. */
  caller(caller: string): string | null;
  /** Open breaker views of a service's instances (clients × instances that see one open). */
  breakerClients(serviceId: string): number;
}

export interface GraphInput {
  sources: readonly SourceStatus[];
  services: readonly ServiceSummary[];
  samples: readonly GraphSample[];
  directory: ServiceDirectory;
}

interface EdgeAcc {
  from: string;
  to: string;
  subset: string | null;
  requests: number;
  errors: number;
  rps: number;
  latency: number[] | null;
  /** Fallback without histograms (a Prometheus reader): the worst instance p99. */
  p99: number | null;
  recentRequests: number;
  recentErrors: number;
  hasRecent: boolean;
}

export function buildGraph(input: GraphInput): GraphModel {
  const nodes = new Map<string, GraphNode>();
  const staleSources = new Set(input.sources.filter((s) => s.state === 'stale' || s.state === 'down').map((s) => s.id));
  for (const s of input.services) nodes.set(s.id, serviceNode(s, staleSources.has(s.sourceId), s.breakersOpen > 0 ? input.directory.breakerClients(s.id) : 0));
  const acc = new Map<string, EdgeAcc>();
  const callers = new Map<string, string>();
  for (const sample of input.samples) {
    let from = callers.get(sample.caller);
    if (from === undefined) {
      from = input.directory.caller(sample.caller) ?? externalNodeId(sample.caller);
      callers.set(sample.caller, from);
    }
    if (!nodes.has(from)) nodes.set(from, externalNode(from, sample.caller));
    const callee = input.directory.callee(sample.callee, sample.instanceId);
    const to = callee?.serviceId ?? externalNodeId(sample.callee);
    if (!nodes.has(to)) nodes.set(to, externalNode(to, sample.callee));
    const subset = callee?.subset ?? null;
    const id = edgeId(from, to, subset);
    let e = acc.get(id);
    if (!e) acc.set(id, (e = { from, to, subset, requests: 0, errors: 0, rps: 0, latency: null, p99: null, recentRequests: 0, recentErrors: 0, hasRecent: false }));
    e.requests += sample.requests;
    e.errors += sample.errors;
    e.rps += sample.rps;
    if (sample.latency) {
      e.latency ??= newHistogram();
      for (let i = 0; i < sample.latency.length; i++) e.latency[i] = (e.latency[i] ?? 0) + sample.latency[i]!;
    } else if (sample.p99 !== null) e.p99 = Math.max(e.p99 ?? 0, sample.p99);
    if (sample.recentRequests !== undefined) {
      e.hasRecent = true;
      e.recentRequests += sample.recentRequests;
      e.recentErrors += sample.recentErrors ?? 0;
    }
  }
  const edges = new Map<string, GraphEdge>();
  for (const [id, e] of acc) {
    edges.set(id, {
      id,
      from: e.from,
      to: e.to,
      subset: e.subset,
      rps: round3(e.rps),
      errorRate: e.requests > 0 ? ratio(e.errors / e.requests) : 0,
      p99: e.latency ? round3OrNull(quantile(e.latency, 0.99)) : round3OrNull(e.p99),
      // Without the last seconds (a Prometheus reader), the window's rate stands in.
      recentErrorRate: e.hasRecent ? (e.recentRequests > 0 ? ratio(e.recentErrors / e.recentRequests) : null) : e.requests > 0 ? ratio(e.errors / e.requests) : null,
    });
  }
  return { nodes, edges };
}

/**
 * `next`, with every edge whose numbers moved only a little since `prev` replaced by its `prev`
 * record: under steady traffic a sliding window's rate wobbles every second, and sending those
 * wobbles would turn every tick into a delta of every edge. "A little": rps and p99 within 10 %,
 * error rates within 0.5 points and in the same colour band (under 1 %, under 5 %, above), and
 * the same idle-ness. Anything a reader would see change (a colour, a new number) goes out.
 */
export function settle(prev: GraphModel, next: GraphModel): GraphModel {
  let edges: Map<string, GraphEdge> | null = null;
  for (const [id, e] of next.edges) {
    const old = prev.edges.get(id);
    if (!old || old === e || !close(old, e)) continue;
    (edges ??= new Map(next.edges)).set(id, old);
  }
  return edges ? { nodes: next.nodes, edges } : next;
}

function close(a: GraphEdge, b: GraphEdge): boolean {
  return (
    (a.rps === 0) === (b.rps === 0) &&
    near(a.rps, b.rps, 0.1) &&
    (a.p99 === null) === (b.p99 === null) &&
    (a.p99 === null || near(a.p99, b.p99!, 0.1)) &&
    Math.abs(a.errorRate - b.errorRate) < 0.005 &&
    band(a.errorRate) === band(b.errorRate) &&
    (a.recentErrorRate === null) === (b.recentErrorRate === null) &&
    Math.abs((a.recentErrorRate ?? 0) - (b.recentErrorRate ?? 0)) < 0.005 &&
    band(a.recentErrorRate ?? 0) === band(b.recentErrorRate ?? 0)
  );
}

function near(a: number, b: number, relative: number): boolean {
  return Math.abs(a - b) <= relative * Math.max(Math.abs(a), Math.abs(b));
}

/** The colour bands of an error rate (components/graph edgeSeverity): under 1 %, under 5 %, 5 % and up. */
function band(rate: number): number {
  return rate >= 0.05 ? 2 : rate >= 0.01 ? 1 : 0;
}

/** The ops that turn `prev` into `next`: puts for new or changed records, deletes for gone ones (edges first). */
export function diffGraph(prev: GraphModel, next: GraphModel): GraphOp[] {
  const ops: GraphOp[] = [];
  for (const [id, n] of next.nodes) {
    const old = prev.nodes.get(id);
    if (old !== n && (!old || !sameNode(old, n))) ops.push({ op: 'node.put', node: n });
  }
  for (const [id, e] of next.edges) {
    const old = prev.edges.get(id);
    if (old !== e && (!old || !sameEdge(old, e))) ops.push({ op: 'edge.put', edge: e });
  }
  for (const id of prev.edges.keys()) if (!next.edges.has(id)) ops.push({ op: 'edge.delete', id });
  for (const id of prev.nodes.keys()) if (!next.nodes.has(id)) ops.push({ op: 'node.delete', id });
  return ops;
}

export function nodeHealth(counts: HealthCounts): GraphHealth {
  const total = counts.passing + counts.warning + counts.critical + counts.unknown;
  if (total === 0) return 'none';
  if (counts.passing === total) return 'passing';
  if (counts.critical === total) return 'critical';
  if (counts.unknown === total) return 'unknown';
  return 'warning';
}

function serviceNode(s: ServiceSummary, stale: boolean, breakerClients: number): GraphNode {
  return {
    id: s.id,
    kind: 'service',
    name: s.name,
    sourceId: s.sourceId,
    scope: s.scope,
    health: nodeHealth(s.counts),
    counts: s.counts,
    breakersOpen: s.breakersOpen,
    breakerClients,
    split: s.weights ? { kind: Object.values(s.weights).some((w) => w === 100) ? 'blue-green' : 'canary', weights: s.weights } : null,
    rollout: s.rollout ?? null,
    stale,
  };
}

function externalNode(id: string, name: string): GraphNode {
  return { id, kind: 'external', name, sourceId: null, scope: null, health: 'none', counts: null, breakersOpen: 0, breakerClients: 0, split: null, rollout: null, stale: false };
}

function sameNode(a: GraphNode, b: GraphNode): boolean {
  return (
    a.health === b.health &&
    a.breakersOpen === b.breakersOpen &&
    a.breakerClients === b.breakerClients &&
    a.stale === b.stale &&
    a.kind === b.kind &&
    a.name === b.name &&
    a.sourceId === b.sourceId &&
    a.scope === b.scope &&
    JSON.stringify([a.counts, a.split, a.rollout]) === JSON.stringify([b.counts, b.split, b.rollout])
  );
}

function sameEdge(a: GraphEdge, b: GraphEdge): boolean {
  return a.rps === b.rps && a.errorRate === b.errorRate && a.p99 === b.p99 && a.recentErrorRate === b.recentErrorRate && a.subset === b.subset && a.from === b.from && a.to === b.to;
}

function round3(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return 0;
  return Number(x.toPrecision(3));
}

/** A rate 0–1 to 0.1 %. */
function ratio(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function round3OrNull(x: number | null): number | null {
  return x === null ? null : round3(x);
}
