import { gzipSync } from 'node:zlib';
import { QueryClient } from '@tanstack/react-query';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServiceSummary } from '@/protocol/model';
import { EARLY_SOCKET_KEY, earlySocketScript, takeEarlySocket, type DecodingFrame, type EarlySocket } from './earlySocket';
import { instance, service } from '@/test/fixtures';
import { LiveTopology, serviceKey, TOPOLOGY_KEY } from './liveTopology';
import type { SummaryCache } from './topologyCache';

/** Enough of a browser WebSocket for LiveTopology and the inline script. */
class FakeSocket {
  static made: FakeSocket[] = [];
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readyState = 0;
  binaryType = 'blob';
  readonly sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  message(data: unknown) {
    this.onmessage?.({ data });
  }
}

const summary = (name: string): ServiceSummary => ({
  id: `p/dc1/${name}`, sourceId: 'p', scope: 'dc1', name, tags: [], counts: { passing: 1, warning: 0, critical: 0, unknown: 0 }, weights: null, drained: 0, breakersOpen: 0,
});
const gzipped = (text: string): ArrayBuffer => {
  const gz = gzipSync(text);
  return gz.buffer.slice(gz.byteOffset, gz.byteOffset + gz.byteLength) as ArrayBuffer;
};
const snapshotText = (names: string[], rev = 5) => JSON.stringify({ type: 'snapshot', rev, sources: [], services: names.map(summary) });

function live(early: EarlySocket | null, onNextFrame: (cb: () => void) => void = (cb) => cb()) {
  const queryClient = new QueryClient();
  const conn = new LiveTopology(queryClient, {
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    onNextFrame,
    takeEarlySocket: () => early,
  });
  const names = () => queryClient.getQueryData<SummaryCache>(TOPOLOGY_KEY)?.sorted.map((s) => s.name);
  return { conn, names, queryClient };
}

beforeEach(() => {
  FakeSocket.made = [];
  vi.stubGlobal('document', { hidden: false, addEventListener: () => undefined, removeEventListener: () => undefined });
  vi.stubGlobal('location', { protocol: 'http:', host: 'sb.test:3000', pathname: '/' });
});
afterEach(() => vi.unstubAllGlobals());

describe('LiveTopology and the early socket', () => {
  it('adopts an open early socket with what it received, without subscribing again', () => {
    const ws = new FakeSocket('ws://sb.test:3000/api/ws');
    ws.readyState = 1;
    const { conn, names } = live({ ws: ws as unknown as WebSocket, frames: [snapshotText(['web', 'api'])], subscribed: true });
    conn.start();
    expect(FakeSocket.made).toHaveLength(1);
    expect(ws.sent).toEqual([]);
    expect(conn.getState()).toBe('live');
    expect(names()).toEqual(['api', 'web']);
    // Later frames arrive through the adopted socket as through any other.
    ws.message(JSON.stringify({ type: 'delta', fromRev: 5, rev: 6, ops: [{ op: 'summary.put', service: summary('db') }] }));
    expect(names()).toEqual(['api', 'db', 'web']);
    conn.stop();
  });

  it('applies what the early socket has decoded already during start, not on a later frame', () => {
    const ws = new FakeSocket('ws://sb.test:3000/api/ws');
    ws.readyState = 1;
    const decoded = JSON.parse(snapshotText(['web', 'api']));
    const later: (() => void)[] = [];
    const { conn, names } = live({ ws: ws as unknown as WebSocket, frames: [{ ready: Promise.resolve(decoded), done: true, json: decoded }], subscribed: true }, (cb) => later.push(cb));
    conn.start();
    expect(names()).toEqual(['api', 'web']);
    // Frames after that wait for the next animation frame as usual.
    ws.message(JSON.stringify({ type: 'delta', fromRev: 5, rev: 6, ops: [{ op: 'summary.put', service: summary('db') }] }));
    expect(names()).toEqual(['api', 'web']);
    for (const cb of later.splice(0)) cb();
    expect(names()).toEqual(['api', 'db', 'web']);
    conn.stop();
  });

  it('subscribes on an adopted socket that had not opened yet, once', () => {
    const ws = new FakeSocket('ws://sb.test:3000/api/ws');
    const { conn } = live({ ws: ws as unknown as WebSocket, frames: [], subscribed: false });
    conn.start();
    expect(conn.getState()).toBe('connecting');
    ws.open();
    expect(ws.sent).toEqual([{ type: 'subscribe', compress: 'gzip' }]);
    expect(FakeSocket.made).toHaveLength(1);
    conn.stop();
  });

  it('applies early frames in arrival order, whether text, compressed or already parsed', async () => {
    const ws = new FakeSocket('ws://sb.test:3000/api/ws');
    ws.readyState = 1;
    const addDb = JSON.stringify({ type: 'delta', fromRev: 5, rev: 6, ops: [{ op: 'summary.put', service: summary('db') }] });
    const addZz = { type: 'delta', fromRev: 6, rev: 7, ops: [{ op: 'summary.put', service: summary('zz') }] };
    const frames = [gzipped(snapshotText(['b', 'a'])), addDb, { ready: Promise.resolve(addZz), done: false }];
    const { conn, names } = live({ ws: ws as unknown as WebSocket, frames, subscribed: true });
    conn.start();
    await vi.waitFor(() => expect(names()).toEqual(['a', 'b', 'db', 'zz']));
    conn.stop();
  });

  it('opens its own socket when there is no early one, and drops frames that fail validation', () => {
    const { conn, names } = live(null);
    conn.start();
    expect(FakeSocket.made.map((s) => s.url)).toEqual(['ws://sb.test:3000/api/ws']);
    const ws = FakeSocket.made[0]!;
    ws.open();
    expect(ws.sent).toEqual([{ type: 'subscribe', compress: 'gzip' }]);
    ws.message(JSON.stringify({ type: 'snapshot', rev: 1, sources: [], services: [{ ...summary('x'), counts: { passing: 'many' } }] }));
    expect(names()).toBeUndefined();
    ws.message(snapshotText(['x']));
    expect(names()).toEqual(['x']);
    conn.stop();
  });
});

describe('LiveTopology frames', () => {
  it('holds frames behind one whose schema is still loading, and applies them in order', async () => {
    const { conn, names, queryClient } = live(null);
    conn.start();
    const ws = FakeSocket.made[0]!;
    ws.open();
    ws.message(snapshotText(['a']));
    expect(names()).toEqual(['a']);
    const web = service('p', 'dc1', 'web', [instance('i1')]);
    const release = conn.watch(web.id);
    expect(ws.sent.at(-1)).toEqual({ type: 'watch', serviceId: web.id });
    // A watched service's frame needs lib/serviceFrames.ts (loading); the summary delta behind it waits.
    ws.message(JSON.stringify({ type: 'service', serviceId: web.id, rev: 6, service: web }));
    ws.message(JSON.stringify({ type: 'delta', fromRev: 5, rev: 7, ops: [{ op: 'summary.put', service: summary('b') }] }));
    expect(names()).toEqual(['a']);
    await vi.waitFor(() => expect(names()).toEqual(['a', 'b']));
    expect(queryClient.getQueryData(serviceKey(web.id))).toEqual({ rev: 6, service: web });
    // Invalid service frames are dropped once their schema is there.
    ws.message(JSON.stringify({ type: 'service', serviceId: web.id, rev: 8, service: { ...web, instances: 'none' } }));
    expect(queryClient.getQueryData(serviceKey(web.id))).toEqual({ rev: 6, service: web });
    release();
    conn.stop();
  });
});

describe('the early socket script', () => {
  const run = (pathname: string) => {
    const win: Record<string, unknown> = {};
    new Function('window', 'location', 'WebSocket', earlySocketScript)(win, { protocol: 'https:', host: 'sb.test', pathname }, FakeSocket);
    return win;
  };

  it('connects subscribed by its URL (no frame to send once open) and keeps every frame in order for LiveTopology', () => {
    const win = run('/services');
    const early = win[EARLY_SOCKET_KEY] as EarlySocket & { ws: FakeSocket };
    expect(early.ws.url).toBe('wss://sb.test/api/ws?subscribe=gzip');
    expect(early.ws.binaryType).toBe('arraybuffer');
    expect(early.subscribed).toBe(true);
    early.ws.open();
    expect(early.ws.sent).toEqual([]);
    early.ws.message('one');
    early.ws.message('two');
    expect(early.frames).toEqual(['one', 'two']);

    const taken = takeEarlySocket(win);
    expect(taken?.ws).toBe(early.ws);
    expect(early.ws.onmessage).toBeNull();
    expect(takeEarlySocket(win)).toBeNull();
  });

  it('inflates and parses a compressed frame while the page loads', async () => {
    const win = run('/');
    const early = win[EARLY_SOCKET_KEY] as EarlySocket & { ws: FakeSocket };
    early.ws.open();
    early.ws.message(gzipped(snapshotText(['web'])));
    early.ws.message(new Uint8Array([1, 2, 3]).buffer);
    const [snap, junk] = early.frames as DecodingFrame[];
    expect(snap!.done).toBe(false);
    expect(await snap!.ready).toMatchObject({ type: 'snapshot', rev: 5, services: [{ name: 'web' }] });
    expect(snap).toMatchObject({ done: true, json: { type: 'snapshot', rev: 5 } });
    expect(await junk!.ready).toBeUndefined();
    expect(junk!.done).toBe(true);
  });

  it('opens nothing on the sign-in page', () => {
    expect(run('/signin')[EARLY_SOCKET_KEY]).toBeUndefined();
    expect(FakeSocket.made).toHaveLength(0);
  });

  it('gives up a socket the server refused', () => {
    const win = run('/');
    (win[EARLY_SOCKET_KEY] as { ws: FakeSocket }).ws.close();
    expect(takeEarlySocket(win)).toBeNull();
    expect(win[EARLY_SOCKET_KEY]).toBeUndefined();
  });
});
