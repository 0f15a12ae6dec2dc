/**
 * `npm run bench:registry`: the embedded registry next to real Consul 1.8.7, same workload,
 * one run. Registrations/s and KV writes/s through the HTTP API (16 in flight), the wake-up
 * latency of 1,000 blocking queries on one KV key after a write (p50/p99), and the registry
 * process's RSS holding 10,000 registered instances.
 */
import { readFileSync } from 'node:fs';
import { startConsulAgent } from '../test/support/consulAgent';
import { spawnRegistryProcess } from '../test/support/registryProcessHandle';
import { percentile, report } from './benchReport';

const REGISTRATIONS = 1000;
const KV_WRITES = 2000;
const WATCHERS = 1000;
const INSTANCES = 10_000;
const CONCURRENCY = 16;

// Node's fetch opens as many sockets per origin as there are requests in flight, so the
// 1,000 long polls are 1,000 real connections.

interface Target {
  name: string;
  httpAddr: string;
  pid: () => number | null;
  stop(): Promise<void>;
}

async function embedded(): Promise<Target> {
  const r = await spawnRegistryProcess();
  return { name: 'embedded', httpAddr: r.httpAddr, pid: () => r.child.pid ?? null, stop: r.stop };
}

async function consul(): Promise<Target> {
  // The 1.8.7 default of 200 connections per client would refuse most of the 1,000 watchers.
  const agent = await startConsulAgent({ datacenter: 'dc1', hcl: ['limits { http_max_conns_per_client = 5000 }'] });
  return { name: 'Consul 1.8.7', httpAddr: agent.httpAddr, pid: () => agent.pid(), stop: () => agent.stop() };
}

async function pool<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function put(addr: string, path: string, body: string): Promise<void> {
  const r = await fetch(`${addr}${path}`, { method: 'PUT', body });
  await r.arrayBuffer();
  if (!r.ok) throw new Error(`PUT ${path}: ${r.status}`);
}

function rssMiB(pid: number | null): number {
  if (!pid) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function measure(t: Target) {
  const ids = Array.from({ length: REGISTRATIONS }, (_, i) => i);
  let t0 = performance.now();
  await pool(ids, (i) => put(t.httpAddr, '/v1/agent/service/register', JSON.stringify({ Name: `reg-${i % 100}`, ID: `reg-${i}`, Port: 1000 + i, Check: { TTL: '10m', Status: 'passing' } })));
  const regPerSec = REGISTRATIONS / ((performance.now() - t0) / 1000);

  t0 = performance.now();
  await pool(Array.from({ length: KV_WRITES }, (_, i) => i), (i) => put(t.httpAddr, `/v1/kv/bench/key-${i % 200}`, `value-${i}`));
  const kvPerSec = KV_WRITES / ((performance.now() - t0) / 1000);

  await put(t.httpAddr, '/v1/kv/bench/watched', 'v0');
  const index = Number((await fetch(`${t.httpAddr}/v1/kv/bench/watched`)).headers.get('x-consul-index'));
  const woke: number[] = [];
  const watchers = Array.from({ length: WATCHERS }, () =>
    fetch(`${t.httpAddr}/v1/kv/bench/watched?index=${index}&wait=60s`).then(async (r) => {
      await r.arrayBuffer();
      woke.push(performance.now());
    }),
  );
  await new Promise((r) => setTimeout(r, 3000)); // let every long poll arrive and block
  const written = performance.now();
  await put(t.httpAddr, '/v1/kv/bench/watched', 'v1');
  await Promise.all(watchers);
  const wake = woke.map((w) => w - written).sort((a, b) => a - b);

  await pool(Array.from({ length: INSTANCES - REGISTRATIONS }, (_, i) => i + REGISTRATIONS), (i) =>
    put(t.httpAddr, '/v1/agent/service/register', JSON.stringify({ Name: `reg-${i % 100}`, ID: `reg-${i}`, Port: 1000 + (i % 60000), Check: { TTL: '10m', Status: 'passing' } })),
  );
  await new Promise((r) => setTimeout(r, 2000));
  return { regPerSec, kvPerSec, wakeP50: percentile(wake, 50), wakeP99: percentile(wake, 99), woke: wake.length, rss: rssMiB(t.pid()) };
}

const results: { name: string; r: Awaited<ReturnType<typeof measure>> }[] = [];
for (const make of [embedded, consul]) {
  const target = await make();
  try {
    results.push({ name: target.name, r: await measure(target) });
  } finally {
    await target.stop();
  }
}

const col = (f: (r: (typeof results)[number]['r']) => string) => results.map((x) => f(x.r)).join(' | ');
report(
  'Embedded registry vs Consul 1.8.7',
  'npm run bench:registry',
  [
    `Same workload against each, over loopback HTTP, ${CONCURRENCY} requests in flight. The embedded registry runs in its own process (SQLite WAL, synchronous=FULL: every write is on disk before it is acknowledged); Consul is a \`-dev\` agent (in memory).`,
    '',
    `| measure | ${results.map((x) => x.name).join(' | ')} |`,
    `|---|${results.map(() => '---').join('|')}|`,
    `| registrations/s (${REGISTRATIONS}, agent API, TTL check) | ${col((r) => r.regPerSec.toFixed(0))} |`,
    `| KV writes/s (${KV_WRITES}) | ${col((r) => r.kvPerSec.toFixed(0))} |`,
    `| ${WATCHERS} blocking queries on one key: wake-up after the write, p50 ms | ${col((r) => r.wakeP50.toFixed(1))} |`,
    `| same, p99 ms | ${col((r) => r.wakeP99.toFixed(1))} |`,
    `| watchers answered | ${col((r) => String(r.woke))} |`,
    `| registry RSS with ${INSTANCES.toLocaleString('en')} instances, MiB | ${col((r) => r.rss.toFixed(0))} |`,
  ].join('\n'),
);
process.exit(0);
