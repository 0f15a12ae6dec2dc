/**
 * `npm run soak [-- --minutes N]` (default 10; not in CI): starts Switchboard as a user would
 * (`node --import tsx server/index.ts`, no config file, a fresh data directory, the demo fleet)
 * and drives mixed normal and hostile traffic at it: malformed cookies and targets, oversized
 * and broken bodies, cross-site telemetry, telemetry with ever-new ids, gateway calls to made-up
 * services, sign-in guessing, junk WebSocket frames. Measures crashes, unanswered requests, RSS
 * against the end of warm-up, and the p99 of normal requests against warm-up; appends the
 * figures to BENCHMARKS.md.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { percentile, report } from './benchReport';
import { SERVER_ENV, SERVER_NODE_ARGS } from './support/serverRuntime';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, workers: { type: 'string', default: '6' }, 'no-report': { type: 'boolean', default: false }, 'node-arg': { type: 'string', multiple: true, default: [] }, 'server-log': { type: 'string' } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`--minutes: "${values.minutes}" is not a positive number`);
const durationMs = minutes * 60_000;
const warmupMs = Math.min(60_000, durationMs * 0.15);
const root = resolve(import.meta.dirname, '..');

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

const [port, httpPort, dnsPort] = [await freePort(), await freePort(), await freePort()];
const dataDir = mkdtempSync(join(tmpdir(), 'sb-soak-'));
const dev = !existsSync(join(root, '.next', 'BUILD_ID'));
const { SWITCHBOARD_CONFIG: _c, CONSUL_HTTP_ADDR: _a, ...inherited } = process.env;
const child = spawn(process.execPath, [...SERVER_NODE_ARGS, ...(values['node-arg'] ?? []), '--import', 'tsx', join(root, 'server', 'index.ts'), ...(dev ? ['--dev'] : [])], {
  cwd: root,
  // Memory settings as `npm start` has them (package.json).
  env: { ...SERVER_ENV, ...inherited, PORT: String(port), HOST: '127.0.0.1', SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_EMBEDDED_HTTP_PORT: String(httpPort), SWITCHBOARD_EMBEDDED_DNS_PORT: String(dnsPort), LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
child.stdout.on('data', (d) => (output = (output + d).slice(-200_000)));
// --server-log keeps everything the server printed (e.g. with --node-arg=--trace-gc), not only the tail.
const serverLog = values['server-log'] ? createWriteStream(values['server-log']) : null;
if (serverLog) child.stdout.pipe(serverLog);
child.stderr.on('data', (d) => (output = (output + d).slice(-200_000)));
let crashed: string | null = null;
child.on('exit', (code, signal) => (crashed = `exited with ${code ?? signal}`));
const base = `http://127.0.0.1:${port}`;
const stop = () => {
  if (child.exitCode === null) child.kill('SIGTERM');
};
process.on('exit', stop);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
for (;;) {
  if (crashed) throw new Error(`switchboard ${crashed}:\n${output}`);
  try {
    if ((await fetch(`${base}/healthz`)).ok) break;
  } catch {
    // not yet
  }
  if (Date.now() - started > 180_000) throw new Error(`switchboard did not start within 180 s:\n${output}`);
  await sleep(250);
}
const token = /admin token: (\S+)/.exec(output)?.[1];
if (!token) throw new Error(`no admin token printed:\n${output}`);
const admin = { authorization: `Bearer ${token}` };
let services: string[] = [];
for (;;) {
  const t = (await (await fetch(`${base}/api/topology?view=summary`, { headers: admin })).json()) as { services: { id: string; name: string }[] };
  services = t.services.map((s) => s.id);
  if (services.length >= 3) break;
  if (Date.now() - started > 240_000) throw new Error('the demo fleet did not appear');
  await sleep(1000);
}
const names = [...new Set(services.map((id) => id.split('/')[2]!))];
process.stdout.write(`soak: switchboard${dev ? ' (--dev: no production build)' : ''} up at ${base} with ${services.length} services; ${minutes} min, warm-up ${Math.round(warmupMs / 1000)} s\n`);

// ── Traffic ──────────────────────────────────────────────────────────────────────────────

interface Sample { at: number; ms: number }
const normalLatency: Sample[] = [];
const counts = { normal: 0, hostile: 0, unanswered: 0, serverErrors: 0, ws: 0 };
const unansweredExamples: string[] = [];
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const rid = () => Math.random().toString(36).slice(2, 10);
const servicePath = (id: string) => id.split('/').map(encodeURIComponent).join('/');

async function call(kind: 'normal' | 'hostile', path: string, init: RequestInit = {}): Promise<void> {
  const t0 = performance.now();
  try {
    const r = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    await r.arrayBuffer();
    if (r.status >= 500 && !(path.startsWith('/gw/') && (r.status === 502 || r.status === 503)) && path !== '/readyz') counts.serverErrors++;
    if (kind === 'normal') normalLatency.push({ at: Date.now(), ms: performance.now() - t0 });
  } catch (err) {
    counts.unanswered++;
    if (unansweredExamples.length < 5) unansweredExamples.push(`${init.method ?? 'GET'} ${path}: ${(err as Error).message}`);
  }
  counts[kind]++;
}

function raw(text: string): Promise<void> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    const timer = setTimeout(() => {
      counts.unanswered++;
      s.destroy();
      res();
    }, 10_000);
    s.once('data', () => {
      clearTimeout(timer);
      s.destroy();
      res();
    });
    s.on('error', () => {
      clearTimeout(timer);
      res();
    });
    counts.hostile++;
  });
}

function wsJunk(): Promise<void> {
  return new Promise((res) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/ws`, { headers: admin });
    const timer = setTimeout(() => {
      counts.unanswered++;
      ws.terminate();
      res();
    }, 10_000);
    const done = () => {
      clearTimeout(timer);
      ws.terminate();
      res();
    };
    ws.on('open', () => {
      for (let i = 0; i < 5; i++) ws.send(pick(['{', 'null', JSON.stringify({ type: 'watch', serviceId: rid() }), Buffer.from([0xff, 0x00]), JSON.stringify({ type: 'subscribe', sinceRev: -1 })]));
      ws.send(JSON.stringify({ type: 'subscribe' }));
    });
    ws.on('message', done);
    ws.on('close', done);
    ws.on('error', done);
    counts.ws++;
  });
}

const normal: (() => Promise<void>)[] = [
  () => call('normal', '/api/topology?view=summary', { headers: admin }),
  () => call('normal', `/api/services/${servicePath(pick(services))}`, { headers: admin }),
  () => call('normal', `/api/services/${servicePath(pick(services))}/traffic`, { headers: admin }),
  () => call('normal', `/api/services/${servicePath(pick(services))}/telemetry`, { headers: admin }),
  () => call('normal', '/api/session', { headers: admin }),
  () => call('normal', '/healthz'),
  () => call('normal', `/gw/${encodeURIComponent(pick(names))}/`, { headers: admin }),
];
const hostile: (() => Promise<void>)[] = [
  () => call('hostile', '/api/topology', { headers: { cookie: pick(['sb_session=%', 'sb_session=%E0%A4%A', `sb_session=${rid()}`]) } }),
  () => raw(`GET ${pick(['//[', '//%', '/api/\\x', '/gw/%E0%A4%A/'])} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
  () => call('hostile', '/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(200_000) }),
  () => call('hostile', '/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' }),
  () => call('hostile', '/api/telemetry', { method: 'POST', headers: { 'content-type': 'text/plain;application/json', origin: 'http://evil.example' }, body: '{}' }),
  () =>
    call('hostile', '/api/telemetry', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ clientId: rid(), caller: 'soak', service: `ghost-${rid()}`, instances: [{ id: rid(), breaker: 'open', requests: 1, errors: 1, latency: [] }] }),
    }),
  () => call('hostile', `/gw/${rid()}/x`),
  () => call('hostile', `/gw/${rid()}/x`, { headers: admin }),
  () => call('hostile', '/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: rid() }) }),
  () => call('hostile', `/api/services/${servicePath(pick(services))}/traffic`, { method: 'PUT', headers: { cookie: `sb_session=${rid()}`, origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{"weights":{"__proto__":100}}' }),
  () => wsJunk(),
];

function rssMb(): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const rss: { at: number; mb: number }[] = [];
/** The server's own view of its memory (prom-client default metrics), to tell live JS heap from what the allocators keep. */
const heap: { at: number; live: number; used: number; total: number; external: number }[] = [];
async function sampleHeap(at: number): Promise<void> {
  try {
    const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(4_000) })).text();
    const sum = (name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0) / 1048576;
    heap.push({ at, live: sum('switchboard_heap_live_bytes'), used: sum('switchboard_nodejs_heap_size_used_bytes'), total: sum('switchboard_nodejs_heap_size_total_bytes'), external: sum('switchboard_nodejs_external_memory_bytes') });
  } catch {
    // a missed sample is not a finding; unanswered normal requests are counted elsewhere
  }
}
const t0 = Date.now();
const sampler = setInterval(() => {
  const at = Date.now() - t0;
  rss.push({ at, mb: rssMb() });
  void sampleHeap(at);
}, 5_000);
let lastProgress = t0;
async function worker(): Promise<void> {
  while (Date.now() - t0 < durationMs && !crashed) {
    await (Math.random() < 0.6 ? pick(normal) : pick(hostile))();
    if (Date.now() - lastProgress > 30_000) {
      lastProgress = Date.now();
      process.stdout.write(`  ${Math.round((Date.now() - t0) / 1000)} s: ${counts.normal} normal, ${counts.hostile} hostile, ${counts.unanswered} unanswered, RSS ${rssMb().toFixed(0)} MB\n`);
    }
  }
}
await Promise.all(Array.from({ length: Number(values.workers) }, worker));
clearInterval(sampler);
const metricsText = crashed ? '' : await (await fetch(`${base}/metrics`)).text();
stop();

// ── Figures ──────────────────────────────────────────────────────────────────────────────

const warmEnd = t0 + warmupMs;
const tailStart = t0 + durationMs * 0.8;
const p99 = (xs: Sample[]) => percentile(xs.map((s) => s.ms).sort((a, b) => a - b), 99);
const warmP99 = p99(normalLatency.filter((s) => s.at <= warmEnd));
const tailP99 = p99(normalLatency.filter((s) => s.at >= tailStart));
const rssWarm = rss.filter((r) => r.at <= warmupMs).at(-1)?.mb ?? NaN;
const rssEnd = rss.at(-1)?.mb ?? NaN;
const rssMax = Math.max(...rss.map((r) => r.mb));
const heapWarm = heap.filter((h) => h.at <= warmupMs).at(-1);
const heapEnd = heap.at(-1);
const heapRow = (pick: (h: (typeof heap)[number]) => number) => (heapWarm && heapEnd ? `${pick(heapWarm).toFixed(0)} → ${pick(heapEnd).toFixed(0)} MB` : 'n/a');
const gauge = (name: string) => /^(\S+)(?:\{[^}]*\})? (\S+)$/m.exec(metricsText.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).join('\n'))?.[2] ?? 'n/a';
const body = `
| measure | value |
|---|---|
| duration | ${minutes} min (${Number(values.workers)} workers; warm-up ${Math.round(warmupMs / 1000)} s)${dev ? '; Next in --dev mode (no production build)' : ''} |
| crashes | ${crashed ? `1 (${crashed})` : 0} |
| requests | ${counts.normal} normal, ${counts.hostile} hostile, ${counts.ws} junk WebSockets |
| unanswered (timeout or reset) | ${counts.unanswered}${unansweredExamples.length ? ` — e.g. ${unansweredExamples.join('; ')}` : ''} |
| unexpected 5xx | ${counts.serverErrors} |
| RSS end of warm-up → end (max) | ${rssWarm.toFixed(0)} MB → ${rssEnd.toFixed(0)} MB (max ${rssMax.toFixed(0)} MB) |
| JS heap live after the last full GC, end of warm-up → end (max) | ${heapRow((h) => h.live)} (max ${Math.max(...heap.map((h) => h.live)).toFixed(0)} MB) |
| JS heap used / heap total / external, end of warm-up → end | ${heapRow((h) => h.used)} / ${heapRow((h) => h.total)} / ${heapRow((h) => h.external)} |
| normal requests p99, warm-up → last 20 % | ${warmP99.toFixed(1)} ms → ${tailP99.toFixed(1)} ms |
| bounded resources at the end | sessions ${gauge('switchboard_sessions')}, telemetry series ${gauge('switchboard_telemetry_series')}, telemetry clients ${gauge('switchboard_telemetry_clients')}, gateway clients ${gauge('switchboard_gateway_clients')}, gateway label sets ${gauge('switchboard_metric_label_sets')} |
`;
if (values['no-report']) process.stdout.write(body);
else report(`Soak: ${minutes} min of mixed hostile and normal traffic`, `npm run soak -- --minutes ${minutes}`, body);
process.exit(crashed || counts.unanswered > 0 ? 1 : 0);
