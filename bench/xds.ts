/**
 * bench:xds — the xDS control plane under 1,000 connected ADS clients.
 *
 *   npm run bench:xds [-- --clients 1000 --changes 30 --flips 30 --services 1000]
 *
 * The xDS server runs in this process over a TopologyStore holding `--services` other services
 * (3 instances each) plus `payment` (blue/green). A child process opens `--clients` raw ADS
 * streams (grpc-js, 10 connections), each subscribing like a gRPC client dialing
 * xds:///payment (LDS → RDS → CDS → EDS) and ACKing every response. Reported:
 * - policy change (weights move) → time until each client received and ACKed the new route
 *   version: p50/p99 over all clients and changes, and "all ACKed" (the slowest client) p50/p99;
 * - one instance's health flip → EDS update at each client, p50/p99;
 * - server heap per connected client (heap after connecting minus before, after GC).
 * Times are wall-clock across the two processes (performance.timeOrigin + now()).
 */
import { fork } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { aggregateHealth, type Instance, type Service } from '../protocol/model';
import type { TrafficPolicy } from '../protocol/traffic';
import { XDS_TYPE_URLS } from '../protocol/xds';
import { TopologyStore } from '../server/topology/topologyStore';
import { ADS_METHOD_PATH, xdsProtos } from '../server/xds/xdsProtos';
import { XdsServer } from '../server/xds/xdsServer';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const now = () => performance.timeOrigin + performance.now();

type ToParent = { kind: 'ready' } | { kind: 'got'; type: 'route' | 'endpoint'; version: string; times: number[] };

// ---------------------------------------------------------------- child: the ADS clients
async function runClients(port: number, count: number): Promise<void> {
  const Raw = grpc.makeGenericClientConstructor(
    { StreamAggregatedResources: { path: ADS_METHOD_PATH, requestStream: true, responseStream: true, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
    'ADS',
  );
  const { DiscoveryRequest: Req, DiscoveryResponse: Res } = xdsProtos();
  const enc = (o: Record<string, unknown>) => Buffer.from(Req.encode(Req.fromObject(o)).finish());
  const channels = Array.from({ length: 10 }, () => new Raw(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as grpc.Client & { StreamAggregatedResources(): grpc.ClientDuplexStream<Buffer, Buffer> });
  const subs: [keyof typeof XDS_TYPE_URLS, string[]][] = [
    ['listener', ['payment']],
    ['route', ['prod/dc1/payment']],
    ['cluster', ['prod/dc1/payment#blue', 'prod/dc1/payment#green']],
    ['endpoint', ['prod/dc1/payment#blue', 'prod/dc1/payment#green']],
  ];
  // version → receive time per client, for route and endpoint
  const seen = { route: new Map<string, number[]>(), endpoint: new Map<string, number[]>() };
  let initial = 0;
  for (let c = 0; c < count; c++) {
    const call = channels[c % channels.length]!.StreamAggregatedResources();
    let got = 0;
    call.on('data', (b: Buffer) => {
      const t = now();
      const r = Res.decode(b) as unknown as { version_info: string; nonce: string; type_url: string };
      const type = subs.find(([k]) => XDS_TYPE_URLS[k] === r.type_url)!;
      call.write(enc({ type_url: r.type_url, resource_names: type[1], version_info: r.version_info, response_nonce: r.nonce }));
      if (++got === 4) initial++;
      if (got <= 4 || (type[0] !== 'route' && type[0] !== 'endpoint')) return;
      const map = seen[type[0]];
      let times = map.get(r.version_info);
      if (!times) map.set(r.version_info, (times = []));
      times.push(t);
      if (times.length === count) {
        process.send!({ kind: 'got', type: type[0], version: r.version_info, times } satisfies ToParent);
        map.delete(r.version_info);
      }
    });
    call.on('error', () => {});
    for (const [k, names] of subs) call.write(enc({ node: { id: `bench-${c}`, cluster: 'bench' }, type_url: XDS_TYPE_URLS[k], resource_names: names }));
  }
  while (initial < count) await new Promise((r) => setTimeout(r, 20));
  process.send!({ kind: 'ready' } satisfies ToParent);
}

// ---------------------------------------------------------------- parent: store + server
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

function inst(id: string, port: number, tags: string[], health: Instance['health'] = 'passing'): Instance {
  const checks = [{ id: 'c', name: 'c', status: health, output: '', type: 'ttl', nodeLevel: false }];
  return { id, address: '127.0.0.1', port, tags, meta: {}, node: 'n', health: aggregateHealth(checks), checks };
}
function svc(name: string, instances: Instance[]): Service {
  return { id: `prod/dc1/${name}`, sourceId: 'prod', scope: 'dc1', name, tags: [], instances };
}
function policy(blue: number): TrafficPolicy {
  return { version: 1, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue, green: 100 - blue }, drain: [], updatedAt: 'x', updatedBy: 'bench', reason: '' };
}

async function main(): Promise<void> {
  const clients = arg('clients', 1000);
  const changes = arg('changes', 30);
  const flips = arg('flips', 30);
  const others = arg('services', 1000);
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };

  const store = new TopologyStore();
  store.addSource({ id: 'prod', kind: 'consul', name: 'prod', address: null });
  const payment = (flipped: boolean) => svc('payment', [inst('p-b1', 9001, ['blue']), inst('p-b2', 9002, ['blue'], flipped ? 'critical' : 'passing'), inst('p-g1', 9003, ['green']), inst('p-g2', 9004, ['green'])]);
  const fleet = Array.from({ length: others }, (_, i) => svc(`svc-${i}`, [0, 1, 2].map((k) => inst(`s${i}-${k}`, 10_000 + k, []))));
  store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [payment(false), ...fleet] });
  store.apply('prod', { type: 'traffic.synced', scope: 'dc1', policies: { payment: policy(100) } });

  const xds = new XdsServer({ store, logger: pino({ level: 'warn' }), port: 0 });
  const port = await xds.start();
  const heapBefore = heap();

  const child = fork(new URL(import.meta.url).pathname, ['--child', String(port), String(clients)], { execArgv: ['--import', 'tsx'] });
  const waiters = new Map<string, (times: number[]) => void>();
  let ready: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  child.on('message', (m: ToParent) => {
    if (m.kind === 'ready') ready();
    else waiters.get(`${m.type}:${m.version}`)?.(m.times);
  });
  const t0 = now();
  await readyP;
  const connectMs = now() - t0;
  const heapAfter = heap();
  console.log(`xDS bench: ${clients} ADS clients on 10 connections, topology of ${others + 1} services; all subscribed and ACKed in ${fmt(connectMs)}`);
  console.log(`server heap per connected client: ${((heapAfter - heapBefore) / clients / 1024).toFixed(1)} KiB (${((heapAfter - heapBefore) / 1048576).toFixed(1)} MiB for ${clients})`);

  async function measure(type: 'route' | 'endpoint', rounds: number, change: (i: number) => void): Promise<{ each: number[]; all: number[]; applyMs: number[] }> {
    const each: number[] = [];
    const all: number[] = [];
    const applyMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const next = String(Number(xds.cache.version(type)) + 1);
      const got = new Promise<number[]>((r) => waiters.set(`${type}:${next}`, r));
      const start = now();
      change(i);
      applyMs.push(now() - start);
      const times = await got;
      waiters.delete(`${type}:${next}`);
      const lat = times.map((t) => t - start);
      each.push(...lat);
      all.push(Math.max(...lat));
      await new Promise((r) => setTimeout(r, 50));
    }
    return { each, all, applyMs };
  }

  const weights = [80, 50, 20, 0, 100];
  const p = await measure('route', changes, (i) => store.apply('prod', { type: 'traffic.synced', scope: 'dc1', policies: { payment: policy(weights[i % weights.length]!) } }));
  console.log(`policy change → client ACKed new route version (${changes} changes × ${clients} clients): p50 ${fmt(pct(p.each, 50))}, p99 ${fmt(pct(p.each, 99))}; every client ACKed: p50 ${fmt(pct(p.all, 50))}, p99 ${fmt(pct(p.all, 99))}; store.apply incl. xDS recompute + sends: p50 ${fmt(pct(p.applyMs, 50))}`);
  const f = await measure('endpoint', flips, (i) => store.apply('prod', { type: 'service.changed', service: payment(i % 2 === 0) }));
  console.log(`health flip → EDS update at client (${flips} flips × ${clients} clients): p50 ${fmt(pct(f.each, 50))}, p99 ${fmt(pct(f.each, 99))}; every client: p50 ${fmt(pct(f.all, 50))}, p99 ${fmt(pct(f.all, 99))}`);
  const unacked = xds.clients().clients.filter((c) => c.subscriptions.some((s) => s.ackedVersion !== xds.cache.version(s.type)));
  console.log(`server view: ${xds.clientCount} clients, ${unacked.length} not on the current versions, NACKs ${xds.clients().clients.reduce((n, c) => n + c.nacks.length, 0)}`);
  child.kill();
  await xds.close();
  process.exit(0);
}

if (process.argv[2] === '--child') void runClients(Number(process.argv[3]), Number(process.argv[4]));
else void main();
