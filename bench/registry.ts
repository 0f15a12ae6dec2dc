/**
 * `npm run bench:registry`: the embedded registry next to real Consul 1.8.7, same workload,
 * one run. Registrations/s and KV writes/s through the HTTP API (16 in flight), the wake-up
 * latency of 1,000 blocking queries on one KV key after a write (p50/p99), and the registry
 * process's RSS holding 10,000 registered instances.
 *
 * `npm run bench:registry -- --scale [--services 10000] [--per 15]`: the embedded registry
 * alone at 150,000 instances (10,000 services × 15) registered through its agent API while a
 * watcher follows it the way Switchboard's Consul adapter does (blocking `/v1/catalog/services`,
 * `/v1/health/state/critical`, `/warning`, `/any?filter=Status != "passing"`,
 * `/v1/internal/ui/services`, and `/v1/health/service/:name` of 50 services plus of every
 * service a non-passing list names): registrations/s as the catalog grows, RSS, and the
 * registry process's CPU per check flip with those watchers woken.
 * `npm run bench:registry -- --ops [--instances 150000]`: the embedded registry and Consul 1.8.7
 * side by side on the newer endpoints: `/v1/txn` of 64 KV sets per second, session create +
 * KV acquire per second (16 in flight), and the cost of `?filter=` with the catalog at 150,000
 * instances (registered through `/v1/txn` service sets, 64 per transaction): one filtered
 * `/v1/catalog/node-services/:node` over every instance and filtered `/v1/catalog/service/:name`
 * (15 instances) and `/v1/health/service/:name` queries.
 * `--print-only` prints the section without appending it to BENCHMARKS.md.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { startConsulAgent } from '../test/support/consulAgent';
import { spawnRegistryProcess } from '../test/support/registryProcessHandle';
import { percentile, report } from './benchReport';

const args = process.argv.slice(2);
const option = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
};
const emit = (title: string, command: string, body: string) => (args.includes('--print-only') ? process.stdout.write(`\n## ${title}\n\n${body}\n`) : report(title, command, body));
if (args.includes('--scale')) {
  await scale();
  process.exit(0);
}

const REGISTRATIONS = 1000;
const KV_WRITES = 2000;
const WATCHERS = 1000;
const INSTANCES = 10_000;
const CONCURRENCY = 16;
if (args.includes('--ops')) {
  await ops();
  process.exit(0);
}

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
emit(
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

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function scale(): Promise<void> {
  const SERVICES = option('services', 10_000);
  const PER = option('per', 15);
  const TOTAL = SERVICES * PER;
  const IN_FLIGHT = 32;
  const FLIPS = 100;
  const milestones = [10_000, 25_000, 50_000, 75_000, 100_000, 125_000, 150_000].filter((m) => m <= TOTAL);
  if (!milestones.includes(TOTAL)) milestones.push(TOTAL);
  const reg = await spawnRegistryProcess();
  const pid = reg.child.pid!;
  const addr = reg.httpAddr;
  const stop = new AbortController();
  const wakes = new Map<string, number>();
  const seen = { critical: [] as { at: number; body: string }[] };

  // ---- the watcher: Switchboard's Consul adapter's long-polls, each a loop ----
  async function follow(path: string, onBody?: (body: string) => void): Promise<void> {
    let index = 0;
    while (!stop.signal.aborted) {
      try {
        const sep = path.includes('?') ? '&' : '?';
        const r = await fetch(`${addr}${path}${sep}index=${index}&wait=30s`, { signal: stop.signal });
        // Only the non-passing lists are decoded (they are small); the rest is read and dropped.
        const body = onBody ? await r.text() : (await r.arrayBuffer(), '');
        const next = Number(r.headers.get('x-consul-index') ?? 0);
        if (next !== index) {
          wakes.set(path, (wakes.get(path) ?? 0) + 1);
          onBody?.(body);
        }
        index = next < index ? 0 : next;
      } catch {
        if (stop.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  const healthRead = (name: string) => fetch(`${addr}/v1/health/service/${name}`).then((r) => r.arrayBuffer()).catch(() => undefined);
  const onNonPassing = (body: string) => {
    seen.critical.push({ at: performance.now(), body });
    // Like the adapter: read each service a non-passing list names.
    const names = new Set((JSON.parse(body) as { ServiceName: string }[]).map((c) => c.ServiceName));
    for (const n of names) void healthRead(n);
  };
  const loops = [
    follow('/v1/catalog/services'),
    follow('/v1/health/state/critical', onNonPassing),
    follow('/v1/health/state/warning', onNonPassing),
    follow(`/v1/health/state/any?filter=${encodeURIComponent('Status != "passing"')}`),
    follow('/v1/internal/ui/services'),
    ...Array.from({ length: 50 }, (_, i) => follow(`/v1/health/service/svc-${Math.floor((i * SERVICES) / 50)}`)),
  ];

  // ---- registration: instance-major, so every service exists early and grows to PER instances ----
  const rows: { at: number; perSec: number; cpuMsPer: number; rss: number }[] = [];
  let done = 0;
  let windowStart = performance.now();
  let windowDone = 0;
  let windowCpu = cpuSeconds(pid);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < TOTAL) {
      const n = next++;
      const s = n % SERVICES;
      const i = Math.floor(n / SERVICES);
      const body = JSON.stringify({
        Name: `svc-${s}`, ID: `svc-${s}-${i}`, Address: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, Port: 8000 + i,
        Tags: [i % 2 ? 'blue' : 'green', `v${i % 3}`], Meta: { zone: `z${i % 3}` },
        Check: { CheckID: `svc-${s}-${i}-ttl`, TTL: '30m', Status: 'passing' },
      });
      await put(addr, '/v1/agent/service/register', body);
      done++;
      if (milestones.includes(done)) {
        const now = performance.now();
        const cpu = cpuSeconds(pid);
        rows.push({ at: done, perSec: (done - windowDone) / ((now - windowStart) / 1000), cpuMsPer: ((cpu - windowCpu) * 1000) / (done - windowDone), rss: rssMiB(pid) });
        process.stderr.write(`  ${done} instances: ${rows.at(-1)!.perSec.toFixed(0)}/s, ${rows.at(-1)!.cpuMsPer.toFixed(2)} ms registry CPU each since ${windowDone}, RSS ${rows.at(-1)!.rss.toFixed(0)} MiB, ${((now - t0) / 1000).toFixed(0)} s, load ${loadavg()[0]!.toFixed(1)}\n`);
        windowStart = now;
        windowDone = done;
        windowCpu = cpu;
      }
    }
  }));
  const totalSecs = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 3000)); // let the watchers catch up

  // ---- CPU per flip: idle baseline, then FLIPS flips (fail, then pass back), 150 ms apart ----
  const spacing = 150;
  const idleFrom = cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, FLIPS * spacing));
  const idle = cpuSeconds(pid) - idleFrom;
  const latencies: number[] = [];
  const cpuFrom = cpuSeconds(pid);
  for (let f = 0; f < FLIPS; f++) {
    const n = Math.floor(((f >> 1) * 7919 * 13) % TOTAL);
    const check = `svc-${n % SERVICES}-${Math.floor(n / SERVICES)}-ttl`;
    const verb = f % 2 === 0 ? 'fail' : 'pass';
    const before = seen.critical.length;
    const sent = performance.now();
    await put(addr, `/v1/agent/check/${verb}/${check}?note=flip-${f}`, '');
    while (seen.critical.length === before && performance.now() - sent < 5000) await new Promise((r) => setTimeout(r, 1));
    if (seen.critical.length > before) latencies.push(seen.critical[before]!.at - sent);
    await new Promise((r) => setTimeout(r, Math.max(0, spacing - (performance.now() - sent))));
  }
  const cpuPerFlipMs = ((cpuSeconds(pid) - cpuFrom - idle) / FLIPS) * 1000;
  const sortedLat = latencies.sort((a, b) => a - b);

  // ---- one-off costs at full size ----
  const timed = async (path: string) => {
    const c0 = cpuSeconds(pid);
    const w0 = performance.now();
    const r = await fetch(`${addr}${path}`);
    const bytes = (await r.arrayBuffer()).byteLength;
    return { ms: performance.now() - w0, cpuMs: (cpuSeconds(pid) - c0) * 1000, bytes };
  };
  const anyAll = await timed('/v1/health/state/any');
  const catalog = await timed('/v1/catalog/services');
  const rss = rssMiB(pid);
  stop.abort();
  await Promise.allSettled(loops);
  await reg.stop();

  emit(
    `Embedded registry at ${TOTAL.toLocaleString('en')} instances (${SERVICES.toLocaleString('en')} × ${PER})`,
    'npm run bench:registry -- --scale',
    [
      `Registered through \`PUT /v1/agent/service/register\` (TTL check, passing), ${IN_FLIGHT} in flight, while one watcher follows \`/v1/catalog/services\`, \`/v1/health/state/critical\`, \`/warning\`, \`/any?filter=Status != "passing"\`, \`/v1/internal/ui/services\` and 50 \`/v1/health/service/:name\` (blocking), reading \`/v1/health/service/:name\` of every service a non-passing list names. The registry runs in its own process (SQLite WAL, synchronous=FULL, group commit).`,
      '',
      `Load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (the machine is shared; registry CPU per registration is the figure that does not depend on it).`,
      '',
      '| catalog size | registrations/s (since the previous row) | registry CPU per registration, ms | registry RSS, MiB |',
      '|---|---|---|---|',
      ...rows.map((r) => `| ${r.at.toLocaleString('en')} | ${r.perSec.toFixed(0)} | ${r.cpuMsPer.toFixed(2)} | ${r.rss.toFixed(0)} |`),
      '',
      '| measure | value |',
      '|---|---|',
      `| all ${TOTAL.toLocaleString('en')} registered in | ${totalSecs.toFixed(0)} s (${(TOTAL / totalSecs).toFixed(0)}/s) |`,
      `| registry CPU per check flip (${FLIPS} flips, watchers woken, idle subtracted) | ${cpuPerFlipMs.toFixed(2)} ms |`,
      `| flip → \`/health/state/critical\` watcher woken, p50 / p99 | ${percentile(sortedLat, 50).toFixed(1)} / ${percentile(sortedLat, 99).toFixed(1)} ms |`,
      `| watcher wakes during the run (catalog/services, critical, ui/services) | ${wakes.get('/v1/catalog/services') ?? 0}, ${wakes.get('/v1/health/state/critical') ?? 0}, ${wakes.get('/v1/internal/ui/services') ?? 0} |`,
      `| one unfiltered \`/v1/health/state/any\` (every check) | ${(anyAll.bytes / 2 ** 20).toFixed(1)} MiB, ${anyAll.cpuMs.toFixed(0)} ms CPU |`,
      `| one \`/v1/catalog/services\` (cached) | ${(catalog.bytes / 2 ** 10).toFixed(0)} KiB, ${catalog.cpuMs.toFixed(0)} ms CPU |`,
      `| registry RSS at the end | ${rss.toFixed(0)} MiB |`,
    ].join('\n'),
  );
}

async function ops(): Promise<void> {
  const INSTANCES = option('instances', 150_000);
  const PER = 15;
  const TXNS = 300;
  const SESSIONS = 1000;
  const FILTERED = 200;
  const targets: { name: string; make: () => Promise<Target> }[] = [
    { name: 'embedded', make: embedded },
    { name: 'Consul 1.8.7', make: consul },
  ];
  const rows: string[][] = [];
  for (const { make } of targets) {
    const t = await make();
    try {
      const node = ((await (await fetch(`${t.httpAddr}/v1/agent/self`)).json()) as { Config: { NodeName: string } }).Config.NodeName;
      const txn = async (body: unknown) => {
        const r = await fetch(`${t.httpAddr}/v1/txn`, { method: 'PUT', body: JSON.stringify(body) });
        const text = await r.text();
        if (r.status !== 200) throw new Error(`txn ${r.status}: ${text.slice(0, 200)}`);
      };
      // 1. txn of 64 KV sets.
      const value = Buffer.from('v'.repeat(64)).toString('base64');
      let started = performance.now();
      await pool(Array.from({ length: TXNS }, (_, i) => i), (i) => txn(Array.from({ length: 64 }, (_, j) => ({ KV: { Verb: 'set', Key: `bench/txn/${i}/${j}`, Value: value } }))));
      const txnPerSec = TXNS / ((performance.now() - started) / 1000);
      // 2. session create + acquire.
      started = performance.now();
      await pool(Array.from({ length: SESSIONS }, (_, i) => i), async (i) => {
        const r = await fetch(`${t.httpAddr}/v1/session/create`, { method: 'PUT', body: JSON.stringify({ Name: `bench-${i}`, LockDelay: '0s' }) });
        const { ID } = (await r.json()) as { ID: string };
        const a = await fetch(`${t.httpAddr}/v1/kv/bench/lock/${i}?acquire=${ID}`, { method: 'PUT', body: 'x' });
        if ((await a.text()).trim() !== 'true') throw new Error('acquire failed');
      });
      const sessPerSec = SESSIONS / ((performance.now() - started) / 1000);
      // 3. the catalog at INSTANCES, registered with txn service sets.
      started = performance.now();
      const services = Math.ceil(INSTANCES / PER);
      const batches: number[][] = [];
      for (let i = 0; i < INSTANCES; i += 64) batches.push(Array.from({ length: Math.min(64, INSTANCES - i) }, (_, j) => i + j));
      await pool(batches, (batch) =>
        txn(batch.map((n) => ({ Service: { Verb: 'set', Node: node, Service: { ID: `svc-${n % services}-${Math.floor(n / services)}`, Service: `svc-${n % services}`, Port: 1000 + (n % 50000), Tags: [n % 2 ? 'blue' : 'green'], Meta: { color: n % 10 === 0 ? 'red' : 'blue' } } } }))),
      );
      const loadSecs = (performance.now() - started) / 1000;
      const query = async (path: string) => {
        const s0 = performance.now();
        const r = await fetch(`${t.httpAddr}${path}`);
        const body = await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
        return { ms: performance.now() - s0, bytes: body.byteLength };
      };
      const f = (e: string) => `filter=${encodeURIComponent(e)}`;
      const scans: number[] = [];
      let scanBytes = 0;
      for (let i = 0; i < 5; i++) {
        const q = await query(`/v1/catalog/node-services/${node}?${f(`Meta.color == "red" and Port != ${i}`)}`);
        scans.push(q.ms);
        scanBytes = q.bytes;
      }
      const small: number[] = [];
      const healthSmall: number[] = [];
      for (let i = 0; i < FILTERED; i++) {
        small.push((await query(`/v1/catalog/service/svc-${i % services}?${f(`ServiceMeta.color == "red" or "blue" in ServiceTags`)}`)).ms);
        healthSmall.push((await query(`/v1/health/service/svc-${(i * 7) % services}?${f(`Service.Port != ${i} and Service.Meta.color matches "^b"`)}`)).ms);
      }
      const med = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
      rows.push([
        t.name,
        txnPerSec.toFixed(0),
        (txnPerSec * 64).toFixed(0),
        sessPerSec.toFixed(0),
        `${loadSecs.toFixed(0)} s (${(INSTANCES / loadSecs).toFixed(0)}/s)`,
        `${med(scans).toFixed(0)} ms (${(scanBytes / 2 ** 20).toFixed(1)} MiB)`,
        `${med(small).toFixed(1)} / ${percentile([...small].sort((a, b) => a - b), 99).toFixed(1)} ms`,
        `${med(healthSmall).toFixed(1)} / ${percentile([...healthSmall].sort((a, b) => a - b), 99).toFixed(1)} ms`,
        `${rssMiB(t.pid()).toFixed(0)} MiB`,
      ]);
    } finally {
      await t.stop();
    }
  }
  emit(
    `Embedded registry vs Consul 1.8.7: txn, sessions and ?filter= at ${INSTANCES.toLocaleString('en')} instances`,
    'npm run bench:registry -- --ops',
    [
      `Same workload on each, ${CONCURRENCY} requests in flight for the write rows. Load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (shared machine).`,
      '',
      '| registry | txn (64 KV sets)/s | KV sets/s via txn | session create + acquire/s | catalog load via txn service sets | `/catalog/node-services/:node?filter=` over every instance, median of 5 | `/catalog/service/:name?filter=` (15 instances), p50 / p99 | `/health/service/:name?filter=`, p50 / p99 | RSS at the end |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n'),
  );
}
