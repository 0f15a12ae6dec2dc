/**
 * `npm run bench:prometheus`: what one graph refresh (and one chart refresh, one breaker poll)
 * costs in PromQL against a real Prometheus (Debian's 2.42) holding one hour of the demo fleet
 * scraped every second.
 *
 * The hour is backfilled, not waited for: the demo's SDK metrics (sdk/promMetrics.ts) — order-1
 * and order-2 calling inventory ×2 and payment ×5, and the load generator calling order ×2 —
 * are simulated second by second (counters, the 29-bucket latency histogram, breaker and guard
 * gauges, with the target labels the http_sd job adds) into OpenMetrics text and turned into
 * TSDB blocks with `promtool tsdb create-blocks-from openmetrics`, 10 minutes per file. Then
 * Prometheus starts on those blocks and the Prometheus telemetry reader's own queries are timed
 * (with Prometheus' `stats=all` for the samples each one touches).
 *
 * Options: BENCH_MINUTES (default 60), BENCH_RUNS per query (default 40), BENCH_NO_REPORT=1.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LATENCY_BUCKETS_MS } from '../sdk/latencyHistogram';
import { PrometheusTelemetry } from '../server/telemetry/prometheusTelemetry';
import { queries, rateWindowMs, STEP_MS, CHART_POINTS } from '../server/telemetry/prometheusTelemetryQuery';
import { promtoolBinary, startPrometheus } from '../test/support/prometheus';
import { percentile, report } from './benchReport';
import { TargetsCache } from '../server/http/routes/prometheusRoutes';
import { TopologyStore } from '../server/topology/topologyStore';
import type { Instance, Service } from '../protocol/model';

const MINUTES = Number(process.env.BENCH_MINUTES ?? 60);
const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const CHUNK_S = 600;

interface Edge {
  caller: string;
  callerService: string;
  callee: string;
  instance: string;
  subset: string;
  rps: number;
  /** Median latency, ms. */
  medianMs: number;
  errorRate: number;
  // cumulative state
  ok: number;
  err: number;
  buckets: number[];
  sum: number;
}

function demoEdges(): Edge[] {
  const edges: Edge[] = [];
  const add = (caller: string, callerService: string, callee: string, instance: string, subset: string, rps: number, medianMs: number, errorRate = 0.002) =>
    edges.push({ caller, callerService, callee, instance, subset, rps, medianMs, errorRate, ok: 0, err: 0, buckets: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0), sum: 0 });
  for (const order of ['order-1', 'order-2']) {
    add('loadgen', 'loadgen', 'order', order, 'none', 10, 9);
    for (const inv of ['inventory-1', 'inventory-2']) add(order, 'order', 'inventory', inv, 'none', 5, 1.5);
    for (const n of [1, 2, 3]) add(order, 'order', 'payment', `payment-${n}`, 'blue', 2.7, 3);
    for (const n of [4, 5]) add(order, 'order', 'payment', `payment-${n}`, 'green', 0.9, 4, 0.01);
  }
  return edges;
}

/** Deterministic pseudo-random numbers, so every run backfills the same hour. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function targetLabels(e: Edge): string {
  return `job="switchboard-fleet",source="embedded",scope="dc1",service="${e.callerService}",health="passing",instance_id="${e.caller}"`;
}

/** Simulates [fromS, toS) and writes it as one OpenMetrics file. */
async function writeChunk(file: string, edges: Edge[], fromS: number, toS: number, rand: () => number): Promise<number> {
  const n = toS - fromS;
  // Per edge, per second: cumulative ok, err, buckets, sum after that second.
  const snaps = edges.map(() => [] as { ok: number; err: number; buckets: number[]; sum: number }[]);
  for (let i = 0; i < n; i++) {
    edges.forEach((e, k) => {
      const count = Math.max(0, Math.round(e.rps + (rand() - 0.5) * e.rps));
      for (let r = 0; r < count; r++) {
        // Log-normal around the median.
        const u = Math.max(1e-9, rand());
        const v = rand();
        const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
        const ms = e.medianMs * Math.exp(0.5 * z);
        let b = 0;
        while (b < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[b]!) b++;
        e.buckets[b]!++;
        e.sum += ms / 1000;
        if (rand() < e.errorRate) e.err++;
        else e.ok++;
      }
      snaps[k]!.push({ ok: e.ok, err: e.err, buckets: [...e.buckets], sum: e.sum });
    });
  }
  const out = createWriteStream(file);
  let lines = 0;
  const write = async (s: string) => {
    lines++;
    if (!out.write(s)) await new Promise<void>((ok) => out.once('drain', () => ok()));
  };
  const ts = (i: number) => (fromS + i).toFixed(3);
  await write('# TYPE switchboard_client_requests counter\n');
  for (const [k, e] of edges.entries()) {
    for (const status of ['2xx', '5xx'] as const) {
      const l = `switchboard_client_requests_total{${targetLabels(e)},caller="${e.caller}",callee="${e.callee}",subset="${e.subset}",instance="${e.instance}",status="${status}"}`;
      for (let i = 0; i < n; i++) await write(`${l} ${status === '2xx' ? snaps[k]![i]!.ok : snaps[k]![i]!.err} ${ts(i)}\n`);
    }
  }
  await write('# TYPE switchboard_client_request_duration_seconds histogram\n');
  for (const [k, e] of edges.entries()) {
    const l = `${targetLabels(e)},caller="${e.caller}",callee="${e.callee}",subset="${e.subset}",instance="${e.instance}"`;
    for (let i = 0; i < n; i++) {
      const s = snaps[k]![i]!;
      let cum = 0;
      for (let b = 0; b < s.buckets.length; b++) {
        cum += s.buckets[b]!;
        const le = b < LATENCY_BUCKETS_MS.length ? String(LATENCY_BUCKETS_MS[b]! / 1000) : '+Inf';
        await write(`switchboard_client_request_duration_seconds_bucket{${l},le="${le}"} ${cum} ${ts(i)}\n`);
      }
      await write(`switchboard_client_request_duration_seconds_count{${l}} ${cum} ${ts(i)}\n`);
      await write(`switchboard_client_request_duration_seconds_sum{${l}} ${s.sum.toFixed(6)} ${ts(i)}\n`);
    }
  }
  await write('# TYPE switchboard_client_breaker_state gauge\n');
  for (const e of edges) {
    const l = `switchboard_client_breaker_state{${targetLabels(e)},caller="${e.caller}",callee="${e.callee}",instance="${e.instance}"}`;
    for (let i = 0; i < n; i++) await write(`${l} 0 ${ts(i)}\n`);
  }
  await write('# TYPE switchboard_client_guard_holds gauge\n');
  const pairs = new Map(edges.map((e) => [`${e.caller}/${e.callee}`, e]));
  for (const e of pairs.values()) {
    const l = `switchboard_client_guard_holds{${targetLabels(e)},caller="${e.caller}",callee="${e.callee}"}`;
    for (let i = 0; i < n; i++) await write(`${l} 0 ${ts(i)}\n`);
  }
  await write('# EOF\n');
  await new Promise<void>((ok, fail) => out.end((err?: Error | null) => (err ? fail(err) : ok())));
  return lines;
}

function dirBytes(dir: string): number {
  const out = execFileSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(out.split(/\s+/)[0]);
}

async function timeRuns(runs: number, fn: () => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b);
}

async function promStats(url: string, path: string, form: Record<string, string>): Promise<{ samples: number; peak: number; bytes: number }> {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form, stats: 'all' }).toString() });
  const text = await r.text();
  const body = JSON.parse(text) as { data: { stats?: { samples?: { totalQueryableSamples?: number; peakSamples?: number } } } };
  // The stats block itself is not part of what the reader receives.
  const plain = await (await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() })).text();
  return { samples: body.data.stats?.samples?.totalQueryableSamples ?? NaN, peak: body.data.stats?.samples?.peakSamples ?? NaN, bytes: plain.length };
}

/** GET /api/prometheus/targets' encoding at fleet scale: first answer, and after one check flip. */
async function httpSdAtScale(): Promise<string> {
  const store = new TopologyStore();
  const sources = [['consul', 'consul', 1000], ['k8s', 'kubernetes', 1500], ['dns', 'dns', 500]] as const;
  for (const [id, kind] of sources) store.addSource({ id, kind, name: id, address: null });
  const inst = (id: string, i: number, s: number): Instance => ({ id, address: `10.${s % 250}.${i}.${s % 200}`, port: 8000 + i, tags: [i % 2 ? 'blue' : 'green'], meta: {}, node: null, health: 'passing', checks: [] });
  for (const [sourceId, , count] of sources) {
    const services: Service[] = Array.from({ length: count }, (_, s) => ({ id: `${sourceId}/a/svc-${s}`, sourceId, scope: 'a', name: `svc-${s}`, tags: [], traffic: null, instances: Array.from({ length: 50 }, (_, i) => inst(`n${i}/svc-${s}-${i}`, i, s)) }));
    store.apply(sourceId, { type: 'scope.synced', scope: 'a', services });
  }
  const cache = new TargetsCache(store);
  // Event-loop stalls while the first answer is built (it yields every 2,000 instances).
  let worstGap = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const t = performance.now();
    worstGap = Math.max(worstGap, t - last);
    last = t;
  }, 1);
  const t0 = performance.now();
  const first = await cache.encoded();
  const firstMs = performance.now() - t0;
  clearInterval(probe);
  const flips: number[] = [];
  for (let k = 0; k < 20; k++) {
    const svc = store.service(`k8s/a/svc-${k}`)!;
    store.apply('k8s', { type: 'service.changed', service: { ...svc, instances: svc.instances.map((i, n) => (n === 0 ? { ...i, health: 'critical' as const } : i)) } });
    const t = performance.now();
    await cache.encoded();
    flips.push(performance.now() - t);
  }
  flips.sort((a, b) => a - b);
  return `
**GET /api/prometheus/targets at 150,000 instances** (3,000 services × 50 over a Consul, a Kubernetes and a DNS
source, in process): the answer is ${(first.bytes / 2 ** 20).toFixed(1)} MiB; the first encoding takes ${Math.round(firstMs)} ms and
yields every 2,000 instances (longest event-loop stall ${Math.round(worstGap)} ms); after one instance's check flips, the next
answer re-encodes that one service: p50 ${percentile(flips, 50).toFixed(1)} ms, max ${percentile(flips, 100).toFixed(1)} ms over 20 flips.
Answers between changes are served from the kept buffers.`;
}

async function main(): Promise<void> {
  const sd = await httpSdAtScale();
  console.log(sd);
  const work = mkdtempSync(join(tmpdir(), 'sb-bench-prom-'));
  const storage = join(work, 'data');
  const promtool = promtoolBinary();
  const edges = demoEdges();
  const rand = rng(42);
  const endS = Math.floor(Date.now() / 1000) - 60;
  const startS = endS - MINUTES * 60;
  console.log(`backfilling ${MINUTES} min of ${edges.length} edges at 1 s into ${storage}`);
  const genStarted = performance.now();
  let lines = 0;
  let importMs = 0;
  let fileBytes = 0;
  for (let from = startS; from < endS; from += CHUNK_S) {
    const file = join(work, `chunk-${from}.om`);
    lines += await writeChunk(file, edges, from, Math.min(endS, from + CHUNK_S), rand);
    fileBytes += statSync(file).size;
    const t = performance.now();
    execFileSync(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', file, storage], { stdio: ['ignore', 'ignore', 'inherit'] });
    importMs += performance.now() - t;
    rmSync(file);
    process.stdout.write('.');
  }
  const genMs = performance.now() - genStarted - importMs;
  console.log(`\n${lines.toLocaleString()} OpenMetrics lines (${(fileBytes / 2 ** 20).toFixed(0)} MiB), generated in ${(genMs / 1000).toFixed(1)} s, imported in ${(importMs / 1000).toFixed(1)} s`);

  const prom = await startPrometheus({ storageDir: storage, retention: '30d', startTimeoutMs: 120_000 });
  try {
    const reader = new PrometheusTelemetry({ url: prom.url, scrapeIntervalSeconds: 1, timeoutMs: 60_000 });
    const now = endS * 1000;
    const series = Number((await prom.query('count({__name__=~"switchboard_client_.*"})', now))[0]?.value[1] ?? NaN);
    const tsdbBytes = dirBytes(storage);
    console.log(`Prometheus up at ${prom.url}: ${series} series at the end of the hour, TSDB ${(tsdbBytes / 2 ** 20).toFixed(1)} MiB`);
    // Sanity: the reader sees the demo's edges.
    const sample = await reader.edges(60_000, now);
    if (sample.length !== edges.length) throw new Error(`expected ${edges.length} edges from PromQL, got ${sample.length}`);
    const payment = ['payment-1', 'payment-2', 'payment-3', 'payment-4', 'payment-5'];
    const chart = await reader.series('payment', payment, now);
    if (chart.service.length < Math.min(CHART_POINTS, MINUTES * 12) - 2) throw new Error(`expected ~${CHART_POINTS} chart points, got ${chart.service.length}`);

    const rows: string[] = [];
    const row = async (what: string, requests: number, run: () => Promise<unknown>, statsOf: { path: string; form: Record<string, string> }[]) => {
      await run(); // warm
      const before = reader.stats.bytes;
      const ms = await timeRuns(RUNS, run);
      const bytes = (reader.stats.bytes - before) / RUNS;
      let samples = 0;
      let peak = 0;
      for (const s of statsOf) {
        const st = await promStats(prom.url, s.path, s.form);
        samples += st.samples;
        peak = Math.max(peak, st.peak);
      }
      rows.push(`| ${what} | ${requests} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 95).toFixed(1)} | ${percentile(ms, 100).toFixed(1)} | ${samples.toLocaleString('en-US')} | ${(bytes / 1024).toFixed(1)} |`);
      console.log(rows.at(-1));
    };
    const instant = (q: string) => ({ path: '/api/v1/query', form: { query: q, time: String(endS) } });
    const range = (q: string) => ({ path: '/api/v1/query_range', form: { query: q, start: String(endS - (endS % 5) - ((CHART_POINTS - 1) * STEP_MS) / 1000), end: String(endS - (endS % 5)), step: '5s' } });
    // What the service graph runs per window refresh (PrometheusGraphEdges → graphSamples).
    for (const [label, windowMs] of [['1m', 60_000], ['5m', 300_000], ['15m', 900_000]] as const) {
      const w = rateWindowMs(windowMs, 1);
      await row(`graph refresh, window ${label} (edge counts + latency histogram + last 10 s)`, 3, () => reader.graphSamples(windowMs, now), [
        instant(queries.edgeCounts(w)),
        instant(queries.edgeHistogram(w)),
        instant(queries.edgeCounts(rateWindowMs(10_000, 1))),
      ]);
    }
    await row('edge list, window 1m (reader.edges: counts + p99)', 2, () => reader.edges(60_000, now), [instant(queries.edgeCounts(60_000)), instant(queries.edgeP99(60_000))]);
    const cw = rateWindowMs(STEP_MS, 1);
    await row('chart refresh, payment (5 instances, 15 min at 5 s)', 2, () => reader.series('payment', payment, now), [range(queries.serviceRates('payment', cw)), range(queries.serviceHistogram('payment', cw))]);
    // For comparison: the same p50/p99 computed by Prometheus (four histogram_quantile expressions, each re-reading the buckets).
    const sel = `switchboard_client_request_duration_seconds_bucket{callee="payment"}[${cw / 1000}s]`;
    const quantilesInProm = ['le', 'le', 'instance, le', 'instance, le']
      .map((by, i) => `label_replace(histogram_quantile(${i % 2 ? 0.99 : 0.5}, sum by (${by}) (rate(${sel}))), "q", "${i % 2 ? 'p99' : 'p50'}", "", "")`)
      .join(' or ');
    const rawRange = async (q: string) => {
      const r = range(q);
      const text = await (await fetch(`${prom.url}${r.path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(r.form).toString() })).text();
      reader.stats.bytes += text.length;
    };
    await row('(alternative, not used) chart quantiles by histogram_quantile in PromQL', 1, () => rawRange(quantilesInProm), [range(quantilesInProm)]);
    await row('breaker poll (every service)', 1, () => reader.breakerViews('payment').then(() => undefined), [instant(queries.breakers())]);
    await row('canary window totals, 30 s (payment green)', 2, () => reader.totals('payment', ['payment-4', 'payment-5'], now - 30_000, now), [
      instant(queries.totalsCounts('payment', ['payment-4', 'payment-5'], 30_000)),
      instant(queries.totalsP99('payment', ['payment-4', 'payment-5'], 30_000)),
    ]);

    const body = `
Prometheus 2.42 (Debian) holding ${MINUTES} min of the demo fleet at 1 s scrape, backfilled with \`promtool tsdb
create-blocks-from openmetrics\` (${lines.toLocaleString('en-US')} samples — ${series} series: ${edges.length} caller → callee
instance edges × (2 status counters + 29-bucket histogram + sum + count + breaker gauge) + guard gauges — import
${(importMs / 1000).toFixed(0)} s, TSDB ${(tsdbBytes / 2 ** 20).toFixed(1)} MiB). Each row: the Prometheus telemetry reader's
own call, ${RUNS} runs after one warm-up, from this process over loopback (HTTP + Prometheus + parsing), Prometheus on
the same 2 shared cores. "Samples" is Prometheus' \`stats=all\` totalQueryableSamples summed over the row's queries;
"KiB" the answers' size.

| refresh | PromQL requests | p50 ms | p95 ms | max ms | samples touched | KiB |
|---|---|---|---|---|---|---|
${rows.join('\n')}

A graph refresh (what the service graph runs for a window it shows, at most every 2 s) is three instant queries
whatever the window: counts and the latency histogram per edge over the window, and counts over the last 10 s for
the live fault view; their cost grows with the window (samples read ≈ series × window at 1 s) — the 15-minute window
reads ~15× the 1-minute one. A chart is two range queries over
15 minutes at 5 s: request rates by instance and status, and the latency histogram by instance and bucket, from
which p50/p99 of each instance and of the service are computed in Switchboard (the same interpolation as
histogram_quantile and the built-in store) — the alternative row shows Prometheus computing them instead, reading the
buckets four times: the chart reads a quarter of the samples, and its two queries together take less time than the
alternative's one (on busier runs of this shared machine the two were level). Breaker badges cost one small instant query per poll (500 ms by default) per replica.
Generation of the OpenMetrics text is not part of any figure.
${sd}`;
    if (process.env.BENCH_NO_REPORT) console.log(body);
    else report('Prometheus telemetry store: PromQL cost per refresh', 'npm run bench:prometheus', body);
  } finally {
    await prom.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
