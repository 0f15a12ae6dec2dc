/**
 * The Consul adapter alone (ConsulSource → TopologyStore) against a fleet loaded with
 * consulFleet.ts: full initial read time, requests and bytes per check flip, CPU per flip,
 * flip → store delta latency, and CPU under background churn. Prints JSON.
 *
 *   node --import tsx bench/support/consulAdapterScale.ts [services] [instances] [nodes] [--addr http://127.0.0.1:PORT]
 *
 * With `--addr`, the fleet is assumed to be loaded already (same shape arguments).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulSource } from '../../server/sources/consul/consulSource';
import { TopologyStore } from '../../server/topology/topologyStore';
import { startConsulAgent } from '../../test/support/consulAgent';
import { loadConsulFleet, type ConsulFleet } from './consulFleet';

const args = process.argv.slice(2);
const addrAt = args.indexOf('--addr');
const addr = addrAt >= 0 ? args[addrAt + 1]! : null;
const [S = 10_000, M = 15, K = 500] = args.filter((a, i) => !a.startsWith('--') && (addrAt < 0 || i !== addrAt + 1)).map(Number);
const FLIPS = Number(process.env.FLIPS ?? 100);
const CHURN_RATE = Number(process.env.CHURN ?? 200);
const CHURN_MS = Number(process.env.CHURN_MS ?? 10_000);

const agent = addr ? null : await startConsulAgent({ datacenter: 'dc1' });
const httpAddr = addr ?? agent!.httpAddr;
try {
  const fleet: ConsulFleet = addr
    ? await loadConsulFleet(httpAddr, { services: 0, instances: M, nodes: 0 }).then((f) => ({ ...f, shape: { ...f.shape, services: S, nodes: K }, instance: (s: number, i: number) => ({ service: `svc-${s}`, serviceId: `svc-${s}-${i}`, node: `fleet-node-${(s * M + i) % K}`, checkId: `svc-${s}-${i}:check` }) }))
    : await loadConsulFleet(httpAddr, { services: S, instances: M, nodes: K });

  const byEndpoint = new Map<string, { requests: number; bytes: number }>();
  let requests = 0;
  let bytes = 0;
  const store = new TopologyStore();
  const source = new ConsulSource(
    { kind: 'consul', name: 'bench', address: httpAddr, token: null, datacenters: ['dc1'] },
    {
      onResponse: ({ endpoint, bytes: b }) => {
        requests += 1;
        bytes += b;
        const e = byEndpoint.get(endpoint) ?? { requests: 0, bytes: 0 };
        e.requests += 1;
        e.bytes += b;
        byEndpoint.set(endpoint, e);
      },
    },
  );
  store.addSource({ id: source.id, kind: source.kind, name: source.name, address: source.address });
  // Latency is measured at the adapter's output (the store is being rewritten elsewhere).
  const changedAt = new Map<string, number>();
  source.start((e) => {
    if (e.type === 'service.changed') changedAt.set(e.service.name, performance.now());
    store.apply(source.id, e);
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (store.source('bench')?.state !== 'ok') await sleep(5);
  const syncMs = performance.now() - t0;
  const syncCpu = process.cpuUsage(c0);
  const sync = { ms: Math.round(syncMs), cpuMs: Math.round((syncCpu.user + syncCpu.system) / 1000), requests, mib: +(bytes / 2 ** 20).toFixed(1), endpoints: structuredClone(Object.fromEntries(byEndpoint)) };
  await sleep(2000);
  global.gc?.();
  const rssMiB = Math.round(process.memoryUsage().rss / 2 ** 20);

  // ---- idle ----
  const idle0 = requests;
  await sleep(5000);
  const idleRps = (requests - idle0) / 5;

  // ---- sequential flips ----
  const lat: number[] = [];
  let flipRequests = 0;
  let flipBytes = 0;
  let flipCpu = 0;
  for (let n = 0; n < FLIPS; n++) {
    const s = (n * 7919) % S;
    const i = n % M;
    const r = fleet.instance(s, i);
    const status = n % 2 ? 'passing' : 'critical';
    for (const st of [status === 'critical' ? 'critical' : 'warning', 'passing'] as const) {
      changedAt.delete(r.service);
      const req0 = requests;
      const b0 = bytes;
      const cpu0 = process.cpuUsage();
      const f0 = performance.now();
      await fleet.flipCheck(r.node, r.checkId, st, st === 'passing' ? '' : 'bench flip');
      while (!changedAt.has(r.service)) await sleep(1);
      lat.push(changedAt.get(r.service)! - f0);
      await sleep(30);
      const cpu = process.cpuUsage(cpu0);
      flipCpu += (cpu.user + cpu.system) / 1000;
      flipRequests += requests - req0;
      flipBytes += bytes - b0;
    }
  }
  const nFlips = lat.length;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => +lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!.toFixed(1);

  // ---- background churn: CHURN_RATE flips/s (each a flip to critical, then back 1 s later) ----
  const churnCpu0 = process.cpuUsage();
  const churnReq0 = requests;
  const churnBytes0 = bytes;
  const churnT0 = performance.now();
  // Writes go through 16 workers (the agent drops the 201st connection from one IP); each
  // flip turns a check critical, and the check flipped 200 flips earlier back to passing.
  let sent = 0;
  const queue: (() => Promise<void>)[] = [];
  let churning = true;
  const workers = Array.from({ length: 16 }, async () => {
    while (churning || queue.length) {
      const job = queue.shift();
      if (job) await job();
      else await sleep(2);
    }
  });
  const critical: ReturnType<typeof fleet.instance>[] = [];
  while (performance.now() - churnT0 < CHURN_MS) {
    const due = Math.floor(((performance.now() - churnT0) / 1000) * CHURN_RATE);
    while (sent < due) {
      const n = sent++;
      const r = fleet.instance((n * 104729 + 13) % S, n % M);
      critical.push(r);
      queue.push(() => fleet.flipCheck(r.node, r.checkId, 'critical', 'churn'));
      if (critical.length > CHURN_RATE) {
        const back = critical.shift()!;
        queue.push(() => fleet.flipCheck(back.node, back.checkId, 'passing'));
      }
    }
    await sleep(5);
  }
  const backlog = queue.length;
  // a probe flip under churn
  const probe = fleet.instance(S - 1, 0);
  changedAt.delete(probe.service);
  const p0 = performance.now();
  await fleet.flipCheck(probe.node, probe.checkId, 'critical', 'probe');
  while (!changedAt.has(probe.service)) await sleep(1);
  const probeMs = performance.now() - p0;
  const churnWall = performance.now() - churnT0;
  const churnCpu = process.cpuUsage(churnCpu0);
  churning = false;
  await Promise.all(workers);
  for (const r of critical) await fleet.flipCheck(r.node, r.checkId, 'passing');
  await fleet.flipCheck(probe.node, probe.checkId, 'passing');

  console.log(JSON.stringify({
    shape: { services: S, instances: M, nodes: K }, loadMs: Math.round(fleet.loadMs), sync, rssMiB, idleRps,
    flips: {
      n: nFlips, requestsPerFlip: +(flipRequests / nFlips).toFixed(2), bytesPerFlip: Math.round(flipBytes / nFlips),
      cpuMsPerFlip: +(flipCpu / nFlips).toFixed(2), p50: pct(50), p99: pct(99),
    },
    churn: {
      ratePerS: CHURN_RATE, flips: sent * 2, seconds: +(churnWall / 1000).toFixed(1),
      cores: +(((churnCpu.user + churnCpu.system) / 1000) / churnWall).toFixed(3),
      requestsPerS: Math.round((requests - churnReq0) / (churnWall / 1000)), mibPerS: +((bytes - churnBytes0) / 2 ** 20 / (churnWall / 1000)).toFixed(2),
      probeFlipMs: Math.round(probeMs), writeBacklogAtEnd: backlog,
    },
  }, null, 1));
  await source.stop();
} finally {
  await agent?.stop();
}
