/**
 * `npm run bench:scale [-- --services 10000 --instances 15 --nodes 500 --churn 200]`: the scale
 * goals measured from outside, as a user sees them, in one run.
 *
 * A real Consul 1.8.7 dev agent is loaded with a synthetic fleet (bench/support/consulFleet.ts,
 * straight into the catalog through /v1/txn); Switchboard runs in its own process the way
 * `npm start` runs it (production Next build, SWITCHBOARD_CONFIG naming that Consul, anonymous
 * viewer on loopback); a WebSocket client and a real Chromium on a service page watch check
 * flips arrive. Server CPU and memory come from /proc/<pid>, its Consul connections and the
 * bytes they carry from `ss`, its Consul request count from its own /metrics.
 *
 * Phases: start → source ok; settle; the list in a cold browser; `--idle` seconds with nothing
 * changing; `--flips` check flips 300–700 ms apart (WS and browser latency, CPU, requests and
 * bytes per flip); more flips, 20/s, until `--rss-flips` flips in all (RSS after them); with
 * `--churn R`, R random flips/s in the background while `--churn-flips` more flips are measured.
 *
 * Consul's own raft snapshots land in that window: a dev agent snapshots every 8,192 writes
 * (~40 s at 200 flips/s) and on this 10,000 × 15 catalog takes 1.4–1.9 of the machine's 2
 * cores for ~14 s doing it, with nobody reading it (measured with Switchboard stopped; with
 * `--consul-hcl 'raft_snapshot_threshold = 1000000'` the same churn costs it a steady 0.2
 * cores). A production agent's servers do that on their own machines; here it starves
 * everything else on the box, so the churn rows are given for both agents.
 * Every child (Consul, Switchboard, Chromium) is stopped on exit, errors and signals.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { freePorts, startConsulAgent, type ConsulAgent } from '../test/support/consulAgent';
import { percentile, report } from './benchReport';
import { loadConsulFleet, type CheckStatus } from './support/consulFleet';
import {
  cpuSeconds, ensureProductionBuild, launchBrowser, loadList, memory, openServicePage, startSwitchboardProcess, tcpConnections, tcpConnectionsAsync,
  type ServicePageProbe, type SwitchboardProcess,
} from './support/browserProbe';
import type { Browser } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    instances: { type: 'string', default: '5' },
    nodes: { type: 'string' },
    churn: { type: 'string', default: '0' },
    flips: { type: 'string', default: '200' },
    'rss-flips': { type: 'string', default: '1000' },
    'churn-flips': { type: 'string', default: '60' },
    idle: { type: 'string', default: '60' },
    'no-report': { type: 'boolean', default: false },
    /** Extra `-hcl` for the Consul agent, e.g. 'raft_snapshot_threshold = 1000000' (named in the report). */
    'consul-hcl': { type: 'string', multiple: true, default: [] },
  },
});
const SERVICES = Number(opt.services);
const INSTANCES = Number(opt.instances);
const NODES = Number(opt.nodes ?? Math.min(500, Math.max(1, Math.round(SERVICES / 20))));
const CHURN = Number(opt.churn);
const FLIPS = Number(opt.flips);
const RSS_FLIPS = Math.max(FLIPS, Number(opt['rss-flips']));
const CHURN_FLIPS = Number(opt['churn-flips']);
const IDLE_S = Number(opt.idle);
const CONSUL_HCL = opt['consul-hcl'] as string[];
const ROOT = resolve(import.meta.dirname, '..');
const SOURCE = 'bench';
const HEADLINE = SERVICES === 10_000 && INSTANCES === 15 && NODES === 500;
const SMALL = SERVICES === 1000 && INSTANCES === 5;

const log = (msg: string) => process.stderr.write(`[bench:scale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const ms = (x: number) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms` : '—');
const svcId = (s: number) => `${SOURCE}/dc1/svc-${s}`;
const rand = (lo: number, hi: number) => lo + Math.random() * (hi - lo);

// ---- children, stopped whatever happens ----
let agent: ConsulAgent | null = null;
let server: SwitchboardProcess | null = null;
let browser: Browser | null = null;
let cleaning: Promise<void> | null = null;
const cleanup = () =>
  (cleaning ??= (async () => {
    await browser?.close().catch(() => {});
    await server?.stop().catch(() => {});
    await agent?.stop().catch(() => {});
  })());
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));

// ---- a WebSocket client watching some services' detail ----
interface Waiter { instanceId: string; health: string; resolve: (t: number) => void }
interface CountWaiter { serviceId: string; critical: number; resolve: (t: number) => void }
class DetailWatcher {
  private readonly waiters: Waiter[] = [];
  private readonly countWaiters: CountWaiter[] = [];
  private snapshot = false;
  private readonly ws: WebSocket;
  bytes = 0;
  constructor(port: number, private readonly watch: string[]) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws`);
    this.ws.on('message', (data: Buffer) => {
      const t = Date.now();
      this.bytes += data.length;
      const msg = JSON.parse(data.toString()) as { type: string; ops?: { op: string; instance?: { id: string; health: string }; service?: { id: string; counts?: { critical: number } } }[] };
      if (msg.type === 'snapshot') this.snapshot = true;
      if (msg.type === 'delta') {
        for (const op of msg.ops ?? []) {
          if (op.op !== 'summary.put' || !op.service?.counts) continue;
          for (let k = this.countWaiters.length - 1; k >= 0; k--) {
            const w = this.countWaiters[k]!;
            if (w.serviceId === op.service.id && w.critical === op.service.counts.critical) this.countWaiters.splice(k, 1)[0]!.resolve(t);
          }
        }
      }
      if (msg.type !== 'service.delta') return;
      for (const op of msg.ops ?? []) {
        if (op.op !== 'instance.put' || !op.instance) continue;
        for (let k = this.waiters.length - 1; k >= 0; k--) {
          const w = this.waiters[k]!;
          if (w.instanceId === op.instance.id && w.health === op.instance.health) this.waiters.splice(k, 1)[0]!.resolve(t);
        }
      }
    });
  }
  async ready(): Promise<void> {
    await new Promise((ok, fail) => (this.ws.once('open', ok), this.ws.once('error', fail)));
    this.ws.send(JSON.stringify({ type: 'subscribe' }));
    for (const serviceId of this.watch) this.ws.send(JSON.stringify({ type: 'watch', serviceId }));
    const deadline = Date.now() + 120_000;
    while (!this.snapshot) {
      if (Date.now() > deadline) throw new Error('no snapshot on the WebSocket within 120 s');
      await sleep(20);
    }
  }
  /** Resolves with Date.now() when the instance arrives with `health`, or null after `timeoutMs`. */
  waitFor(instanceId: string, health: string, timeoutMs = 20_000): Promise<number | null> {
    return waitIn(this.waiters, (resolve) => ({ instanceId, health, resolve }), timeoutMs);
  }
  /** Resolves with Date.now() when the list's row of `serviceId` arrives with `critical` critical instances, or null after `timeoutMs`. */
  waitForCount(serviceId: string, critical: number, timeoutMs = 20_000): Promise<number | null> {
    return waitIn(this.countWaiters, (resolve) => ({ serviceId, critical, resolve }), timeoutMs);
  }
  close(): void {
    this.ws.close();
  }
}

/** Adds a waiter to `list` (the message handler resolves and removes it); after `timeoutMs` it is removed and resolves null. */
function waitIn<W extends { resolve: (t: number) => void }>(list: W[], make: (resolve: (t: number) => void) => W, timeoutMs: number): Promise<number | null> {
  return new Promise((ok) => {
    const w = make((t) => (clearTimeout(timer), ok(t)));
    const timer = setTimeout(() => {
      const k = list.indexOf(w);
      if (k >= 0) list.splice(k, 1);
      ok(null);
    }, timeoutMs);
    list.push(w);
  });
}

// ---- /metrics ----
async function consulRequestsByEndpoint(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const by = new Map<string, number>();
  for (const m of text.matchAll(/^switchboard_watch_request_duration_seconds_count\{([^}]*)\} (\d+(?:\.\d+)?)/gm)) {
    const endpoint = /endpoint="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
    by.set(endpoint, (by.get(endpoint) ?? 0) + Number(m[2]));
  }
  return by;
}
const perEndpoint = (a: Map<string, number>, b: Map<string, number>) =>
  [...b].map(([e, n]) => [e, n - (a.get(e) ?? 0)] as const).filter(([, n]) => n > 0).map(([e, n]) => `${e}: ${n}`).join(', ');

/**
 * Bytes the server receives on its Consul connections while running: `ss` sampled every 250 ms,
 * per connection the growth of bytes_received between its first and last sample (a connection
 * first seen mid-window counts from 0). A connection that opens and closes between two samples
 * is missed; one that closes loses at most its last 250 ms.
 */
function consulBytesSampler(pid: number, consulPort: number): { stop(): Promise<{ bytes: number; connections: number }> } {
  const first = tcpConnections(pid, consulPort);
  const last = new Map(first);
  let running = true;
  // Asynchronous `ss`, so sampling never holds up the WebSocket timestamps of this process.
  const loop = (async () => {
    while (running) {
      for (const [port, rx] of await tcpConnectionsAsync(pid, consulPort)) last.set(port, rx);
      await sleep(250);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      for (const [port, rx] of tcpConnections(pid, consulPort)) last.set(port, rx);
      let bytes = 0;
      for (const [port, rx] of last) bytes += rx - (first.get(port) ?? 0);
      return { bytes, connections: last.size };
    },
  };
}

const stats = (xs: (number | null)[]) => {
  const ok = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return { n: xs.length, lost: xs.length - ok.length, p50: percentile(ok, 50), p99: percentile(ok, 99), max: ok.at(-1) ?? NaN };
};
const latency = (s: ReturnType<typeof stats>) =>
  s.n === 0 ? '—' : `p50 ${ms(s.p50)}, p99 ${ms(s.p99)} (max ${ms(s.max)}, n=${s.n}${s.lost ? `, **${s.lost} not within 20 s**` : ''})`;

try {
  // ---- Consul + fleet ----
  log(`Consul 1.8.7 dev agent; loading ${SERVICES} × ${INSTANCES} on ${NODES} nodes`);
  agent = await startConsulAgent({ datacenter: 'dc1', hcl: CONSUL_HCL });
  const consulPort = agent.ports.http;
  const fleet = await loadConsulFleet(agent.httpAddr, { services: SERVICES, instances: INSTANCES, nodes: NODES });
  log(`fleet loaded in ${(fleet.loadMs / 1000).toFixed(1)} s`);
  // Right after 150,000 writes the agent spends a while at a core or more (raft snapshot and
  // compaction): a registry a user points Switchboard at has not just been bulk-loaded. Wait
  // for it to settle (under 0.25 cores over two 1 s windows in a row, at most 60 s).
  const settleStarted = performance.now();
  for (let quiet = 0; quiet < 2 && performance.now() - settleStarted < 60_000; ) {
    const c0 = cpuSeconds(agent.pid()!);
    await sleep(1000);
    quiet = cpuSeconds(agent.pid()!) - c0 < 0.25 ? quiet + 1 : 0;
  }
  const settleMs = performance.now() - settleStarted;
  log(`agent settled ${(settleMs / 1000).toFixed(1)} s after the load`);

  ensureProductionBuild(ROOT);

  // ---- Switchboard, as a user starts it ----
  const [port] = (await freePorts(1)) as [number];
  server = await startSwitchboardProcess(ROOT, { port, sources: [{ kind: 'consul', name: SOURCE, address: agent.httpAddr }] });
  const pid = server.pid;
  let startMs = NaN;
  for (const deadline = Date.now() + 300_000; ;) {
    try {
      const r = await fetch(`${server.baseUrl}/api/sources`);
      if (r.ok) {
        const { sources } = (await r.json()) as { sources: { id: string; state: string }[] };
        if (sources.find((s) => s.id === SOURCE)?.state === 'ok') {
          startMs = performance.now() - server.spawnedAt;
          break;
        }
      }
    } catch {
      // not listening yet
    }
    if (server.exited()) throw new Error(`switchboard ${server.exited()} during start`);
    if (Date.now() > deadline) throw new Error('source not ok within 300 s');
    await sleep(25);
  }
  log(`source ok ${(startMs / 1000).toFixed(2)} s after spawn`);
  // A large datacenter is listed from Consul's summary first; its instances are read after
  // (the source's detail says so meanwhile). Measured apart: when the last instance is in.
  let loadedMs = startMs;
  for (const deadline = Date.now() + 300_000; ;) {
    const { sources } = (await (await fetch(`${server.baseUrl}/api/sources`)).json()) as { sources: { id: string; state: string; detail?: string | null }[] };
    const s = sources.find((x) => x.id === SOURCE);
    if (s?.state === 'ok' && !s.detail) {
      loadedMs = performance.now() - server.spawnedAt;
      break;
    }
    if (Date.now() > deadline) throw new Error('instances not all read within 300 s');
    await sleep(50);
  }
  log(`every instance read ${(loadedMs / 1000).toFixed(2)} s after spawn`);
  await sleep(3000);
  const rssSync = memory(pid).rss;
  const connsSync = tcpConnections(pid, consulPort).size;

  // ---- the list, cold, in a browser ----
  browser = await launchBrowser();
  const listTarget = SERVICES > 9993 ? 9993 : SERVICES - 7;
  const listUrl = `${server.baseUrl}/?q=svc-${listTarget}`;
  const listRow = `[data-testid="service-row"][data-service-id="${svcId(listTarget)}"]`;
  // The first page load after a start also pays for Next loading the route: reported apart.
  const firstList = await loadList(browser, listUrl, listRow);
  const list = await loadList(browser, listUrl, listRow);
  log(`list: ${(list.bytes / 2 ** 20).toFixed(2)} MiB in ${list.ms.toFixed(0)} ms (first load after start: ${firstList.ms.toFixed(0)} ms)`);

  // ---- idle ----
  log(`${IDLE_S} s idle`);
  // Idle right after the sync, before any flip: afterwards the adapter may still be catching up.
  const idleConns = tcpConnections(pid, consulPort).size;
  const iq0 = await consulRequestsByEndpoint(port);
  const ic0 = cpuSeconds(pid);
  await sleep(IDLE_S * 1000);
  const idleCores = (cpuSeconds(pid) - ic0) / IDLE_S;
  // What the sync leaves once V8 has given back the heap it grew for it (its memory reducer
  // runs some 10–30 s after the allocation stops): measured after the idle minute.
  const rssSettled = memory(pid).rss;
  const iq1 = await consulRequestsByEndpoint(port);
  const idleRps = ([...iq1.values()].reduce((a, b) => a + b, 0) - [...iq0.values()].reduce((a, b) => a + b, 0)) / IDLE_S;
  const idleWhich = perEndpoint(iq0, iq1);

  // ---- probes on a few services ----
  const probeServices = [...new Set([123 % SERVICES, Math.floor(SERVICES / 3) + 7, Math.floor((2 * SERVICES) / 3) + 11, SERVICES - 1].map((s) => s % SERVICES))];
  const pageService = probeServices[0]!;
  // Services nobody has open (no page, not watched): their flips reach clients only through the
  // list's summary. Like the probes, no other flip touches them, so their critical count is known.
  const unopened = [...new Set([500, Math.floor(SERVICES / 4) + 3, Math.floor(SERVICES / 2) + 5, SERVICES - 3].map((x) => x % SERVICES))].filter((x) => !probeServices.includes(x));
  const reserved = new Set([...probeServices, ...unopened]);
  const freeService = (s: number) => {
    while (reserved.has(s)) s = (s + 1) % SERVICES;
    return s;
  };
  const watcher = new DetailWatcher(port, probeServices.map(svcId));
  await watcher.ready();
  const page: ServicePageProbe = await openServicePage(browser, server.baseUrl, svcId(pageService));
  // The page renders only the rows in view (a virtualized list whose cards change height with
  // their checks' output): flips on the page's service pick among the rows rendered right now.
  const onPageInstances = async () => Object.keys(await page.rows()).map((id) => Number(/-(\d+)$/.exec(id)![1]));
  if ((await onPageInstances()).length === 0) throw new Error('service page shows no instance rows');

  const health = new Map<string, CheckStatus>();
  /** One measured flip on a probe service: WS latency always, browser latency if it is the page's service. */
  async function measuredFlip(k: number): Promise<{ ws: number | null; browser: number | null; onPage: boolean }> {
    const s = k % 2 === 0 ? pageService : probeServices[1 + Math.floor(Math.random() * (probeServices.length - 1))] ?? pageService;
    const rendered = s === pageService ? await onPageInstances() : [];
    const i = rendered.length > 0 ? rendered[Math.floor(Math.random() * rendered.length)]! : Math.floor(Math.random() * INSTANCES);
    const ref = fleet.instance(s, i);
    const instanceId = `${ref.node}/${ref.serviceId}`;
    const next: CheckStatus = health.get(instanceId) === 'critical' ? 'passing' : 'critical';
    health.set(instanceId, next);
    const onWs = watcher.waitFor(instanceId, next);
    const tStart = Date.now();
    await fleet.flipCheck(ref.node, ref.checkId, next, next === 'critical' ? 'connection refused' : 'ok');
    const t0 = Date.now();
    const onPage = s === pageService;
    const [wsAt, pageAt] = await Promise.all([onWs, onPage ? page.waitForHealth(instanceId, next, tStart) : Promise.resolve(null)]);
    const r = { ws: wsAt === null ? null : wsAt - t0, browser: pageAt === null ? null : pageAt - t0, onPage };
    // Slow ones are logged with the time, so that stalls can be matched with the server's log.
    if (r.ws === null || r.ws > 1000 || (onPage && (r.browser === null || r.browser > 1000))) log(`  slow flip ${instanceId} → ${next}: ws ${r.ws ?? 'lost'} ms, browser ${onPage ? (r.browser ?? 'lost') : '-'} ms`);
    return r;
  }
  /** One measured flip on a service nobody has open: until its list row (WS summary) shows the new critical count. */
  async function unopenedFlip(): Promise<number | null> {
    const s = unopened[Math.floor(Math.random() * unopened.length)]!;
    const ref = fleet.instance(s, Math.floor(Math.random() * INSTANCES));
    const instanceId = `${ref.node}/${ref.serviceId}`;
    const next: CheckStatus = health.get(instanceId) === 'critical' ? 'passing' : 'critical';
    health.set(instanceId, next);
    let critical = 0;
    for (let i = 0; i < INSTANCES; i++) {
      const r = fleet.instance(s, i);
      if (health.get(`${r.node}/${r.serviceId}`) === 'critical') critical += 1;
    }
    const onWs = watcher.waitForCount(svcId(s), critical);
    await fleet.flipCheck(ref.node, ref.checkId, next, next === 'critical' ? 'connection refused' : 'ok');
    const t0 = Date.now();
    const at = await onWs;
    if (at === null || at - t0 > 1000) log(`  slow unopened flip ${instanceId} → ${next}: ${at === null ? 'lost' : `${at - t0} ms`}`);
    return at === null ? null : at - t0;
  }
  async function measuredFlips(n: number): Promise<{ ws: (number | null)[]; browser: (number | null)[]; unopened: (number | null)[] }> {
    const ws: (number | null)[] = [];
    const br: (number | null)[] = [];
    const un: (number | null)[] = [];
    for (let k = 0; k < n; k++) {
      const due = Date.now() + rand(300, 700);
      const r = await measuredFlip(k);
      ws.push(r.ws);
      if (r.onPage) br.push(r.browser);
      // After every other one, a flip on a service nobody has open.
      if (k % 2 === 1) {
        await sleep(Math.max(0, due - Date.now()));
        un.push(await unopenedFlip());
        await sleep(rand(300, 700));
        continue;
      }
      if ((k + 1) % 50 === 0) log(`  ${k + 1}/${n} flips`);
      await sleep(Math.max(0, due - Date.now()));
    }
    return { ws, browser: br, unopened: un };
  }

  // ---- baseline: the page and the watcher connected, nothing changing ----
  // What the process burns anyway (heartbeats, timers, GC settling) is not a flip's cost: it is
  // measured here, right before the flips, and taken out of their CPU.
  const BASELINE_S = 10;
  const base0 = cpuSeconds(pid);
  await sleep(BASELINE_S * 1000);
  const baselineCores = (cpuSeconds(pid) - base0) / BASELINE_S;

  // ---- flips 300–700 ms apart ----
  log(`${FLIPS} check flips, 300–700 ms apart`);
  const rq0e = await consulRequestsByEndpoint(port);
  const rq0 = [...rq0e.values()].reduce((a, b) => a + b, 0);
  const sampler = consulBytesSampler(pid, consulPort);
  const cpu0 = cpuSeconds(pid);
  const flipsStarted = performance.now();
  const flips = await measuredFlips(FLIPS);
  const cpu1 = cpuSeconds(pid);
  const flipSeconds = (performance.now() - flipsStarted) / 1000;
  const wire = await sampler.stop();
  const rq1e = await consulRequestsByEndpoint(port);
  const rq1 = [...rq1e.values()].reduce((a, b) => a + b, 0);
  // Every flip made in the window counts, the unopened services' included.
  const flipsMade = FLIPS + flips.unopened.length;
  const cpuPerFlip = ((cpu1 - cpu0) / flipsMade) * 1000;
  const cpuPerFlipAboveBaseline = Math.max(0, ((cpu1 - cpu0 - baselineCores * flipSeconds) / flipsMade) * 1000);
  const requestsPerFlip = (rq1 - rq0) / flipsMade;
  const bytesPerFlip = wire.bytes / flipsMade;
  const wsStats = stats(flips.ws);
  const unopenedStats = stats(flips.unopened);
  const browserStats = stats(flips.browser);
  log(`ws ${latency(wsStats)}; browser ${latency(browserStats)}; unopened ${latency(unopenedStats)}; ${cpuPerFlipAboveBaseline.toFixed(1)} ms CPU/flip above a ${(baselineCores * 1000).toFixed(0)} ms/s baseline (${cpuPerFlip.toFixed(1)} ms all in)`);

  // ---- more flips, faster, until RSS_FLIPS in all ----
  const more = RSS_FLIPS - FLIPS;
  // At 20 flips/s the process's baseline is a small part of each flip's CPU: the steadier figure.
  let fastFlips: { aboveBaselineMs: number; allInMs: number } | null = null;
  if (more > 0) {
    log(`${more} more flips, 20/s, on random instances`);
    const fastCpu0 = cpuSeconds(pid);
    const fastStarted = performance.now();
    for (let k = 0; k < more; k++) {
      const due = Date.now() + 50;
      const ref = fleet.instance(freeService(Math.floor(Math.random() * SERVICES)), Math.floor(Math.random() * INSTANCES));
      const id = `${ref.node}/${ref.serviceId}`;
      const next: CheckStatus = health.get(id) === 'critical' ? 'passing' : 'critical';
      health.set(id, next);
      await fleet.flipCheck(ref.node, ref.checkId, next);
      await sleep(Math.max(0, due - Date.now()));
    }
    await sleep(1000); // the last ones arrive
    const cpu = cpuSeconds(pid) - fastCpu0;
    const seconds = (performance.now() - fastStarted) / 1000;
    fastFlips = { aboveBaselineMs: Math.max(0, ((cpu - baselineCores * seconds) / more) * 1000), allInMs: (cpu / more) * 1000 };
    log(`  ${fastFlips.aboveBaselineMs.toFixed(1)} ms CPU/flip above the baseline at 20/s (${fastFlips.allInMs.toFixed(1)} ms all in)`);
  }
  await sleep(5000);
  const rssFlips = memory(pid);

  // ---- churn ----
  let churn: { rate: number; errors: number; cores: number; agentCores: number; critical: number; ws: ReturnType<typeof stats>; browser: ReturnType<typeof stats>; unopened: ReturnType<typeof stats> } | null = null;
  if (CHURN > 0) {
    log(`${CHURN} random flips/s in the background, ${CHURN_FLIPS} measured flips`);
    let running = true;
    let issued = 0;
    let errors = 0;
    let inFlight = 0;
    const churnState = new Map<number, CheckStatus>();
    const t0 = performance.now();
    const generator = (async () => {
      const tick = 20;
      for (let due = performance.now(); running; due += tick) {
        const target = Math.floor(((performance.now() - t0) / 1000) * CHURN);
        while (issued < target && inFlight < 64) {
          const s = freeService(Math.floor(Math.random() * SERVICES));
          const i = Math.floor(Math.random() * INSTANCES);
          const key = s * INSTANCES + i;
          const next: CheckStatus = churnState.get(key) === 'critical' ? 'passing' : 'critical';
          churnState.set(key, next);
          const ref = fleet.instance(s, i);
          issued += 1;
          inFlight += 1;
          fleet.flipCheck(ref.node, ref.checkId, next).then(
            () => (inFlight -= 1),
            () => ((inFlight -= 1), (errors += 1)),
          );
        }
        await sleep(Math.max(0, due + tick - performance.now()));
      }
    })();
    await sleep(3000);
    const c0 = cpuSeconds(pid);
    const agentPid = agent.pid();
    const a0 = agentPid ? cpuSeconds(agentPid) : NaN;
    const w0 = performance.now();
    const i0 = issued;
    const measured = await measuredFlips(CHURN_FLIPS);
    const cores = (cpuSeconds(pid) - c0) / ((performance.now() - w0) / 1000);
    // Consul's own load, for reading the tail: it applies the flips and re-encodes the
    // non-passing list (which grows with the churn) for every wake.
    const agentCores = agentPid ? (cpuSeconds(agentPid) - a0) / ((performance.now() - w0) / 1000) : NaN;
    const rate = (issued - i0) / ((performance.now() - w0) / 1000);
    running = false;
    await generator;
    while (inFlight > 0) await sleep(10);
    const critical = [...churnState.values()].filter((h) => h === 'critical').length;
    churn = { rate, errors, cores, agentCores, critical, ws: stats(measured.ws), browser: stats(measured.browser), unopened: stats(measured.unopened) };
    log(`churn ${rate.toFixed(0)}/s: ws ${latency(churn.ws)}; browser ${latency(churn.browser)}; unopened ${latency(churn.unopened)}; ${cores.toFixed(2)} cores (Consul agent ${agentCores.toFixed(2)} cores; ${critical} checks critical at the end)`);
    await sleep(5000);
  }

  // ---- done ----
  await page.close();
  watcher.close();
  await browser.close();
  browser = null;
  const rssEnd = memory(pid);

  // ---- the table ----
  const before = {
    start: HEADLINE ? '13.6–14.4 s' : '—',
    rss: HEADLINE ? '641–669 MiB after sync; 915 MiB after 20 flips' : '—',
    cpu: HEADLINE ? '1,476–1,711 ms' : SMALL ? '56–73 ms' : '—',
    browser: HEADLINE ? 'p50 1,933 ms, p99 3,480 ms' : SMALL ? 'p50 330 ms, p99 374 ms' : '—',
    churn: HEADLINE ? 'a flip did not reach the browser within 20 s' : SMALL ? 'p99 805 ms (under 50 flips/s)' : '—',
    list: HEADLINE ? '40.4 MiB in 1.72 s' : '—',
  };
  const churnRow = churn
    ? [
        `| check flip → WS delta, ${churn.rate.toFixed(0)} flips/s in the background | — | ${latency(churn.ws)} | p99 ≤ 500 ms |`,
        `| check flip → browser, ${churn.rate.toFixed(0)} flips/s in the background | ${before.churn} | ${latency(churn.browser)} | p99 ≤ 500 ms |`,
        `| check flip on a service nobody has open → its list row (WS summary), ${churn.rate.toFixed(0)} flips/s in the background | — | ${latency(churn.unopened)} | — |`,
        `| server CPU during that churn | — | ${churn.cores.toFixed(2)} cores${churn.errors ? ` (${churn.errors} churn writes failed)` : ''}; the Consul agent meanwhile ${churn.agentCores.toFixed(2)} cores, ${churn.critical.toLocaleString('en')} checks critical at the end | < 1 core |`,
      ]
    : [];
  const body = `
Consul 1.8.7 dev agent with ${SERVICES.toLocaleString('en')} services × ${INSTANCES} instances on ${NODES} nodes (${(SERVICES * INSTANCES).toLocaleString('en')} instances, loaded through \`/v1/txn\` in ${(fleet.loadMs / 1000).toFixed(1)} s; Switchboard started once the agent had settled, ${(settleMs / 1000).toFixed(1)} s later).
Switchboard in its own process (\`node --import tsx server/index.ts\`, production build, one Consul source), measured from outside:
/proc/<pid> for CPU and RSS, \`ss\` for its Consul connections, its /metrics for Consul requests, a \`ws\` client watching ${probeServices.length} services
and Chromium on \`/services/${svcId(pageService)}\` (a MutationObserver stamps \`data-health\` changes with Date.now()).
${FLIPS} check flips 300–700 ms apart on random instances of those services (every other one on the page's service), alternating critical/passing, and after every second one a flip on one of ${unopened.length} services nobody has open;
latency is from the flip's \`/v1/txn\` returning. Then flips at 20/s on random instances until ${RSS_FLIPS} in all${churn ? `; then ${CHURN_FLIPS} more flips with ${CHURN} random flips/s requested in the background` : ''}.

| measure | before | now | target |
|---|---|---|---|
| start → source ok (every service listed with its health counts) | ${before.start} | ${(startMs / 1000).toFixed(2)} s | ≤ 3 s |
| start → every instance read | ${before.start} | ${(loadedMs / 1000).toFixed(2)} s | — |
| server RSS | ${before.rss} | ${mib(rssSettled)} after sync and a minute idle (${mib(rssSync)} 3 s after the last instance was read); ${mib(rssFlips.rss)} after ${RSS_FLIPS} flips; ${mib(rssEnd.rss)} at the end (peak ${mib(rssEnd.hwm)}) | ≤ 450 MiB, no growth |
| server CPU per check flip | ${before.cpu} | ${cpuPerFlipAboveBaseline.toFixed(1)} ms above the process's ${(baselineCores * 1000).toFixed(0)} ms/s baseline (measured ${BASELINE_S} s right before, page open); ${cpuPerFlip.toFixed(1)} ms all in${fastFlips ? `; at 20 flips/s on random instances: ${fastFlips.aboveBaselineMs.toFixed(1)} ms above the baseline, ${fastFlips.allInMs.toFixed(1)} ms all in` : ''} | ≤ 10 ms |
| read from Consul per check flip | — | ${(bytesPerFlip / 1024).toFixed(1)} KiB, ${requestsPerFlip.toFixed(2)} requests (${perEndpoint(rq0e, rq1e)}; ${wire.connections} connections seen) | — |
| check flip → WS \`service.delta\` | — | ${latency(wsStats)} | p99 ≤ ${SMALL ? 50 : 100} ms |
| check flip → browser (service page) | ${before.browser} | ${latency(browserStats)} | ≤ ${SMALL ? 100 : 200} ms |
| check flip on a service nobody has open → its list row (WS summary) | — | ${latency(unopenedStats)} | — |
${churnRow.join('\n')}${churnRow.length ? '\n' : ''}| list: \`/?q=svc-${listTarget}\` until the row shows | ${before.list} | ${(list.bytes / 2 ** 20).toFixed(2)} MiB (HTTP ${(list.httpBytes / 2 ** 20).toFixed(2)} MiB in ${list.responses} responses, WS ${(list.wsBytes / 2 ** 20).toFixed(2)} MiB in ${list.wsFrames} frames) in ${(list.ms / 1000).toFixed(2)} s (first load after start: ${(firstList.ms / 1000).toFixed(2)} s) | ≤ 3 MiB; ≤ 1.5 s |
| Consul connections held | — | ${connsSync} after sync, ${idleConns} idle | ≤ 50 |
| Consul requests/s, idle (${IDLE_S} s) | — | ${idleRps.toFixed(3)}${idleWhich ? ` (${idleWhich})` : ''} (server CPU idle: ${(idleCores * 1000).toFixed(0)} ms/s) | ≈ 0 |
`;
  const command = `npm run bench:scale -- --services ${SERVICES} --instances ${INSTANCES} --nodes ${NODES}${CHURN ? ` --churn ${CHURN}` : ''}${CONSUL_HCL.map((h) => ` --consul-hcl '${h}'`).join('')}`;
  if (opt['no-report']) process.stdout.write(body);
  else report(`Scale from outside: ${SERVICES.toLocaleString('en')} × ${INSTANCES}${CHURN ? `, churn ${CHURN}/s` : ''}${CONSUL_HCL.length ? `, Consul agent with ${CONSUL_HCL.join('; ')}` : ''} (bench/scale.ts)`, command, body);
} catch (err) {
  process.stderr.write(`bench:scale failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  if (server) process.stderr.write(`--- switchboard output (tail) ---\n${server.logs().slice(-4000)}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
process.exit(process.exitCode ?? 0);
