import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { WebSocket } from 'ws';
import { MAX_WATCHED_SERVICES, ServerMessage } from '../../protocol/realtime';
import { stepService } from '../../lib/serviceFrames';
import { stepSummary, type ServiceCache, type SummaryCache } from '../../lib/topologyCache';
import { check, instance, service } from '../../test/fixtures';
import { createLogger } from '../log';
import { TopologyStore } from '../topology/topologyStore';
import { OpenServices } from './openServices';
import { RealtimeHub } from './realtimeHub';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: { historySize?: number; highWaterBytes?: number; clientFramesPerSecond?: number; openServices?: OpenServices; heartbeatMs?: number } = {}) {
  const store = new TopologyStore({ historySize: opts.historySize });
  store.addSource({ id: 'p', kind: 'consul', name: 'p', address: null });
  const hub = new RealtimeHub({ store, logger: createLogger({ level: 'silent' }), heartbeatMs: opts.heartbeatMs ?? 60_000, highWaterBytes: opts.highWaterBytes, clientFramesPerSecond: opts.clientFramesPerSecond, openServices: opts.openServices });
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

/** A protocol client that keeps its copies with the browser's own pure steps. */
async function connect(url: string, opts: { sinceRev?: number; subscribe?: boolean } = {}) {
  const ws = new WebSocket(url);
  const frames: ServerMessage[] = [];
  let summary: SummaryCache | undefined;
  const services = new Map<string, ServiceCache>();
  let gaps = 0;
  ws.on('message', (data) => {
    const msg = ServerMessage.parse(JSON.parse(data.toString()));
    frames.push(msg);
    if (msg.type === 'snapshot' || msg.type === 'delta' || msg.type === 'heartbeat') {
      const step = stepSummary(summary, msg);
      if (step.kind === 'apply') summary = step.value;
      if (step.kind === 'resync') gaps++;
    } else if (msg.type === 'service' || msg.type === 'service.delta') {
      const step = stepService(services.get(msg.serviceId), msg);
      if (step.kind === 'apply') services.set(msg.serviceId, step.value);
      if (step.kind === 'resync') gaps++;
    }
  });
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  cleanups.push(() => ws.terminate());
  if (opts.subscribe !== false) ws.send(JSON.stringify({ type: 'subscribe', sinceRev: opts.sinceRev }));
  const list = () => (summary ? [...summary.byId.values()].sort((a, b) => a.id.localeCompare(b.id)) : null);
  return {
    ws,
    frames,
    rev: () => summary?.rev,
    list,
    service: (id: string) => services.get(id),
    watch: (id: string, sinceRev?: number) => ws.send(JSON.stringify({ type: 'watch', serviceId: id, sinceRev })),
    gaps: () => gaps,
  };
}

const byId = <T extends { id: string }>(xs: readonly T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
const web = (n: number) => service('p', 'dc1', 'web', Array.from({ length: n }, (_, i) => instance(`n/web-${i}`)));
const bytesOf = (f: ServerMessage) => JSON.stringify(f);

describe('RealtimeHub', () => {
  it('sends the summary on subscribe — no instance detail — then deltas that keep the list equal to the store', async () => {
    const { store, url } = await setup();
    store.apply('p', { type: 'service.changed', service: web(3) });
    const c = await connect(url);
    await vi.waitFor(() => expect(c.rev()).toBe(store.rev));
    expect(c.frames[0]?.type).toBe('snapshot');
    expect(bytesOf(c.frames[0]!)).not.toContain('n/web-1');
    store.apply('p', { type: 'service.changed', service: service('p', 'dc1', 'web', [instance('n/web-0', { checks: [check('critical')] })]) });
    store.apply('p', { type: 'service.changed', service: service('p', 'dc1', 'api', [instance('n/api-0')]) });
    store.apply('p', { type: 'service.removed', serviceId: 'p/dc1/api' });
    await vi.waitFor(() => expect(c.rev()).toBe(store.rev));
    expect(c.list()).toEqual(byId(store.summarySnapshot().services));
    expect(c.frames.filter((f) => f.type === 'delta').map(bytesOf).join('')).not.toContain('n/web-0');
    expect(c.gaps()).toBe(0);
  });

  it('gives a client that opens a service its detail, then live instance deltas for that service only', async () => {
    const { store, url } = await setup();
    store.apply('p', { type: 'service.changed', service: web(2) });
    store.apply('p', { type: 'service.changed', service: service('p', 'dc1', 'api', [instance('n/api-0')]) });
    const c = await connect(url);
    c.watch('p/dc1/web');
    await vi.waitFor(() => expect(c.service('p/dc1/web')?.service).toEqual(store.service('p/dc1/web')));
    const before = c.frames.length;
    store.apply('p', { type: 'service.changed', service: service('p', 'dc1', 'api', [instance('n/api-0', { checks: [check('critical')] })]) });
    store.apply('p', { type: 'service.changed', service: service('p', 'dc1', 'web', [instance('n/web-0'), instance('n/web-1', { checks: [check('warning')] })]) });
    await vi.waitFor(() => expect(c.service('p/dc1/web')?.service).toEqual(store.service('p/dc1/web')));
    const later = c.frames.slice(before);
    expect(later.some((f) => f.type === 'service.delta' && f.serviceId === 'p/dc1/web')).toBe(true);
    // The api flip reached the list as a summary, never as api's instances.
    expect(later.filter((f) => f.type === 'service' || f.type === 'service.delta').every((f) => 'serviceId' in f && f.serviceId === 'p/dc1/web')).toBe(true);
    // A service that does not exist is answered as such, and appears when it registers.
    c.watch('p/dc1/later');
    await vi.waitFor(() => expect(c.service('p/dc1/later')).toEqual({ rev: expect.any(Number), service: null }));
    store.apply('p', { type: 'service.changed', service: service('p', 'dc1', 'later', [instance('n/l-0')]) });
    await vi.waitFor(() => expect(c.service('p/dc1/later')?.service).toEqual(store.service('p/dc1/later')));
    expect(c.gaps()).toBe(0);
  });

  it('opening a pending service (listed, instances not read yet) asks its source for it; the watcher then gets the instances live', async () => {
    const { store, url } = await setup();
    store.apply('p', { type: 'scope.synced', scope: 'dc1', services: [{ ...service('p', 'dc1', 'web', []), pending: { passing: 2, warning: 0, critical: 0, unknown: 0 } }] });
    const asked: string[] = [];
    store.onDemand((id) => asked.push(id));
    const c = await connect(url);
    c.watch('p/dc1/web');
    await vi.waitFor(() => expect(c.service('p/dc1/web')?.service?.pending).toEqual({ passing: 2, warning: 0, critical: 0, unknown: 0 }));
    expect(asked).toEqual(['p/dc1/web']);
    store.apply('p', { type: 'services.changed', services: [web(2)] });
    await vi.waitFor(() => expect(c.service('p/dc1/web')?.service).toEqual(store.service('p/dc1/web')));
    expect(c.service('p/dc1/web')?.service?.pending).toBeUndefined();
    expect(c.service('p/dc1/web')?.service?.instances).toHaveLength(2);
    expect(c.gaps()).toBe(0);
  });

  it('tells the sources which services are open: the first watcher opens one, the last to unwatch or disconnect closes it', async () => {
    const changes: string[] = [];
    const openServices = new OpenServices((id, open) => changes.push(`${open ? 'open' : 'close'} ${id}`));
    const { url } = await setup({ openServices });
    const a = await connect(url);
    const b = await connect(url);
    a.watch('p/dc1/web');
    a.watch('p/dc1/web'); // the same client twice counts once
    b.watch('p/dc1/web');
    b.watch('p/dc1/api');
    await vi.waitFor(() => expect(changes).toEqual(['open p/dc1/web', 'open p/dc1/api']));
    a.ws.send(JSON.stringify({ type: 'unwatch', serviceId: 'p/dc1/web' }));
    a.ws.send(JSON.stringify({ type: 'unwatch', serviceId: 'p/dc1/api' })); // never watched by a: no effect
    await new Promise((r) => setTimeout(r, 100));
    expect(changes).toHaveLength(2);
    expect(openServices.isOpen('p/dc1/web')).toBe(true);
    b.ws.close();
    await vi.waitFor(() => expect(changes.slice(2).sort()).toEqual(['close p/dc1/api', 'close p/dc1/web']));
  });

  it('subscribes a client by its URL (?subscribe=gzip): the snapshot comes without a subscribe frame; a bad value gets bad_request', async () => {
    const { store, url } = await setup();
    store.apply('p', { type: 'service.changed', service: web(3) });
    for (let i = 0; i < 300; i++) store.apply('p', { type: 'service.changed', service: service('p', 'dc1', `svc-${i}`, [instance(`n/svc-${i}-1`)]) });
    const received: { binary: boolean; data: Buffer }[] = [];
    const ws = new WebSocket(`${url}?subscribe=gzip`);
    cleanups.push(() => ws.terminate());
    ws.on('message', (data: Buffer, binary) => received.push({ binary, data }));
    await vi.waitFor(() => expect(received).toHaveLength(1));
    expect(received[0]!.binary).toBe(true);
    const snap = ServerMessage.parse(JSON.parse(gunzipSync(received[0]!.data).toString()));
    expect(snap).toMatchObject({ type: 'snapshot', rev: store.rev });
    expect(snap.type === 'snapshot' && snap.services.length).toBe(301);
    // Live from there on, like any subscriber.
    store.apply('p', { type: 'service.changed', service: web(4) });
    await vi.waitFor(() => expect(received).toHaveLength(2));
    expect(JSON.parse(received[1]!.data.toString())).toMatchObject({ type: 'delta', rev: store.rev });

    const bad = await connect(`${url}?subscribe=yes`, { subscribe: false });
    await vi.waitFor(() => expect(bad.frames).toHaveLength(1));
    expect(bad.frames[0]).toMatchObject({ type: 'error', code: 'bad_request', message: expect.stringContaining('subscribe') });
    bad.ws.send(JSON.stringify({ type: 'subscribe' }));
    await vi.waitFor(() => expect(bad.frames[1]?.type).toBe('snapshot'));
  });

  it('a heartbeat reaches every client, however many (it goes out in slices)', async () => {
    const { store, url } = await setup({ heartbeatMs: 300 });
    store.apply('p', { type: 'service.changed', service: web(2) });
    const beats = new Map<number, number>();
    for (let i = 0; i < 1_100; i++) {
      const ws = new WebSocket(`${url}?subscribe=1`);
      cleanups.push(() => ws.terminate());
      ws.on('message', (data: Buffer) => {
        const msg = JSON.parse(data.toString()) as { type: string; rev?: number };
        if (msg.type === 'heartbeat') beats.set(i, msg.rev!);
      });
    }
    await vi.waitFor(() => expect(beats.size).toBe(1_100), { timeout: 15_000 });
    expect(new Set(beats.values())).toEqual(new Set([store.rev]));
  });

  it('sends a large list snapshot gzip-compressed to a client that asks, small frames as text', async () => {
    const { store, url } = await setup();
    for (let i = 0; i < 300; i++) store.apply('p', { type: 'service.changed', service: service('p', 'dc1', `svc-${i}`, [instance('n/a')]) });
    const ws = new WebSocket(url);
    const got: { binary: boolean; text: string }[] = [];
    ws.on('message', (data, isBinary) => got.push({ binary: isBinary, text: isBinary ? gunzipSync(data as Buffer).toString() : data.toString() }));
    await new Promise((r) => ws.once('open', r));
    cleanups.push(() => ws.terminate());
    ws.send(JSON.stringify({ type: 'subscribe', compress: 'gzip' }));
    await vi.waitFor(() => expect(got).toHaveLength(1));
    expect(got[0]!.binary).toBe(true);
    const snap = ServerMessage.parse(JSON.parse(got[0]!.text));
    expect(snap.type === 'snapshot' && snap.services).toHaveLength(300);
    store.apply('p', { type: 'service.removed', serviceId: 'p/dc1/svc-0' });
    await vi.waitFor(() => expect(got).toHaveLength(2));
    expect(got[1]).toMatchObject({ binary: false });
  });

  it('resumes a reconnecting client per stream with only what it missed', async () => {
    const { store, url } = await setup();
    store.apply('p', { type: 'service.changed', service: web(1) });
    const seen = store.rev;
    const held = store.service('p/dc1/web');
    store.apply('p', { type: 'service.changed', service: web(2) });
    const c = await connect(url, { sinceRev: seen });
    c.watch('p/dc1/web', seen);
    await vi.waitFor(() => expect(c.frames.length).toBe(2));
    const summary = c.frames.find((f) => f.type === 'delta');
    expect(summary).toMatchObject({ type: 'delta', fromRev: seen, rev: store.rev });
    const detail = c.frames.find((f) => f.type === 'service.delta');
    expect(detail).toMatchObject({ serviceId: 'p/dc1/web', fromRev: seen, rev: store.rev, ops: [{ op: 'instance.put', serviceId: 'p/dc1/web', instance: instance('n/web-1') }] });
    expect(c.frames.some((f) => f.type === 'snapshot' || f.type === 'service')).toBe(false);
    expect(held).toBeDefined();
  });

  it('sends full copies when the client revision is older than the history or from the future', async () => {
    const { store, url } = await setup({ historySize: 2 });
    for (let i = 1; i <= 5; i++) store.apply('p', { type: 'service.changed', service: web(i) });
    const old = await connect(url, { sinceRev: 1 });
    old.watch('p/dc1/web', 1);
    const future = await connect(url, { sinceRev: store.rev + 100 });
    await vi.waitFor(() => expect(old.frames.map((f) => f.type).sort()).toEqual(['service', 'snapshot']));
    await vi.waitFor(() => expect(future.frames[0]?.type).toBe('snapshot'));
  });

  it('answers a malformed frame with bad_request and keeps the connection', async () => {
    const { url } = await setup();
    const c = await connect(url);
    c.ws.send('{"type":"subscribe","sinceRev":-4}');
    c.ws.send('not json');
    c.ws.send(JSON.stringify({ type: 'watch', serviceId: '' }));
    await vi.waitFor(() => expect(c.frames.filter((f) => f.type === 'error')).toHaveLength(3));
    c.ws.send(JSON.stringify({ type: 'ping', t: 42 }));
    await vi.waitFor(() => expect(c.frames.at(-1)).toEqual({ type: 'pong', t: 42 }));
  });

  it('caps how many services one connection watches', async () => {
    const { url } = await setup({ clientFramesPerSecond: 1000 });
    const c = await connect(url);
    for (let i = 0; i <= MAX_WATCHED_SERVICES; i++) c.watch(`p/dc1/s${i}`);
    await vi.waitFor(() => expect(c.frames.some((f) => f.type === 'error' && f.code === 'too_many')).toBe(true), { timeout: 10_000 });
  });

  it('closes a client that floods frames (each subscribe would otherwise queue a snapshot)', async () => {
    const { store, url } = await setup({ clientFramesPerSecond: 10 });
    store.apply('p', { type: 'service.changed', service: web(50) });
    const c = await connect(url);
    const closed = new Promise<number>((r) => c.ws.once('close', (code) => r(code)));
    for (let i = 0; i < 200; i++) c.ws.send(JSON.stringify({ type: 'subscribe' }));
    expect(await closed).toBe(1008);
    // Far fewer snapshots than subscribe frames reached the socket.
    expect(c.frames.filter((f) => f.type === 'snapshot').length).toBeLessThan(30);
  });

  it('sends nothing — snapshots included — to a client whose socket is not draining, then catches it up', async () => {
    const { store, hub, url } = await setup({ highWaterBytes: 64 * 1024 });
    const c = await connect(url);
    c.watch('p/dc1/big');
    await vi.waitFor(() => expect(c.rev()).toBeDefined());
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
    await vi.waitFor(() => expect(c.service('p/dc1/big')?.service).toEqual(store.service('p/dc1/big')), { timeout: 20_000 });
    await vi.waitFor(() => expect(c.list()).toEqual(byId(store.summarySnapshot().services)), { timeout: 20_000 });
    expect(c.gaps()).toBe(0);
  });
});
