/**
 * The graph stream end to end inside one process: SDK-shaped reports → call-graph store →
 * GraphService → realtime hub → a WebSocket client that keeps its copy with applyGraphOps.
 * The clock is injected; the service is ticked by hand.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { applyGraphOps, graphFromLists, type GraphModel } from '../../protocol/graph';
import { AnyServerMessage } from '../../protocol/realtime';
import type { TelemetryReport } from '../../protocol/telemetry';
import { newHistogram } from '../../sdk/latencyHistogram';
import { instance, service } from '../../test/fixtures';
import { createLogger } from '../log';
import { RealtimeHub } from '../realtime/realtimeHub';
import { CallGraphStore } from '../telemetry/callGraphStore';
import { TopologyStore } from '../topology/topologyStore';
import { GraphService } from './graphService';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function report(clientId: string, caller: string, svc: string, counts: Record<string, [number, number]>): TelemetryReport {
  return {
    clientId,
    caller,
    service: svc,
    datacenter: null,
    guardHolds: 0,
    instances: Object.entries(counts).map(([id, [requests, errors]]) => ({ id, breaker: 'closed' as const, requests, errors, latency: newHistogram() })),
  };
}

async function setup() {
  let now = 1_800_000_000_000;
  const store = new TopologyStore();
  store.addSource({ id: 'p', kind: 'consul', name: 'p', address: null });
  store.apply('p', {
    type: 'scope.synced',
    scope: 'dc1',
    services: [
      service('p', 'dc1', 'order', [instance('n1/order-1')]),
      service('p', 'dc1', 'payment', [instance('n1/payment-1', { tags: ['blue'] }), instance('n1/payment-2', { tags: ['green'] })]),
    ],
  });
  store.apply('p', { type: 'traffic.synced', scope: 'dc1', policies: { payment: { version: 1, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue: 90, green: 10 }, drain: [] } as never } });
  const calls = new CallGraphStore();
  const graph = new GraphService({ store, edges: calls, now: () => now, tickMs: 60_000, reactMs: 60_000 });
  const hub = new RealtimeHub({ store, logger: createLogger({ level: 'silent' }), heartbeatMs: 60_000, graph });
  const server: Server = createServer();
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head, { name: 't', role: 'viewer', via: 'bearer' }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    graph.close();
    await hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { store, calls, graph, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/ws`, advance: (ms: number) => (now += ms), at: () => now };
}

async function client(url: string, from?: { model: GraphModel; version: number }) {
  const ws = new WebSocket(url);
  let model: GraphModel | null = from?.model ?? null;
  let version = from?.version ?? 0;
  const kinds: string[] = [];
  ws.on('message', (data) => {
    const msg = AnyServerMessage.parse(JSON.parse(data.toString()));
    kinds.push(msg.type);
    if (msg.type === 'graph') {
      model = graphFromLists(msg.nodes, msg.edges);
      version = msg.version;
    } else if (msg.type === 'graph.delta') {
      expect(msg.fromVersion).toBe(version);
      model = applyGraphOps(model!, msg.ops);
      version = msg.version;
    }
  });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  cleanups.push(() => ws.terminate());
  return { ws, kinds, model: () => model, version: () => version };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
};

describe('graph stream over the hub', () => {
  it('graph.watch: a snapshot, then deltas that keep the client equal to the server graph', async () => {
    const { calls, graph, url, advance, at } = await setup();
    const c = await client(url);
    c.ws.send(JSON.stringify({ type: 'graph.watch', window: '1m' }));
    await until(() => c.model() !== null);
    expect([...c.model()!.nodes.keys()].sort()).toEqual(['p/dc1/order', 'p/dc1/payment']);

    calls.ingest(report('o1', 'order-1', 'payment', { 'payment-1': [0, 0], 'payment-2': [0, 0] }), at());
    calls.ingest(report('lg', 'loadgen', 'order', { 'order-1': [0, 0] }), at());
    advance(1000);
    calls.ingest(report('o1', 'order-1', 'payment', { 'payment-1': [90, 0], 'payment-2': [10, 5] }), at());
    calls.ingest(report('lg', 'loadgen', 'order', { 'order-1': [100, 0] }), at());
    graph.tick();
    await until(() => c.model()!.edges.size === 3);
    const edges = c.model()!.edges;
    expect(edges.get('p/dc1/order|p/dc1/payment|green')).toMatchObject({ errorRate: 0.5 });
    expect(edges.get('p/dc1/order|p/dc1/payment|blue')).toMatchObject({ errorRate: 0 });
    expect(c.model()!.nodes.get('external:loadgen')).toMatchObject({ kind: 'external' });
    expect(c.kinds.filter((k) => k === 'graph')).toHaveLength(1);

    // Nothing moved: no frame. The client holds exactly what the server holds.
    const frames = c.kinds.length;
    graph.tick();
    await new Promise((r) => setTimeout(r, 50));
    expect(c.kinds.length).toBe(frames);
    const snap = graph.snapshot('1m');
    expect(c.version()).toBe(snap.version);
    expect(Object.fromEntries(c.model()!.edges)).toEqual(Object.fromEntries(graphFromLists(snap.nodes, snap.edges).edges));
  });

  it('a client resuming with sinceVersion gets the missed ops, not a snapshot; a graph-only client is not closed for not subscribing', async () => {
    const { calls, graph, url, advance, at } = await setup();
    const a = await client(url);
    a.ws.send(JSON.stringify({ type: 'graph.watch', window: '5m' }));
    await until(() => a.model() !== null);
    calls.ingest(report('o1', 'order-1', 'payment', { 'payment-1': [0, 0] }), at());
    advance(1000);
    calls.ingest(report('o1', 'order-1', 'payment', { 'payment-1': [10, 0] }), at());
    graph.tick();
    await until(() => a.model()!.edges.size === 1);
    const held = { model: a.model()!, version: a.version() };

    advance(1000);
    calls.ingest(report('o1', 'order-1', 'payment', { 'payment-1': [30, 3] }), at());
    graph.tick();
    const b = await client(url, held);
    b.ws.send(JSON.stringify({ type: 'graph.watch', window: '5m', sinceVersion: held.version }));
    // b starts from the copy a held a version ago.
    await until(() => b.kinds.includes('graph.delta'));
    expect(b.kinds).not.toContain('graph');
    await until(() => b.version() === graph.version('5m'));
    expect(b.model()!.edges.get('p/dc1/order|p/dc1/payment|blue')).toMatchObject({ errorRate: 0.1 });
  });

  it('observedCalls: false before any call is reported, true after, and without starting a watch', async () => {
    const { calls, graph, advance, at } = await setup();
    expect(graph.observedCalls('15m')).toBe(false);
    calls.ingest(report('o1', 'order-1', 'payment', { 'payment-1': [0, 0] }), at());
    advance(1000);
    calls.ingest(report('o1', 'order-1', 'payment', { 'payment-1': [3, 0] }), at());
    expect(graph.observedCalls('15m')).toBe(true);
    expect(graph.version('15m')).toBe(0);
  });

  it('answers a graph watch for an unknown window with an error naming the field', async () => {
    const { url } = await setup();
    const c = await client(url);
    const got = new Promise<string>((r) => c.ws.once('message', (d) => r(d.toString())));
    c.ws.send(JSON.stringify({ type: 'graph.watch', window: '2h' }));
    expect(JSON.parse(await got)).toMatchObject({ type: 'error', code: 'bad_request' });
  });
});

describe('graph versions', () => {
  it('a window rebuilt after idling out does not accept a resume from its previous life', async () => {
    const { calls, graph, advance, at } = await setup();
    const release = graph.watch('1m');
    calls.ingest(report('o1', 'order-1', 'payment', { 'payment-1': [0, 0] }), at());
    advance(1000);
    calls.ingest(report('o1', 'order-1', 'payment', { 'payment-1': [10, 0] }), at());
    graph.tick();
    const old = graph.version('1m');
    release();
    graph.close();
    advance(60_000);
    graph.watch('1m');
    expect(graph.since('1m', old)).toBeNull();
    expect(graph.version('1m')).toBeGreaterThan(old);
  });
});
