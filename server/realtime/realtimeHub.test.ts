import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { applyOps } from '../../protocol/delta';
import type { Topology } from '../../protocol/model';
import { ServerMessage } from '../../protocol/realtime';
import { instance, service } from '../../test/fixtures';
import { createLogger } from '../log';
import { TopologyStore } from '../topology/topologyStore';
import { RealtimeHub } from './realtimeHub';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: { historySize?: number; highWaterBytes?: number } = {}) {
  const store = new TopologyStore({ historySize: opts.historySize });
  store.addSource({ id: 'p', kind: 'consul', name: 'p', address: null });
  const hub = new RealtimeHub({ store, logger: createLogger({ level: 'silent' }), heartbeatMs: 60_000, highWaterBytes: opts.highWaterBytes });
  const server: Server = createServer();
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head, { name: 't', role: 'viewer', via: 'bearer' }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    await hub.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { store, hub, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/api/ws` };
}

/** A minimal protocol client: keeps a topology by applying frames the way the UI does. */
async function connect(url: string, sinceRev?: number) {
  const ws = new WebSocket(url);
  const frames: ServerMessage[] = [];
  let topology: Topology | null = null;
  let gaps = 0;
  ws.on('message', (data) => {
    const msg = ServerMessage.parse(JSON.parse(data.toString()));
    frames.push(msg);
    if (msg.type === 'snapshot') topology = msg.topology;
    else if (msg.type === 'delta') {
      if (!topology || topology.rev !== msg.fromRev) gaps++;
      else topology = applyOps(topology, msg.ops, msg.rev);
    }
  });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  cleanups.push(() => ws.terminate());
  ws.send(JSON.stringify({ type: 'subscribe', sinceRev }));
  return { ws, frames, topology: () => topology, gaps: () => gaps };
}

const web = (n: number) => service('p', 'dc1', 'web', Array.from({ length: n }, (_, i) => instance(`n/web-${i}`)));

describe('RealtimeHub', () => {
  it('sends a snapshot on subscribe, then deltas that keep the client equal to the store', async () => {
    const { store, url } = await setup();
    store.apply('p', { type: 'service.changed', service: web(1) });
    const c = await connect(url);
    await vi.waitFor(() => expect(c.topology()?.rev).toBe(store.rev));
    expect(c.frames[0]?.type).toBe('snapshot');
    store.apply('p', { type: 'service.changed', service: web(3) });
    store.apply('p', { type: 'service.removed', serviceId: 'p/dc1/web' });
    await vi.waitFor(() => expect(c.topology()).toEqual(store.snapshot()));
    expect(c.frames.some((f) => f.type === 'delta')).toBe(true);
    expect(c.gaps()).toBe(0);
  });

  it('resumes a reconnecting client with only what it missed', async () => {
    const { store, url } = await setup();
    store.apply('p', { type: 'service.changed', service: web(1) });
    const seen = store.rev;
    store.apply('p', { type: 'service.changed', service: web(2) });
    const c = await connect(url, seen);
    await vi.waitFor(() => expect(c.frames.length).toBe(1));
    expect(c.frames[0]).toMatchObject({ type: 'delta', fromRev: seen, rev: store.rev });
    const ops = c.frames[0]?.type === 'delta' ? c.frames[0].ops : [];
    expect(ops).toEqual([{ op: 'instance.put', serviceId: 'p/dc1/web', instance: instance('n/web-1') }]);
  });

  it('sends a snapshot when the client revision is older than the history or from the future', async () => {
    const { store, url } = await setup({ historySize: 2 });
    for (let i = 1; i <= 5; i++) store.apply('p', { type: 'service.changed', service: web(i) });
    const old = await connect(url, 1);
    const future = await connect(url, store.rev + 100);
    await vi.waitFor(() => expect(old.frames[0]?.type).toBe('snapshot'));
    await vi.waitFor(() => expect(future.frames[0]?.type).toBe('snapshot'));
  });

  it('answers a malformed frame with bad_request and keeps the connection', async () => {
    const { url } = await setup();
    const c = await connect(url);
    c.ws.send('{"type":"subscribe","sinceRev":-4}');
    c.ws.send('not json');
    await vi.waitFor(() => expect(c.frames.filter((f) => f.type === 'error')).toHaveLength(2));
    c.ws.send(JSON.stringify({ type: 'ping', t: 42 }));
    await vi.waitFor(() => expect(c.frames.at(-1)).toEqual({ type: 'pong', t: 42 }));
  });

  it('skips a client whose socket is not draining, then catches it up with one coalesced delta', async () => {
    const { store, hub, url } = await setup({ highWaterBytes: 64 * 1024 });
    const c = await connect(url);
    await vi.waitFor(() => expect(c.topology()).not.toBeNull());
    // Stop reading on the client: the server's socket buffer fills once the kernel's is full.
    const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const big = { blob: 'x'.repeat(2048) };
    let skipped = false;
    for (let round = 0; round < 400 && !skipped; round++) {
      const instances = Array.from({ length: 200 }, (_, i) => instance(`n/big-${i}`, { meta: { ...big, round: String(round) } }));
      store.apply('p', { type: 'service.changed', service: service('p', 'dc1', 'big', instances) });
      await new Promise((r) => setTimeout(r, 5));
      skipped = hub.laggingClients() > 0;
    }
    expect(skipped).toBe(true);
    socket.resume();
    await vi.waitFor(() => expect(c.topology()).toEqual(store.snapshot()), { timeout: 20_000 });
    expect(c.gaps()).toBe(0);
  });
});
