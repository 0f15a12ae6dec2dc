/**
 * Switchboard as an xDS control plane, end to end: a TopologyStore fed directly, real gRPC
 * payment servers as instances, the xDS server on port 0, and two real @grpc/grpc-js-xds
 * clients in child processes dialing `xds:///payment`. Then a raw ADS client that misbehaves.
 * Splits are asserted with a tolerance over thousands of calls, never with timings.
 */
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPaymentServer, type PaymentServer } from '../../demo/grpc/paymentServer';
import type { Instance } from '../../protocol/model';
import type { TrafficPolicy } from '../../protocol/traffic';
import { XDS_TYPE_URLS } from '../../protocol/xds';
import { TopologyStore } from '../../server/topology/topologyStore';
import { ADS_METHOD_PATH, xdsProtos } from '../../server/xds/xdsProtos';
import { XdsServer } from '../../server/xds/xdsServer';
import { check, instance, service } from '../fixtures';
import { CallerGroup, share, until } from '../support/xdsCallers';

const CLIENT_TOKEN = 'xds-client-token';
const VIEWER_TOKEN = 'xds-viewer-token';
const users: Record<string, { name: string; role: 'client' | 'viewer' }> = { [CLIENT_TOKEN]: { name: 'mesh', role: 'client' }, [VIEWER_TOKEN]: { name: 'vera', role: 'viewer' } };
const logger = pino({ level: 'silent' });

function policy(blue: number, drain: string[] = []): TrafficPolicy {
  return { version: 1, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue, green: 100 - blue }, drain, updatedAt: '2026-11-30T00:00:00Z', updatedBy: 'test', reason: '' };
}

/**
 * payment declares least request and its own breaker settings (server/xds/clusterPolicy.ts), so
 * every cluster these real gRPC clients accept carries a load_balancing_policy list (gRPC has no
 * least request and must fall through to round robin, not NACK) and outlier detection.
 */
const SERVICE_DECLARES = { switchboard_lb: 'least-outstanding', switchboard_breaker_failures: '3', switchboard_breaker_cooldown_ms: '2000' };

describe('xDS control plane with real gRPC xDS clients', () => {
  const store = new TopologyStore();
  const servers: Record<string, PaymentServer> = {};
  let xds: XdsServer;
  let group: CallerGroup;
  let drain: string[] = [];
  let health: Record<string, Instance['health']> = {};

  const publishService = () =>
    store.apply('prod', {
      type: 'service.changed',
      service: service('prod', 'dc1', 'payment', Object.values(servers).map((s) => instance(`node-1/${s.instanceId}`, { address: '127.0.0.1', port: s.port, tags: [s.instanceId.startsWith('b') ? 'blue' : 'green'], meta: SERVICE_DECLARES, checks: [check(health[s.instanceId] ?? 'passing')] }))),
    });
  const setPolicy = (blue: number) => store.apply('prod', { type: 'traffic.synced', scope: 'dc1', policies: { payment: policy(blue, drain) } });

  const sample = (perCaller: number) => group.sample(perCaller);

  beforeAll(async () => {
    for (const id of ['b1', 'b2', 'g1', 'g2']) servers[id] = await startPaymentServer({ instanceId: id });
    store.addSource({ id: 'prod', kind: 'consul', name: 'prod', address: null });
    publishService();
    setPolicy(100);
    store.apply('prod', { type: 'status', state: 'ok' });
    xds = new XdsServer({ store, logger, port: 0, userForToken: (t) => users[t] ?? null });
    const port = await xds.start();
    group = CallerGroup.start(2, { nodeIdPrefix: 'caller', xdsPort: port, token: CLIENT_TOKEN }, () => xds);
    await group.answering();
  });

  afterAll(async () => {
    await group?.stop();
    await xds?.close();
    await Promise.all(Object.values(servers).map((s) => s.close()));
  });

  it('follows weights, drains, health, an xDS outage and a restart — every call answered', async () => {
    // 100/0: blue only, round robin over both blue instances.
    let counts = await sample(500);
    expect(share(counts, 'b')).toBe(1);
    expect(counts.get('b1')).toBeGreaterThan(0);
    expect(counts.get('b2')).toBeGreaterThan(0);
    // The clusters (least request → round robin fallback, outlier detection) were accepted, not NACKed.
    const { versions, clients } = xds.clients();
    expect(versions.cluster).toBeTruthy();
    for (const c of clients) {
      expect(c.nacks).toEqual([]);
      expect(c.subscriptions.find((s) => s.type === 'cluster')?.ackedVersion).toBe(versions.cluster);
    }

    // Canary 80/20 (±3 % over 4,000 calls: > 4 standard deviations).
    setPolicy(80);
    counts = await sample(2000);
    expect(share(counts, 'g')).toBeGreaterThan(0.17);
    expect(share(counts, 'g')).toBeLessThan(0.23);

    // b1 drained: DRAINING, no new calls; the split holds.
    drain = ['b1'];
    setPolicy(80);
    counts = await sample(2000);
    expect(counts.get('b1') ?? 0).toBe(0);
    expect(share(counts, 'g')).toBeGreaterThan(0.17);
    expect(share(counts, 'g')).toBeLessThan(0.23);

    // g2 critical: UNHEALTHY, no calls.
    health = { g2: 'critical' };
    publishService();
    counts = await sample(1000);
    expect(counts.get('g2') ?? 0).toBe(0);
    expect(counts.get('g1')).toBeGreaterThan(0);

    // Flip 0/100: everything on green, i.e. on g1.
    setPolicy(0);
    counts = await sample(1000);
    expect([...counts.keys()]).toEqual(['g1']);

    // Switchboard's xDS server goes away: clients keep calling the last known instances.
    const port = xds.port;
    await xds.stop();
    counts = await group.sample(500, { sync: false });
    expect([...counts.keys()]).toEqual(['g1']);

    // Back on the same port: the clients reconnect and follow the next flip.
    expect(await xds.start()).toBe(port);
    await group.connected();
    setPolicy(100);
    counts = await sample(500);
    expect([...counts.keys()].sort()).toEqual(['b2']);

    expect(group.errors()).toEqual([]);
    const view = xds.mesh('prod/dc1/payment')!;
    expect(view.listeners).toEqual(['payment', 'payment.dc1.prod']);
    expect(view.clients.map((c) => c.nodeId).sort()).toEqual(['caller-1', 'caller-2']);
    expect(view.clients.every((c) => c.user === 'mesh' && c.nacks.length === 0)).toBe(true);
  });
});

// ---- a raw ADS client: bytes in, bytes out, so it can send what no real client would ----

type Raw = grpc.ClientDuplexStream<Buffer, Buffer>;
const RawAds = grpc.makeGenericClientConstructor(
  { StreamAggregatedResources: { path: ADS_METHOD_PATH, requestStream: true, responseStream: true, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
  'AggregatedDiscoveryService',
);

interface Response {
  version_info: string;
  nonce: string;
  type_url: string;
  resources: { type_url: string }[];
}

class RawStream {
  readonly responses: Response[] = [];
  status: grpc.StatusObject | null = null;
  constructor(readonly call: Raw) {
    call.on('data', (b: Buffer) => this.responses.push(xdsProtos().DiscoveryResponse.toObject(xdsProtos().DiscoveryResponse.decode(b), { defaults: true, arrays: true }) as Response));
    call.on('status', (s) => (this.status = s));
    call.on('error', () => {});
  }
  send(req: Record<string, unknown>): void {
    const T = xdsProtos().DiscoveryRequest;
    this.call.write(Buffer.from(T.encode(T.fromObject(req)).finish()));
  }
  next(count: number): Promise<Response> {
    return until(`response #${count}`, () => this.responses[count - 1]);
  }
}

describe('xDS server against a misbehaving raw ADS client', () => {
  const store = new TopologyStore();
  let xds: XdsServer;
  let client: grpc.Client & { StreamAggregatedResources(md?: grpc.Metadata): Raw };
  const open = (token?: string) => {
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    return new RawStream(client.StreamAggregatedResources(md));
  };
  const put = (port: number, h: Instance['health'] = 'passing') =>
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'payment', [instance('n/p1', { address: '127.0.0.1', port, checks: [check(h)] })]) });

  beforeAll(async () => {
    store.addSource({ id: 'prod', kind: 'consul', name: 'prod', address: null });
    put(9001);
    store.apply('prod', { type: 'status', state: 'ok' });
    xds = new XdsServer({ store, logger, port: 0, userForToken: (t) => users[t] ?? null });
    const port = await xds.start();
    client = new RawAds(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
  });
  afterAll(async () => {
    client?.close();
    await xds?.close();
  });

  it('records malformed requests, unknown types and NACKs, and keeps serving', async () => {
    const s = open(CLIENT_TOKEN);
    s.call.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    s.send({ node: { id: 'raw-1' }, type_url: 'type.googleapis.com/not.a.Type', resource_names: ['x'] });
    s.send({ node: { id: 'raw-1' }, type_url: XDS_TYPE_URLS.listener, resource_names: ['payment'] });
    const lds = await s.next(1);
    expect(lds.type_url).toBe(XDS_TYPE_URLS.listener);
    expect(lds.resources).toHaveLength(1);
    s.send({ type_url: XDS_TYPE_URLS.listener, resource_names: ['payment'], version_info: '', response_nonce: lds.nonce, error_detail: { code: 3, message: 'listener payment: I do not like it' } });

    const me = await until('the NACK recorded', () => xds.clients().clients.find((c) => c.nodeId === 'raw-1' && c.nacks.length > 0));
    expect(me.nacks[0]).toMatchObject({ type: 'listener', version: lds.version_info, nonce: lds.nonce, code: 3, message: 'listener payment: I do not like it' });
    expect(me.problems.map((p) => p.message).join('\n')).toMatch(/malformed DiscoveryRequest/);
    expect(me.problems.map((p) => p.message).join('\n')).toMatch(/unknown type URL type.googleapis.com\/not.a.Type/);

    // Still serving this stream: an EDS subscription is answered, and ACKed.
    s.send({ type_url: XDS_TYPE_URLS.endpoint, resource_names: ['prod/dc1/payment'] });
    const eds = await s.next(2);
    expect(eds.type_url).toBe(XDS_TYPE_URLS.endpoint);
    s.send({ type_url: XDS_TYPE_URLS.endpoint, resource_names: ['prod/dc1/payment'], version_info: eds.version_info, response_nonce: eds.nonce });
    await until('the ACK recorded', () => xds.clients().clients.find((c) => c.nodeId === 'raw-1')?.subscriptions.find((x) => x.type === 'endpoint')?.ackedVersion === eds.version_info);
    s.call.end();
  });

  it('a client that never ACKs holds one response per type; others keep getting updates', async () => {
    const silent = open(CLIENT_TOKEN);
    silent.send({ node: { id: 'silent' }, type_url: XDS_TYPE_URLS.endpoint, resource_names: ['prod/dc1/payment'] });
    await silent.next(1);
    const polite = open(CLIENT_TOKEN);
    polite.send({ node: { id: 'polite' }, type_url: XDS_TYPE_URLS.endpoint, resource_names: ['prod/dc1/payment'] });
    let last = await polite.next(1);
    for (let i = 1; i <= 5; i++) {
      polite.send({ type_url: XDS_TYPE_URLS.endpoint, resource_names: ['prod/dc1/payment'], version_info: last.version_info, response_nonce: last.nonce });
      put(9001, i % 2 ? 'critical' : 'passing');
      last = await polite.next(i + 1);
    }
    expect(silent.responses).toHaveLength(1);
    const view = xds.clients().clients.find((c) => c.nodeId === 'silent')!;
    expect(view.subscriptions[0]!.awaitingAckSince).not.toBeNull();
    expect(view.subscriptions[0]!.ackedVersion).toBeNull();
    silent.call.cancel();
    polite.call.end();
  });

  it('refuses streams without a client token', async () => {
    const anon = open();
    anon.send({ node: { id: 'anon' }, type_url: XDS_TYPE_URLS.listener });
    expect((await until('status', () => anon.status)).code).toBe(grpc.status.UNAUTHENTICATED);
    const wrong = open('not-a-token');
    expect((await until('status', () => wrong.status)).code).toBe(grpc.status.UNAUTHENTICATED);
    const viewer = open(VIEWER_TOKEN);
    expect((await until('status', () => viewer.status)).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(anon.responses).toEqual([]);
    // The server is still up for a client with the right token.
    const ok = open(CLIENT_TOKEN);
    ok.send({ node: { id: 'ok' }, type_url: XDS_TYPE_URLS.cluster });
    expect((await ok.next(1)).resources).toHaveLength(1);
    ok.call.end();
  });
});

describe('a control plane whose registry is not read yet', () => {
  const servers: Record<string, PaymentServer> = {};
  const stores: TopologyStore[] = [];
  const planes: XdsServer[] = [];
  let group: CallerGroup | null = null;
  let client: (grpc.Client & { StreamAggregatedResources(md?: grpc.Metadata): Raw }) | null = null;

  /** A fresh control plane: its store knows the source `prod`, which has not synced. */
  const plane = async (port: number, startupHoldMs?: number) => {
    const store = new TopologyStore();
    store.addSource({ id: 'prod', kind: 'consul', name: 'prod', address: null });
    const xds = new XdsServer({ store, logger, port, userForToken: (t) => users[t] ?? null, ...(startupHoldMs !== undefined ? { startupHoldMs } : {}) });
    stores.push(store);
    planes.push(xds);
    return { store, xds, port: await xds.start() };
  };
  /** What the registry holds: payment with b1 (blue) and g1 (green), and its policy. */
  const sync = (store: TopologyStore, blue: number) => {
    store.apply('prod', { type: 'service.changed', service: service('prod', 'dc1', 'payment', Object.values(servers).map((s) => instance(`node-1/${s.instanceId}`, { address: '127.0.0.1', port: s.port, tags: [s.instanceId.startsWith('b') ? 'blue' : 'green'], checks: [check('passing')] }))) });
    store.apply('prod', { type: 'traffic.synced', scope: 'dc1', policies: { payment: policy(blue) } });
    store.apply('prod', { type: 'status', state: 'ok' });
  };

  beforeAll(async () => {
    for (const id of ['b1', 'g1']) servers[id] = await startPaymentServer({ instanceId: id });
  });
  afterAll(async () => {
    client?.close();
    await group?.stop();
    for (const x of planes) await x.close();
    await Promise.all(Object.values(servers).map((s) => s.close()));
  });

  it('holds answers until the registry is read: clients that restart with it keep their configuration and follow the next flip', async () => {
    const first = await plane(0);
    sync(first.store, 0);
    group = CallerGroup.start(2, { nodeIdPrefix: 'restart', xdsPort: first.port, token: CLIENT_TOKEN }, () => first.xds);
    await group.answering();
    let counts = await group.sample(200);
    expect([...counts.keys()]).toEqual(['g1']);

    // The control plane restarts on the same port and its registry answers late.
    await first.xds.close();
    const second = await plane(first.port);
    group.xds = () => second.xds;
    await group.connected();
    await until('the listener answer held', () => second.xds.clients().clients.length === 2 && second.xds.clients().clients.every((c) => c.subscriptions.some((x) => x.type === 'listener' && x.heldSince)));
    // Held, not "payment is gone": the clients keep calling what they had.
    counts = await group.sample(200, { sync: false });
    expect([...counts.keys()]).toEqual(['g1']);
    expect(second.xds.clients().clients.every((c) => c.subscriptions.every((x) => x.sentVersion === null))).toBe(true);

    // Read: every held answer goes out, every type is ACKed, and the next flip is followed.
    sync(second.store, 0);
    await group.synced(['listener', 'route', 'cluster', 'endpoint']);
    sync(second.store, 100);
    counts = await group.sample(200);
    expect([...counts.keys()]).toEqual(['b1']);
    expect(group.errors()).toEqual([]);
    expect(second.xds.clients().clients.every((c) => c.nacks.length === 0 && c.subscriptions.every((x) => !x.heldSince))).toBe(true);
  });

  it('a name no registry has is answered as absent once the sources synced, or after startupHoldMs if one never does', async () => {
    const synced = await plane(0);
    sync(synced.store, 100);
    const never = await plane(0, 300);
    const open = (port: number) => {
      client = new RawAds(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${CLIENT_TOKEN}`);
      return new RawStream(client!.StreamAggregatedResources(md));
    };
    // Every source synced: an unknown listener is simply absent.
    const a = open(synced.port);
    a.send({ node: { id: 'asks-for-nothing' }, type_url: XDS_TYPE_URLS.listener, resource_names: ['no-such-service'] });
    expect((await a.next(1)).resources).toEqual([]);
    a.call.end();
    // A source that never syncs holds answers for startupHoldMs, then they go out with what is known.
    const b = open(never.port);
    b.send({ node: { id: 'waits' }, type_url: XDS_TYPE_URLS.listener, resource_names: ['payment'] });
    await until('held', () => never.xds.clients().clients.find((c) => c.nodeId === 'waits')?.subscriptions[0]?.heldSince);
    expect((await b.next(1)).resources).toEqual([]);
    expect(never.xds.clients().clients.find((c) => c.nodeId === 'waits')!.subscriptions[0]!.heldSince).toBeNull();
    b.call.end();
  });
});
