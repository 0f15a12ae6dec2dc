/**
 * `npm run bench:graph` — the service graph at 500 services and 5,000 edges, in Chromium.
 *
 * One control plane in this process (createSwitchboard + the production Next build), with a
 * synthetic source holding 500 services (2 instances each, two datacenters) and the call-graph
 * store fed SDK-shaped reports for 5,000 caller → callee edges (10 layers; every service calls
 * ~11 services of the next layers), topped up every second so the graph stays live. Measured:
 *
 * - time to first paint: navigation start → every node drawn and laid out (ELK) on /graph;
 * - fps while panning and zooming: requestAnimationFrame frames counted in the page during a
 *   scripted 6 s of mouse drags and wheel zooms, with the live updates still arriving;
 * - one edge change: the server's rebuild + diff of the whole graph (GraphService.tick), the
 *   delta's size, and in the browser the frame's arrival → its apply (User Timing from
 *   lib/liveGraph.ts) and → the edge's new colour in the DOM (MutationObserver).
 *
 * Options: --services 500 --edges 5000 --pan-ms 6000 --runs 5. Needs `next build` first.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import next from 'next';
import { fromRaw } from '../server/config/loadConfig';
import { createLogger } from '../server/log';
import { createSwitchboard } from '../server/switchboard';
import type { Source, SourceSink } from '../server/sources/source';
import type { Service } from '../protocol/model';
import type { TelemetryReport } from '../protocol/telemetry';
import { newHistogram, recordLatency } from '../sdk/latencyHistogram';
import { launchBrowser } from './support/browserProbe';

const { values: args } = parseArgs({
  options: { services: { type: 'string', default: '500' }, edges: { type: 'string', default: '5000' }, 'pan-ms': { type: 'string', default: '6000' }, runs: { type: 'string', default: '5' } },
});
const SERVICES = Number(args.services);
const EDGES = Number(args.edges);
const PAN_MS = Number(args['pan-ms']);
const RUNS = Number(args.runs);
const LAYERS = 10;
const root = resolve(import.meta.dirname, '..');

const name = (i: number) => `svc-${String(i).padStart(3, '0')}`;
const services: Service[] = Array.from({ length: SERVICES }, (_, i) => {
  const scope = i % 2 === 0 ? 'dc1' : 'dc2';
  return {
    id: `synthetic/${scope}/${name(i)}`,
    sourceId: 'synthetic',
    scope,
    name: name(i),
    tags: [],
    instances: [1, 2].map((n) => ({ id: `node-${n}/${name(i)}-${n}`, address: '10.0.0.1', port: 8000 + n, tags: [], meta: {}, node: `node-${n}`, health: 'passing' as const, checks: [] })),
  };
});

/** 5,000 distinct caller → callee pairs, callers in earlier layers than callees (a layered DAG, mostly one layer down). */
const perLayer = Math.ceil(SERVICES / LAYERS);
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pairs: [number, number][] = [];
const seen = new Set<string>();
for (let k = 0; pairs.length < EDGES && k < EDGES * 20; k++) {
  const from = k % (SERVICES - perLayer);
  const next = (Math.floor(from / perLayer) + 1) * perLayer;
  const span = random() < 0.7 ? Math.min(perLayer, SERVICES - next) : SERVICES - next;
  const to = next + Math.floor(random() * span);
  const key = `${from}>${to}`;
  if (seen.has(key)) continue;
  seen.add(key);
  pairs.push([from, to]);
}

const syntheticSource: Source = {
  id: 'synthetic',
  kind: 'consul',
  name: 'synthetic',
  address: null,
  start(sink: SourceSink) {
    sink({ type: 'scopes.changed', scopes: ['dc1', 'dc2'] });
    for (const scope of ['dc1', 'dc2']) sink({ type: 'scope.synced', scope, services: services.filter((s) => s.scope === scope) });
    sink({ type: 'status', state: 'ok' });
  },
  async stop() {},
};

const config = fromRaw(
  {
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: mkdtempSync(join(tmpdir(), 'switchboard-bench-graph-')),
    embedded: { enabled: false, demo: false },
    auth: { anonymousRole: 'viewer', users: [{ name: 'bench', role: 'admin', token: 'bench-token-0123456789' }] },
  },
  { file: null, env: process.env, cwd: root },
);
const app = next({ dev: false, dir: root, hostname: '127.0.0.1', port: 0 });
const handle = app.getRequestHandler();
await app.prepare();
const sb = createSwitchboard({ config, logger: createLogger({ level: 'warn' }), fallback: (req, res) => handle(req, res), createSources: () => [syntheticSource] });
const base = `http://127.0.0.1:${await sb.listen()}`;

// SDK-shaped cumulative reports, one client per pair, each calling instance 1 of its callee.
const totals = pairs.map(() => ({ requests: 0, errors: 0, latency: newHistogram() }));
const report = (i: number): TelemetryReport => {
  const [from, to] = pairs[i]!;
  const t = totals[i]!;
  return { clientId: `c-${i}`, caller: name(from), service: name(to), datacenter: null, guardHolds: 0, instances: [{ id: `${name(to)}-1`, breaker: 'closed', requests: t.requests, errors: t.errors, latency: [...t.latency] }] };
};
let failing = -1;
const feed = () => {
  const now = Date.now();
  for (let i = 0; i < pairs.length; i++) {
    const t = totals[i]!;
    const n = 5 + (i % 7);
    t.requests += n;
    if (i === failing) t.errors += n;
    for (let k = 0; k < n; k++) recordLatency(t.latency, 2 + (i % 13));
    sb.callGraph.ingest(report(i), now);
  }
};
for (let i = 0; i < pairs.length; i++) sb.callGraph.ingest(report(i), Date.now()); // baselines
feed();
const feeder = setInterval(feed, 1000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]!;

const browser = await launchBrowser();
let graphSize = { nodes: 0, edges: 0 };
const results = { firstPaint: [] as number[], firstSnapshot: [] as number[], layout: [] as number[], fps: [] as number[], frameP95: [] as number[], serverTick: [] as number[], deltaBytes: [] as number[], apply: [] as number[], toDom: [] as number[] };
try {
  for (let run = 0; run < RUNS; run++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    // tsx (esbuild keepNames) wraps functions handed to page.evaluate in __name(): give the page one.
    await context.addInitScript('window.__name = (f) => f');
    const page = await context.newPage();
    // Delta frame sizes, as the browser receives them.
    const frames: number[] = [];
    page.on('websocket', (ws) => ws.on('framereceived', (f) => typeof f.payload === 'string' && f.payload.startsWith('{"type":"graph.delta"') && frames.push(f.payload.length)));
    await page.goto(`${base}/graph`);
    const painted = await page
      .waitForFunction(
        // Laid out and drawn (React Flow draws only what is in view: at least one node is enough).
        () => (document.querySelector('[data-testid="graph-canvas"][data-laid-out="true"]') && document.querySelectorAll('.react-flow__node').length > 0 ? performance.now() : null),
        null,
        { polling: 'raf', timeout: 120_000 },
      )
      .catch(async (err: Error) => {
        const state = await page.evaluate(() => ({
          laidOut: document.querySelector('[data-testid="graph-canvas"]')?.getAttribute('data-laid-out'),
          nodes: document.querySelectorAll('.react-flow__node').length,
          edges: document.querySelectorAll('.react-flow__edge').length,
          summary: document.querySelector('[data-testid="graph-summary"]')?.textContent,
          viewport: document.querySelector('.react-flow__viewport')?.getAttribute('style'),
        }));
        await page.screenshot({ path: 'test-results/bench-graph-timeout.png' });
        throw new Error(`${err.message}: ${JSON.stringify(state)}`);
      });
    results.firstPaint.push((await painted.jsonValue()) as number);
    const phases = await page.evaluate(() => ({
      firstSnapshot: performance.getEntriesByName('switchboard:graph-first')[0]?.startTime ?? null,
      layout: performance.getEntriesByName('switchboard:graph-layout', 'measure').at(-1)?.duration ?? null,
    }));
    if (phases.firstSnapshot !== null) results.firstSnapshot.push(phases.firstSnapshot);
    if (phases.layout !== null) results.layout.push(phases.layout);
    const snap = sb.graph.snapshot('5m');
    graphSize = { nodes: snap.nodes.length, edges: snap.edges.length };

    // Pan and zoom for PAN_MS while counting animation frames in the page.
    await page.evaluate(() => {
      const w = window as unknown as { __fps: { frames: number[]; on: boolean } };
      w.__fps = { frames: [], on: true };
      const tick = (t: number) => {
        w.__fps.frames.push(t);
        if (w.__fps.on) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const box = (await page.getByTestId('graph-canvas').boundingBox())!;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const started = Date.now();
    for (let i = 0; Date.now() - started < PAN_MS; i++) {
      await page.mouse.move(cx, cy);
      await page.mouse.down();
      for (let s = 1; s <= 20; s++) await page.mouse.move(cx + Math.cos(i + s / 3) * 200, cy + Math.sin(i + s / 3) * 120);
      await page.mouse.up();
      await page.mouse.wheel(0, i % 2 === 0 ? -200 : 200);
    }
    const { fps, frameP95 } = await page.evaluate(() => {
      const w = window as unknown as { __fps: { frames: number[]; on: boolean } };
      w.__fps.on = false;
      const f = w.__fps.frames;
      const gaps = f.slice(1).map((t, i) => t - f[i]!).sort((a, b) => a - b);
      return { fps: ((f.length - 1) * 1000) / (f.at(-1)! - f[0]!), frameP95: gaps[Math.floor(gaps.length * 0.95)] ?? 0 };
    });
    results.fps.push(fps);
    results.frameP95.push(frameP95);

    // One edge change: back to the whole picture, then one pair starts failing.
    await page.getByRole('button', { name: /fit view/i }).click();
    const target = run % pairs.length;
    const [from, to] = pairs[target]!;
    const edgeId = `synthetic/${from % 2 === 0 ? 'dc1' : 'dc2'}/${name(from)}|synthetic/${to % 2 === 0 ? 'dc1' : 'dc2'}/${name(to)}|`;
    // Zoomed out on 5,000 edges the page draws the overview layer: the change is its error count going up
    // (zoomed in, it is the edge's own data-severity).
    await page.evaluate((id) => {
      const w = window as unknown as { __seen: { t: number; frame: number | null } | null };
      w.__seen = null;
      const overview = () => document.querySelector('[data-testid="edge-overview"]');
      const before = Number(overview()?.getAttribute('data-error-count') ?? 0);
      const mo = new MutationObserver(() => {
        if (w.__seen !== null) return;
        const own = document.querySelector(`[data-edge-id="${id}"]`)?.getAttribute('data-severity');
        // The frame that brought the change is the last one to have arrived when the DOM shows it.
        if (own === 'error' || Number(overview()?.getAttribute('data-error-count') ?? 0) > before) w.__seen = { t: performance.now(), frame: performance.getEntriesByName('switchboard:graph-frame').at(-1)?.startTime ?? null };
      });
      mo.observe(document.querySelector('.react-flow') ?? document.body, { attributes: true, subtree: true, childList: true, attributeFilter: ['data-severity', 'data-error-count'] });
    }, edgeId);
    failing = target;
    const t = totals[target]!;
    t.requests += 10;
    t.errors += 10;
    const tickStarted = performance.now();
    frames.length = 0;
    sb.callGraph.ingest(report(target), Date.now());
    sb.graph.tick();
    results.serverTick.push(performance.now() - tickStarted);
    const seen = await page.waitForFunction(() => (window as unknown as { __seen: { t: number; frame: number | null } | null }).__seen, null, { timeout: 30_000 }).catch(async (err: Error) => {
      const inDom = await page.evaluate((id) => `${document.querySelector(`[data-edge-id="${id}"]`)?.getAttribute('data-severity') ?? 'absent'}, overview errors ${document.querySelector('[data-testid="edge-overview"]')?.getAttribute('data-error-count')}`, edgeId);
      const onServer = sb.graph.snapshot('5m').edges.find((e) => e.id === edgeId);
      throw new Error(`${err.message}: ${edgeId} in the DOM: ${inDom}; on the server: ${JSON.stringify(onServer)}; fps ${fps}`);
    });
    const seenAt = (await seen.jsonValue()) as { t: number; frame: number | null };
    const timing = await page.evaluate(() => ({ apply: performance.getEntriesByName('switchboard:graph-apply').at(-1)?.duration ?? null }));
    if (seenAt.frame !== null) results.toDom.push(seenAt.t - seenAt.frame);
    if (timing.apply !== null) results.apply.push(timing.apply);
    if (frames.length) results.deltaBytes.push(frames[0]!);
    failing = -1;
    await context.close();
    console.log(`run ${run + 1}: first paint ${results.firstPaint.at(-1)!.toFixed(0)} ms (snapshot applied at ${results.firstSnapshot.at(-1)?.toFixed(0)}, layout ${results.layout.at(-1)?.toFixed(0)} ms), ${fps.toFixed(1)} fps (p95 frame ${frameP95.toFixed(0)} ms), tick ${results.serverTick.at(-1)!.toFixed(1)} ms, frame → DOM ${results.toDom.at(-1)?.toFixed(1)} ms`);
  }
} finally {
  clearInterval(feeder);
  await browser.close();
  await sb.close();
  await app.close();
}

console.log(
  JSON.stringify(
    {
      services: SERVICES,
      edges: pairs.length,
      graphNodes: graphSize.nodes,
      graphEdges: graphSize.edges,
      runs: RUNS,
      firstPaintMs: { median: median(results.firstPaint), max: Math.max(...results.firstPaint) },
      firstPaintPhasesMs: { snapshotApplied: results.firstSnapshot.length ? median(results.firstSnapshot) : null, layout: results.layout.length ? median(results.layout) : null },
      panFps: { median: median(results.fps), min: Math.min(...results.fps) },
      frameP95Ms: median(results.frameP95),
      oneEdgeChange: {
        serverRebuildAndDiffMs: { median: median(results.serverTick), p95: p95(results.serverTick) },
        deltaFrameBytes: results.deltaBytes.length ? median(results.deltaBytes) : null,
        browserApplyMs: results.apply.length ? median(results.apply) : null,
        frameToDomMs: results.toDom.length ? { median: median(results.toDom), max: Math.max(...results.toDom) } : null,
      },
    },
    null,
    2,
  ),
);
process.exit(0);
