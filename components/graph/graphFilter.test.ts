import { describe, expect, it } from 'vitest';
import type { GraphEdge, GraphNode } from '@/protocol/graph';
import { DEFAULT_FILTER, edgeSeverity, graphFilterToQuery, parseGraphFilter, visibleGraph } from './graphFilter';

const node = (id: string, sourceId: string | null, scope: string | null): GraphNode => ({ id, kind: sourceId ? 'service' : 'external', name: id, sourceId, scope, health: 'passing', counts: null, breakersOpen: 0, breakerClients: 0, split: null, rollout: null, stale: false });
const edge = (from: string, to: string, rps: number): GraphEdge => ({ id: `${from}|${to}|`, from, to, subset: null, rps, errorRate: 0, p99: null, recentErrorRate: rps ? 0 : null });

describe('graph filter', () => {
  it('round-trips through the URL, defaults omitted', () => {
    const f = { source: 'prod', scope: 'dc2', hideIdle: true, window: '15m' as const, table: true, edge: { from: 'external:loadgen', to: 'prod/dc2/order' } };
    expect(parseGraphFilter(new URLSearchParams(graphFilterToQuery(f)))).toEqual(f);
    expect(graphFilterToQuery(DEFAULT_FILTER)).toBe('');
    expect(parseGraphFilter(new URLSearchParams('window=2h&hideIdle=yes'))).toEqual(DEFAULT_FILTER);
  });

  it('hides services outside the source/scope, their edges, idle edges on request, and external callers left without edges', () => {
    const nodes = [node('a/dc1/x', 'a', 'dc1'), node('a/dc2/y', 'a', 'dc2'), node('b/dc1/z', 'b', 'dc1'), node('external:lg', null, null)];
    const edges = [edge('external:lg', 'a/dc1/x', 5), edge('a/dc1/x', 'a/dc2/y', 3), edge('a/dc1/x', 'b/dc1/z', 0)];
    const graph = { nodes: new Map(nodes.map((n) => [n.id, n])), edges: new Map(edges.map((e) => [e.id, e])) };
    const v = visibleGraph(graph, { ...DEFAULT_FILTER, source: 'a', scope: 'dc1' });
    expect(v.nodes.map((n) => n.id)).toEqual(['a/dc1/x', 'external:lg']);
    expect(v.edges.map((e) => e.id)).toEqual(['external:lg|a/dc1/x|']);
    expect(visibleGraph(graph, { ...DEFAULT_FILTER, hideIdle: true }).edges).toHaveLength(2);
    expect(visibleGraph(graph, { ...DEFAULT_FILTER, source: 'b' }).nodes.map((n) => n.id)).toEqual(['b/dc1/z']);
  });

  it('colours an edge by the worse of its window and its last seconds', () => {
    expect(edgeSeverity({ rps: 5, errorRate: 0.001, recentErrorRate: 0.2 })).toBe('error');
    expect(edgeSeverity({ rps: 5, errorRate: 0.02, recentErrorRate: 0 })).toBe('warn');
    expect(edgeSeverity({ rps: 5, errorRate: 0, recentErrorRate: 0 })).toBe('ok');
    expect(edgeSeverity({ rps: 0, errorRate: 0, recentErrorRate: null })).toBe('idle');
  });
});
