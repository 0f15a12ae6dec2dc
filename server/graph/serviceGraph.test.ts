import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyGraphOps, type GraphEdge, type GraphModel, type GraphNode } from '../../protocol/graph';
import type { ServiceSummary, SourceStatus } from '../../protocol/model';
import { newHistogram, recordLatency } from '../../sdk/latencyHistogram';
import { buildGraph, diffGraph, nodeHealth, settle, type GraphSample, type ServiceDirectory } from './serviceGraph';

function summary(name: string, extra: Partial<ServiceSummary> = {}): ServiceSummary {
  return {
    id: `embedded/dc1/${name}`,
    sourceId: 'embedded',
    scope: 'dc1',
    name,
    tags: [],
    counts: { passing: 2, warning: 0, critical: 0, unknown: 0 },
    weights: null,
    drained: 0,
    breakersOpen: 0,
    ...extra,
  };
}

const source: SourceStatus = { id: 'embedded', kind: 'embedded', name: 'embedded', address: null, state: 'ok', lastSyncAt: null, lastError: null, scopes: ['dc1'] };

/** order, inventory, payment (blue: payment-1..3, green: payment-4..5). */
const directory: ServiceDirectory = {
  callee(name, instanceId) {
    if (!['order', 'inventory', 'payment'].includes(name)) return null;
    const subset = name === 'payment' ? (Number(instanceId.split('-')[1]) <= 3 ? 'blue' : 'green') : null;
    return { serviceId: `embedded/dc1/${name}`, subset };
  },
  caller(caller) {
    const name = caller.replace(/-\d+$/, '');
    return ['order', 'inventory', 'payment'].includes(name) ? `embedded/dc1/${name}` : null;
  },
  breakerClients: () => 2,
};

function sample(caller: string, callee: string, instanceId: string, requests: number, errors: number, ms = 4): GraphSample {
  const latency = newHistogram();
  for (let i = 0; i < requests; i++) recordLatency(latency, ms);
  return { caller, callee, instanceId, requests, errors, rps: requests / 60, errorRate: requests ? errors / requests : 0, p99: null, latency, recentRequests: requests, recentErrors: errors };
}

const services = [summary('order'), summary('inventory'), summary('payment', { weights: { blue: 90, green: 10 }, breakersOpen: 1 })];

describe('buildGraph', () => {
  it('splits edges per subset of a callee with a policy, merging callers that are instances of one service', () => {
    const g = buildGraph({
      sources: [source],
      services,
      directory,
      samples: [
        sample('order-1', 'payment', 'payment-1', 60, 0),
        sample('order-2', 'payment', 'payment-2', 60, 6, 40),
        sample('order-1', 'payment', 'payment-4', 30, 0),
        sample('order-1', 'inventory', 'inventory-1', 120, 0),
      ],
    });
    const edges = [...g.edges.values()].sort((a, b) => a.id.localeCompare(b.id));
    expect(edges.map((e) => [e.from, e.to, e.subset, e.rps, e.errorRate])).toEqual([
      ['embedded/dc1/order', 'embedded/dc1/inventory', null, 2, 0],
      ['embedded/dc1/order', 'embedded/dc1/payment', 'blue', 2, 0.05],
      ['embedded/dc1/order', 'embedded/dc1/payment', 'green', 0.5, 0],
    ]);
    // p99 merges the instances' histograms: the slow payment-2 dominates blue's tail.
    expect(g.edges.get('embedded/dc1/order|embedded/dc1/payment|blue')!.p99).toBeGreaterThan(35);
    const payment = g.nodes.get('embedded/dc1/payment')!;
    expect(payment).toMatchObject({ split: { kind: 'canary', weights: { blue: 90, green: 10 } }, breakersOpen: 1, breakerClients: 2, health: 'passing', stale: false });
  });

  it('callers that are no registered service are external nodes; a stale source marks its services', () => {
    const g = buildGraph({
      sources: [{ ...source, state: 'stale' }],
      services,
      directory,
      samples: [sample('loadgen', 'order', 'order-1', 300, 3), sample('switchboard-gateway', 'payment', 'payment-5', 10, 0)],
    });
    expect(g.nodes.get('external:loadgen')).toMatchObject({ kind: 'external', name: 'loadgen', health: 'none' });
    expect(g.edges.get('external:loadgen|embedded/dc1/order|')).toMatchObject({ rps: 5, errorRate: 0.01, recentErrorRate: 0.01 });
    expect(g.edges.has('external:switchboard-gateway|embedded/dc1/payment|green')).toBe(true);
    expect(g.nodes.get('embedded/dc1/order')!.stale).toBe(true);
    // Every service is a node, with traffic or not.
    expect(g.nodes.size).toBe(5);
  });

  it('colours nodes by their instances: all passing, some unhealthy, all critical', () => {
    expect(nodeHealth({ passing: 3, warning: 0, critical: 0, unknown: 0 })).toBe('passing');
    expect(nodeHealth({ passing: 4, warning: 0, critical: 1, unknown: 0 })).toBe('warning');
    expect(nodeHealth({ passing: 0, warning: 0, critical: 2, unknown: 0 })).toBe('critical');
    expect(nodeHealth({ passing: 0, warning: 0, critical: 0, unknown: 0 })).toBe('none');
  });
});

describe('diffGraph', () => {
  const base = () => buildGraph({ sources: [source], services, directory, samples: [sample('order-1', 'payment', 'payment-1', 60, 0), sample('loadgen', 'order', 'order-1', 60, 0)] });

  it('is empty for an unchanged graph and names only what changed', () => {
    const a = base();
    expect(diffGraph(a, base())).toEqual([]);
    const b = buildGraph({ sources: [source], services: [summary('order'), summary('inventory', { counts: { passing: 1, warning: 0, critical: 1, unknown: 0 } }), services[2]!], directory, samples: [sample('order-1', 'payment', 'payment-1', 60, 30)] });
    const ops = diffGraph(a, b);
    expect(ops.map((o) => `${o.op} ${'node' in o ? o.node.id : 'edge' in o ? o.edge.id : o.id}`).sort()).toEqual([
      'edge.delete external:loadgen|embedded/dc1/order|',
      'edge.put embedded/dc1/order|embedded/dc1/payment|blue',
      'node.delete external:loadgen',
      'node.put embedded/dc1/inventory',
    ]);
  });

  const arbNode = fc.record({
    id: fc.constantFrom('a', 'b', 'c', 'd', 'external:x'),
    health: fc.constantFrom('passing', 'warning', 'critical', 'unknown', 'none'),
    breakersOpen: fc.nat(3),
  }).map(({ id, health, breakersOpen }): GraphNode => ({ id, kind: id.startsWith('external:') ? 'external' : 'service', name: id, sourceId: null, scope: null, health, counts: null, breakersOpen, breakerClients: breakersOpen, split: null, rollout: null, stale: false }));
  const arbEdge = fc.record({
    from: fc.constantFrom('a', 'b', 'external:x'),
    to: fc.constantFrom('b', 'c', 'd'),
    subset: fc.constantFrom(null, 'blue', 'green'),
    rps: fc.nat(100),
    errorRate: fc.constantFrom(0, 0.01, 0.5, 1),
    p99: fc.constantFrom(null, 1.5, 20),
  }).map((e): GraphEdge => ({ ...e, id: `${e.from}|${e.to}|${e.subset ?? ''}`, recentErrorRate: e.errorRate }));
  const arbGraph = fc.record({ nodes: fc.array(arbNode, { maxLength: 6 }), edges: fc.array(arbEdge, { maxLength: 12 }) }).map(
    ({ nodes, edges }): GraphModel => ({ nodes: new Map(nodes.map((n) => [n.id, n])), edges: new Map(edges.map((e) => [e.id, e])) }),
  );
  const plain = (g: GraphModel) => ({ nodes: Object.fromEntries(g.nodes), edges: Object.fromEntries(g.edges) });

  it('applying the diff to the previous graph gives the next one (property)', () => {
    fc.assert(
      fc.property(arbGraph, arbGraph, (prev, next) => {
        expect(plain(applyGraphOps(prev, diffGraph(prev, next)))).toEqual(plain(next));
      }),
      { numRuns: 300 },
    );
  });

  it('a chain of diffs replays onto the first graph (what a client that missed versions applies)', () => {
    fc.assert(
      fc.property(fc.array(arbGraph, { minLength: 2, maxLength: 5 }), (graphs) => {
        let ops = [] as ReturnType<typeof diffGraph>;
        for (let i = 1; i < graphs.length; i++) ops = [...ops, ...diffGraph(graphs[i - 1]!, graphs[i]!)];
        expect(plain(applyGraphOps(graphs[0]!, ops))).toEqual(plain(graphs.at(-1)!));
      }),
      { numRuns: 200 },
    );
  });
});

describe('settle', () => {
  const edge = (over: Partial<GraphEdge>): GraphEdge => ({ id: 'a|b|', from: 'a', to: 'b', subset: null, rps: 10, errorRate: 0, p99: 5, recentErrorRate: 0, ...over });
  const model = (e: GraphEdge): GraphModel => ({ nodes: new Map(), edges: new Map([[e.id, e]]) });

  it('keeps the previous record for a wobble, sends a change a reader would see', () => {
    const prev = model(edge({}));
    expect(diffGraph(prev, settle(prev, model(edge({ rps: 10.4, p99: 5.2 }))))).toEqual([]);
    expect(diffGraph(prev, settle(prev, model(edge({ rps: 12 }))))).toHaveLength(1);
    // Crossing a colour band always goes out, however small the step.
    expect(diffGraph(prev, settle(prev, model(edge({ recentErrorRate: 0.011 }))))).toHaveLength(1);
    expect(diffGraph(prev, settle(prev, model(edge({ rps: 0 }))))).toHaveLength(1);
  });

  it('small steps do not add up unseen: the reference stays what the client holds', () => {
    let held = model(edge({}));
    for (const rps of [10.5, 11, 11.5]) held = applyGraphOps(held, diffGraph(held, settle(held, model(edge({ rps })))));
    expect(held.edges.get('a|b|')!.rps).toBe(11.5);
  });
});
