/**
 * `npm run bench:scale`: the Consul adapter against one real dev agent holding 1,000 services
 * × 5 instances (5,000 TTL checks, all passing). Measures time to the first full sync,
 * process memory after it, requests to Consul per second while nothing changes, and the
 * size of the delta one check flip produces next to the full snapshot.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_WAIT_MS } from '../clients/consul/blockingQuery';
import { ConsulSource } from '../server/sources/consul/consulSource';
import { TopologyStore, type Delta } from '../server/topology/topologyStore';
import { startConsulAgent } from '../test/support/consulAgent';
import { report } from './benchReport';

const SERVICES = 1000;
const PER_SERVICE = 5;
// Two full blocking waits, so the idle figure includes the re-issued long polls.
const IDLE_MS = 2 * DEFAULT_WAIT_MS + 10_000;
const REGISTER_CONCURRENCY = 16;

const agent = await startConsulAgent({ datacenter: 'dc1' });
try {
  // ---- load the catalog through the agent API (so every instance has a real TTL check) ----
  const t0 = performance.now();
  const jobs = Array.from({ length: SERVICES * PER_SERVICE }, (_, k) => ({ s: Math.floor(k / PER_SERVICE), i: k % PER_SERVICE }));
  let next = 0;
  await Promise.all(
    Array.from({ length: REGISTER_CONCURRENCY }, async () => {
      while (next < jobs.length) {
        const { s, i } = jobs[next++]!;
        const id = `svc-${s}-${i}`;
        await agent.registerService({
          ID: id, Name: `svc-${s}`, Port: 20000 + i, Address: `10.${s >> 8}.${s & 255}.${i + 1}`,
          Tags: [i % 2 ? 'blue' : 'green', 'v1'], Meta: { zone: `z${i}` },
          Check: { CheckID: `${id}-ttl`, Name: 'heartbeat', TTL: '30m', Status: 'passing' },
        });
      }
    }),
  );
  const registerMs = performance.now() - t0;
  // The agent syncs registrations to the catalog asynchronously; wait until all are there.
  for (;;) {
    const r = await fetch(`${agent.httpAddr}/v1/health/state/passing`);
    const n = ((await r.json()) as unknown[]).length;
    if (n >= SERVICES * PER_SERVICE + 1) break;
    await sleep(200);
  }
  const catalogMs = performance.now() - t0;

  // ---- the adapter, with every request counted ----
  let requests = 0;
  const countingFetch: typeof fetch = (input, init) => {
    requests += 1;
    return fetch(input, init);
  };
  const store = new TopologyStore();
  const source = new ConsulSource({ kind: 'consul', name: 'bench', address: agent.httpAddr, token: null, datacenters: 'all' }, { fetch: countingFetch });
  store.addSource({ id: source.id, kind: source.kind, name: source.name, address: source.address });
  const deltas: Delta[] = [];
  store.subscribe((d) => deltas.push(d));
  const s0 = performance.now();
  source.start((e) => store.apply(source.id, e));
  while (store.source('bench')?.state !== 'ok') await sleep(5);
  const syncMs = performance.now() - s0;
  const syncRequests = requests;
  const instances = store.snapshot().services.reduce((n, s) => n + s.instances.length, 0);
  await sleep(1000);
  const mem = process.memoryUsage();

  // ---- idle ----
  const idleStart = requests;
  await sleep(IDLE_MS);
  const idleRps = (requests - idleStart) / (IDLE_MS / 1000);

  // ---- one check flip ----
  deltas.length = 0;
  const flipStart = requests;
  const f0 = performance.now();
  await agent.failTtl('svc-500-3-ttl', 'connection refused');
  const target = 'bench/dc1/svc-500';
  let flip: Delta | undefined;
  while (!(flip = deltas.find((d) => d.ops.some((o) => o.op === 'instance.put' && o.serviceId === target)))) await sleep(2);
  const flipMs = performance.now() - f0;
  await sleep(500);
  const flipRequests = requests - flipStart;
  const deltaBytes = Buffer.byteLength(JSON.stringify({ type: 'delta', fromRev: flip.fromRev, rev: flip.rev, ops: flip.ops }));
  const allDeltaBytes = deltas.reduce((n, d) => n + Buffer.byteLength(JSON.stringify({ type: 'delta', fromRev: d.fromRev, rev: d.rev, ops: d.ops })), 0);
  const snapshotBytes = Buffer.byteLength(JSON.stringify({ type: 'snapshot', topology: store.snapshot() }));
  await source.stop();

  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const body = `
Consul 1.8.7 dev agent, ${SERVICES} services × ${PER_SERVICE} instances = ${SERVICES * PER_SERVICE} instances, each with a passing TTL check
(registered through the agent API, ${REGISTER_CONCURRENCY} at a time: ${(registerMs / 1000).toFixed(1)} s, in the catalog after ${(catalogMs / 1000).toFixed(1)} s).
One ConsulSource (\`datacenters: "all"\`, defaults: ${DEFAULT_WAIT_MS / 1000} s wait, 8 parallel reads) feeding a TopologyStore in the bench process.

| Measure | Value |
|---|---|
| Time to first full sync (start → source \`ok\`) | ${syncMs.toFixed(0)} ms |
| Requests for the first sync | ${syncRequests} (datacenters + the first read of each watch + one \`/v1/health/service/:name\` per service + the re-issued blocking queries) |
| Services / instances in the store | ${store.snapshot().services.length} / ${instances} |
| Process RSS after sync | ${mib(mem.rss)} (heap used ${mib(mem.heapUsed)}) |
| Requests to Consul per second, idle (${IDLE_MS / 1000} s window) | ${idleRps.toFixed(3)} |
| Check flip → store delta | ${flipMs.toFixed(0)} ms; ${flipRequests} new requests (1 service read + the re-issued blocking query; the wake itself is the already-open one) |
| Delta for one TTL flip (\`{type:'delta',…}\` JSON) | ${deltaBytes} B (all deltas of the flip incl. source status: ${allDeltaBytes} B) |
| Full snapshot (\`{type:'snapshot',…}\` JSON) | ${snapshotBytes} B (${mib(snapshotBytes)}) |

Idle cost is the three blocking queries per datacenter (catalog, health, traffic KV), re-issued when the ${DEFAULT_WAIT_MS / 1000} s wait runs out,
plus one datacenter listing per minute; no per-service connections are held.
`;
  report('Consul adapter at scale (bench/scale.ts)', 'npm run bench:scale', body);
} finally {
  await agent.stop();
}
