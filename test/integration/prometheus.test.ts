/**
 * Prometheus as the telemetry store, against a real Prometheus (Debian's 2.42, started by
 * test/support/prometheus.ts on a loopback port, 1 s scrapes) that finds its targets only through
 * Switchboard's GET /api/prometheus/targets (http_sd, a viewer's Bearer token).
 *
 * Two fleets. The real demo fleet (child processes; order ×2 → inventory ×2 + payment ×5, driven
 * by the load generator), every instance serving /metrics and found by Prometheus through
 * Switchboard. And a smaller one the test controls: "order-1" calls "payment" (payment-1, payment-2) through the
 * SDK's ServiceClient over HTTP, serves the SDK's metrics on its own /metrics, and also reports
 * to the control plane's built-in store — so the same traffic lands in both stores and the
 * PromQL-backed charts and edges can be compared with the built-in ones. A rollout whose canary
 * fails is rolled back from PromQL analysis, a breaker badge follows Prometheus' breaker series,
 * and a Prometheus outage leaves charts "unavailable", never broken.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDemoFleet, type DemoFleet } from '../../demo/demoFleet';
import { startLoadGenerator, type LoadGenerator } from '../../demo/loadGenerator';
import { PrometheusTargets, ServiceTelemetry } from '../../protocol/api';
import type { SeriesPoint } from '../../protocol/telemetry';
import { LATENCY_BUCKETS_MS, newHistogram, quantile } from '../../sdk/latencyHistogram';
import { createSdkMetrics } from '../../sdk/promMetrics';
import { ServiceClient } from '../../sdk/serviceClient';
import { PrometheusTelemetry } from '../../server/telemetry/prometheusTelemetry';
import { DURATION_BUCKET, rateWindowMs, STEP_MS } from '../../server/telemetry/prometheusTelemetryQuery';
import { BuiltinTelemetryReader } from '../../server/telemetry/telemetryReader';
import type { Switchboard } from '../../server/switchboard';
import { freePorts } from '../support/consulAgent';
import { startFromConfig } from '../support/controlPlane';
import { LocalServers } from '../support/localServers';
import { startPrometheus, type PrometheusServer } from '../support/prometheus';

const VIEWER = 'prom-viewer-token';
const CLIENT = 'order-client-token';
const OPERATOR = { authorization: 'Bearer prom-operator-token', 'content-type': 'application/json' };
const viewer = { authorization: `Bearer ${VIEWER}` };

let sb: Switchboard;
let base: string;
let registry: string;
let prom: PrometheusServer;
let client: ServiceClient;
const servers = new LocalServers();
const orderMetrics = createSdkMetrics();
const failing = new Set<string>();
let trafficStop = false;
let traffic: Promise<void> = Promise.resolve();

async function register(body: Record<string, unknown>): Promise<void> {
  const r = await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify(body) });
  expect(r.status).toBe(200);
}

/** A payment instance: ~2–4 ms of work, or 500s while it is in `failing`; /metrics answers (empty). */
async function payment(id: string): Promise<number> {
  const empty = createSdkMetrics();
  const { port } = await servers.start((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/metrics') return void empty.registry.metrics().then((m) => res.writeHead(200, { 'content-type': empty.registry.contentType }).end(m));
    setTimeout(() => res.writeHead(failing.has(id) ? 500 : 200).end('ok'), 2 + Math.random() * 2);
  });
  return port;
}

beforeAll(async () => {
  const [promPort] = (await freePorts(1)) as [number];
  ({ sb, base } = await startFromConfig({
    embedded: { enabled: true, httpPort: 0, dnsPort: 0 },
    auth: { anonymousRole: null, users: [{ name: 'prometheus', role: 'viewer', token: VIEWER }, { name: 'order', role: 'client', token: CLIENT }, { name: 'olga', role: 'operator', token: 'prom-operator-token' }] },
    telemetry: { store: 'prometheus', prometheus: { url: `http://127.0.0.1:${promPort}`, scrapeIntervalSeconds: 1 } },
  }));
  registry = sb.store.source('embedded')!.address!;
  for (const id of ['payment-1', 'payment-2']) await register({ Name: 'payment', ID: id, Address: '127.0.0.1', Port: await payment(id), Tags: [id === 'payment-1' ? 'blue' : 'green'] });
  // order-1: the caller, serving its SDK metrics on its own port.
  const { port: orderPort } = await servers.start((_req, res) => void orderMetrics.registry.metrics().then((m) => res.writeHead(200, { 'content-type': orderMetrics.registry.contentType }).end(m)));
  await register({ Name: 'order', ID: 'order-1', Address: '127.0.0.1', Port: orderPort });
  await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances).toHaveLength(2), { timeout: 15_000 });
  await vi.waitFor(() => expect(sb.store.service('embedded/dc1/order')?.instances).toHaveLength(1), { timeout: 15_000 });
  prom = await startPrometheus({ switchboard: base, token: VIEWER, port: promPort });
  client = new ServiceClient({
    registry,
    service: 'payment',
    metrics: orderMetrics,
    report: { url: base, token: CLIENT, caller: 'order-1' },
    breaker: { consecutiveFailures: 5, coolDownMs: 60_000 },
    retries: 0,
  });
  await client.ready();
}, 120_000);

afterAll(async () => {
  trafficStop = true;
  await traffic;
  await client?.close();
  await prom?.stop();
  await sb?.close();
  servers.closeAll();
});

/** Steady traffic: ~`rps` requests a second from order-1 to payment until stopped. */
function startTraffic(rps: number, through: () => ServiceClient = () => client): void {
  trafficStop = false;
  traffic = (async () => {
    const started = performance.now();
    let sent = 0;
    while (!trafficStop) {
      const due = Math.floor(((performance.now() - started) / 1000) * rps);
      const batch: Promise<unknown>[] = [];
      for (; sent < due; sent++) batch.push(through().request('/work', { method: 'POST' }).then((r) => r.response.arrayBuffer()).catch(() => undefined));
      await Promise.all(batch);
      await sleep(20);
    }
  })();
}

/**
 * Built-in (a) and PromQL (b) charts of the same traffic agree within the scrape resolution:
 * buckets both have (without the first and last, partly filled) match in rate and p50, and the
 * totals closely. Returns those buckets' times.
 *
 * Not their p99s bucket by bucket: a 5 s bucket's p99 is its top request or two, and a window one
 * scrape apart (PromQL's rate() over ~4 s of increments, extrapolated) takes in or leaves out one
 * slow request. expectChartP99s checks the PromQL charts' p99s, expectRunP99 the p99 across the run.
 */
function expectAgreement(a: SeriesPoint[], b: SeriesPoint[]): number[] {
  const bt = new Map(b.map((p) => [p.t, p]));
  const both = a.filter((p) => bt.has(p.t)).slice(1, -1);
  expect(both.length).toBeGreaterThanOrEqual(4);
  let sumA = 0;
  let sumB = 0;
  const table = both.map((p) => `t=${p.t} rps ${p.rps}/${bt.get(p.t)!.rps} p50 ${p.p50}/${bt.get(p.t)!.p50} p99 ${p.p99}/${bt.get(p.t)!.p99}`).join('\n');
  let outliers = 0;
  for (const p of both) {
    const q = bt.get(p.t)!;
    sumA += p.rps;
    sumB += q.rps;
    // One scrape (or one report) of 5 falling into the neighbouring bucket moves a bucket by ~20%;
    // the quantiles, from the same bucket layout and interpolation, land in the same latency bucket.
    // A stall of the shared machine can push a whole report or scrape across: one such bucket is allowed.
    const rpsOk = Math.abs(p.rps - q.rps) <= Math.max(0.3 * p.rps, 3);
    const p50Ok = Math.abs((p.p50 ?? 0) - (q.p50 ?? 0)) <= Math.max(2.5, 0.35 * (p.p50 ?? 0));
    if (!rpsOk || !p50Ok) outliers++;
  }
  expect(outliers, `buckets (built-in/PromQL):\n${table}`).toBeLessThanOrEqual(1);
  // Over the run, the totals agree closely.
  expect(Math.abs(sumA - sumB) / sumA, table).toBeLessThan(0.1);
  return both.map((p) => p.t);
}

/**
 * The PromQL charts' p99 at each of `times` is Prometheus' own histogram_quantile(0.99) over the
 * same 5 s window of the same series (evaluated at the bucket's end, as the chart's range query
 * is): exact to the charts' 0.01 ms. It fails on a wrong quantile, unit, bucket bound, label or
 * step alignment in the PromQL path; expectRunP99 ties Prometheus' data to the built-in store's.
 */
async function expectChartP99s(server: PrometheusServer, points: SeriesPoint[], times: number[], labels: Record<string, string>): Promise<void> {
  const byT = new Map(points.map((p) => [p.t, p]));
  const selector = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
  const window = `${rateWindowMs(STEP_MS, 1) / 1000}s`;
  for (const t of times) {
    const result = await server.query(`histogram_quantile(0.99, sum by (le) (rate(${DURATION_BUCKET}{${selector}}[${window}])))`, t + STEP_MS);
    expect(result, `histogram_quantile at t=${t} of {${selector}}`).toHaveLength(1);
    const want = Math.round(Number(result[0]!.value[1]) * 100_000) / 100;
    const got = byT.get(t)?.p99;
    expect(Number.isFinite(want) && typeof got === 'number', `p99 at t=${t} of {${selector}}: chart ${got}, Prometheus ${want}`).toBe(true);
    // 0.01: both round to 0.01 ms; sums of the same rates in another order can differ in the last bit.
    expect(Math.abs(got! - want), `p99 at t=${t} of {${selector}}: chart ${got}, Prometheus ${want}`).toBeLessThanOrEqual(0.011);
  }
}

/**
 * p99s over the whole run, each from one merged histogram of several hundred requests (the
 * built-in store's and PromQL's), agree within the width of the latency bucket the built-in
 * one falls in: the histograms hold the same requests, and the interpolation is the same.
 */
function expectRunP99(what: string, builtin: number | null, promql: number | null): void {
  expect(builtin, `${what}: built-in p99`).not.toBeNull();
  expect(promql, `${what}: PromQL p99`).not.toBeNull();
  const i = LATENCY_BUCKETS_MS.findIndex((ms) => builtin! <= ms);
  const width = i < 0 ? Infinity : LATENCY_BUCKETS_MS[i]! - (i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!);
  console.log(`${what}: p99 built-in ${builtin} ms, PromQL ${promql} ms`);
  expect(Math.abs(builtin! - promql!), `${what}: p99 built-in ${builtin} ms, PromQL ${promql} ms (latency bucket width ${width} ms)`).toBeLessThanOrEqual(width);
}

describe('Prometheus as the telemetry store', () => {
  it('serves every instance as an http_sd target with its labels, and Prometheus scrapes them', async () => {
    const r = await fetch(`${base}/api/prometheus/targets`, { headers: viewer });
    expect(r.status).toBe(200);
    const groups = PrometheusTargets.parse(await r.json());
    const byId = Object.fromEntries(groups.map((g) => [g.labels.instance_id, g]));
    expect(Object.keys(byId).sort()).toEqual(['order-1', 'payment-1', 'payment-2']);
    expect(byId['payment-2']!.labels).toMatchObject({ source: 'embedded', scope: 'dc1', service: 'payment', instance_id: 'payment-2' });
    expect(byId['payment-2']!.targets[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    // Without a token: refused, as any topology read.
    expect((await fetch(`${base}/api/prometheus/targets`)).status).toBe(401);

    await vi.waitFor(
      async () => {
        const targets = await prom.activeTargets();
        expect(targets.map((t) => [t.labels.instance_id, t.health]).sort()).toEqual([
          ['order-1', 'up'],
          ['payment-1', 'up'],
          ['payment-2', 'up'],
        ]);
        expect(targets.find((t) => t.labels.instance_id === 'order-1')!.labels).toMatchObject({ source: 'embedded', scope: 'dc1', service: 'order', job: 'switchboard-fleet' });
      },
      { timeout: 20_000, interval: 250 },
    );
  }, 30_000);

  it('charts from PromQL agree with the built-in store on the same traffic, within the scrape resolution', async () => {
    const from = Date.now();
    startTraffic(40);
    await sleep(32_000);
    trafficStop = true;
    await traffic;
    await sleep(3_000);
    const now = Date.now();
    const ids = ['payment-1', 'payment-2'];
    const builtin = await new BuiltinTelemetryReader(sb.telemetry).series('payment', ids, now);
    const promql = await sb.telemetryReader.series('payment', ids, now);
    expect(sb.telemetryReader.kind).toBe('prometheus');

    await expectChartP99s(prom, promql.service, expectAgreement(builtin.service, promql.service), { callee: 'payment' });
    for (const id of ids) {
      await expectChartP99s(prom, promql.instances[id]!, expectAgreement(builtin.instances[id]!, promql.instances[id]!), { callee: 'payment', instance: id });
    }

    // The REST answer says which store answered.
    const api = (await (await fetch(`${base}/api/services/embedded/dc1/payment/telemetry`, { headers: viewer })).json()) as ServiceTelemetry & { store: string; unavailable?: string };
    expect(api.store).toBe('prometheus');
    expect(api.unavailable).toBeUndefined();
    expect(api.service.length).toBeGreaterThan(4);
    expect(api.reporters.map((r) => r.caller)).toEqual(['order-1']);

    // Edges: the call graph's caller → callee instance, against the built-in call-graph store, over
    // the last minute: all of the run (the first traffic of this suite), one histogram per edge.
    const edges = await sb.telemetryReader.edges(60_000, now);
    const samples = sb.callGraph.samples(60_000, now, (caller, callee) => caller === 'order-1' && callee === 'payment');
    for (const id of ids) {
      const p = edges.find((e) => e.caller === 'order-1' && e.callee === 'payment' && e.instanceId === id);
      const g = samples.find((e) => e.instanceId === id);
      expect(p, `PromQL edge to ${id}`).toBeDefined();
      expect(g, `built-in edge to ${id}`).toBeDefined();
      expect(Math.abs(p!.requests - g!.requests) / g!.requests).toBeLessThan(0.1);
      expect(p!.errorRate).toBe(0);
      expectRunP99(`edge order-1 → ${id}`, g!.p99, p!.p99);
    }
    // The service's p99 over the run: canary analysis' PromQL window totals against the built-in
    // histograms of both edges merged.
    const merged = samples.reduce((acc, e) => acc.map((n, i) => n + e.latency[i]!), newHistogram());
    expectRunP99('payment over the run', quantile(merged, 0.99), (await sb.telemetryReader.totals!('payment', ids, from, now)).p99Ms);

    // The service graph reads its edges from PromQL too (GET /api/graph: the first read starts the query).
    await vi.waitFor(
      async () => {
        const g = (await (await fetch(`${base}/api/graph?window=1m`, { headers: viewer })).json()) as { edges: { from: string; to: string; rps: number; p99: number | null }[] };
        const toPayment = g.edges.filter((e) => e.to.includes('payment'));
        expect(toPayment.length).toBeGreaterThan(0);
        expect(toPayment.reduce((a, e) => a + e.rps, 0)).toBeGreaterThan(5);
        expect(toPayment.every((e) => e.p99 !== null)).toBe(true);
      },
      { timeout: 10_000, interval: 250 },
    );

    // Canary analysis' window totals: what payment-2 got over the run.
    const totals = await sb.telemetryReader.totals!('payment', ['payment-2'], now - 40_000, now);
    const counted = builtin.instances['payment-2']!.reduce((a, p) => a + p.rps * 5, 0);
    expect(Math.abs(totals.requests - counted) / counted).toBeLessThan(0.1);
  }, 60_000);

  it('shows a breaker opening as a badge within a scrape and a poll', async () => {
    failing.add('payment-2');
    startTraffic(40);
    await vi.waitFor(() => expect(client.breakers()['payment-2']).toBe('open'), { timeout: 10_000, interval: 10 });
    const openedAt = performance.now();
    trafficStop = true;
    await traffic;
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances.find((i) => i.id.endsWith('/payment-2'))?.breaker?.state).toBe('open'), { timeout: 10_000, interval: 10 });
    const lagMs = performance.now() - openedAt;
    // Measured, not asserted tightly (speed is for benchmarks): 1 s scrapes + 500 ms polls.
    console.log(`breaker open → badge: ${Math.round(lagMs)} ms`);
    expect(lagMs).toBeLessThan(5_000);
    expect(sb.store.service('embedded/dc1/payment')!.instances.find((i) => i.id.endsWith('/payment-1'))!.breaker).toEqual({ state: 'closed', clients: 1, open: 0, halfOpen: 0 });
  }, 30_000);

  it('a second replica that gets no reports shows the same charts, edges, graph and breaker badges', async () => {
    // Replica B watches the same registry (through its Consul API) and reads the same Prometheus; no SDK reports to it.
    const { sb: b, base: bBase } = await startFromConfig({
      sources: [{ kind: 'consul', name: 'shared', address: registry, datacenters: 'all' }],
      auth: { anonymousRole: null, users: [{ name: 'prometheus', role: 'viewer', token: VIEWER }] },
      telemetry: { store: 'prometheus', prometheus: { url: prom.url, scrapeIntervalSeconds: 1 } },
    });
    try {
      await vi.waitFor(() => expect(b.store.service('shared/dc1/payment')?.instances).toHaveLength(2), { timeout: 15_000 });
      await vi.waitFor(() => expect(b.store.service('shared/dc1/payment')!.instances.find((i) => i.id.endsWith('/payment-2'))!.breaker?.state).toBe('open'), { timeout: 10_000, interval: 50 });
      expect(b.telemetry.clientCount).toBe(0);
      // Settled data (10 s back): both replicas ask the same questions and get the same answers.
      const at = Date.now() - 10_000;
      const ids = ['payment-1', 'payment-2'];
      expect(await b.telemetryReader.series('payment', ids, at)).toEqual(await sb.telemetryReader.series('payment', ids, at));
      const byKey = (list: { caller: string; callee: string; instanceId: string }[]) => [...list].sort((x, y) => `${x.caller}${x.callee}${x.instanceId}`.localeCompare(`${y.caller}${y.callee}${y.instanceId}`));
      expect(byKey(await b.telemetryReader.edges(120_000, at))).toEqual(byKey(await sb.telemetryReader.edges(120_000, at)));
      const api = (await (await fetch(`${bBase}/api/services/shared/dc1/payment/telemetry`, { headers: viewer })).json()) as { service: unknown[]; store: string };
      expect(api.store).toBe('prometheus');
      expect(api.service.length).toBeGreaterThan(4);
      await vi.waitFor(
        async () => {
          const g = (await (await fetch(`${bBase}/api/graph?window=5m`, { headers: viewer })).json()) as { edges: { to: string }[] };
          expect(g.edges.some((e) => e.to.includes('payment'))).toBe(true);
        },
        { timeout: 10_000, interval: 250 },
      );
    } finally {
      await b.close();
    }
  }, 45_000);

  it('rolls a failing canary back from PromQL analysis', async () => {
    // A second order-1 client without breakers, so the failing green instance keeps getting its share.
    const noBreaker = new ServiceClient({ registry, service: 'payment', metrics: orderMetrics, caller: 'order-1', breaker: false, retries: 0 });
    await noBreaker.ready();
    startTraffic(40, () => noBreaker);
    try {
      const r = await fetch(`${base}/api/services/embedded/dc1/payment/rollout`, {
        method: 'PUT',
        headers: OPERATOR,
        body: JSON.stringify({ steps: [{ weight: 50, pause: '1m' }, { weight: 100 }], analysis: { interval: '3s', minRequests: 20, failureLimit: 1 } }),
      });
      expect(r.status).toBe(200);
      await vi.waitFor(
        async () => {
          const view = (await (await fetch(`${base}/api/services/embedded/dc1/payment/rollout`, { headers: OPERATOR })).json()) as { rollout: { state: string; message?: string; measurements: { canary: { requests: number } }[] } };
          expect(view.rollout.state).toBe('Failed');
          expect(view.rollout.message).toMatch(/^canary error rate 100 % > 1 %/);
          expect(view.rollout.measurements.at(-1)!.canary.requests).toBeGreaterThanOrEqual(20);
        },
        { timeout: 30_000, interval: 250 },
      );
    } finally {
      trafficStop = true;
      await traffic;
      await noBreaker.close();
    }
  }, 45_000);

  it('says the charts are unavailable while Prometheus is down, keeps the badges, and recovers', async () => {
    const badge = () => sb.store.service('embedded/dc1/payment')?.instances.find((i) => i.id.endsWith('/payment-2'))?.breaker?.state;
    await prom.stop();
    const r = await fetch(`${base}/api/services/embedded/dc1/payment/telemetry`, { headers: viewer });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { service: unknown[]; unavailable?: string; store: string };
    expect(body.store).toBe('prometheus');
    expect(body.service).toEqual([]);
    expect(body.unavailable).toMatch(/^Prometheus at http:\/\/127\.0\.0\.1:\d+: unreachable/);
    await expect(sb.telemetryReader.edges(60_000, Date.now())).rejects.toThrow(/unreachable/);
    await sleep(1_500);
    expect(badge()).toBe('open');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((sb.telemetryReader as PrometheusTelemetry).stats.failures).toBeGreaterThan(0);

    // Back on the same port (fresh storage): charts answer again.
    prom = await startPrometheus({ switchboard: base, token: VIEWER, port: Number(new URL((sb.telemetryReader as PrometheusTelemetry).url).port) });
    await vi.waitFor(
      async () => {
        const again = (await (await fetch(`${base}/api/services/embedded/dc1/payment/telemetry`, { headers: viewer })).json()) as { unavailable?: string };
        expect(again.unavailable).toBeUndefined();
      },
      { timeout: 20_000, interval: 500 },
    );
  }, 60_000);
});

describe('the demo fleet, scraped through Switchboard', () => {
  let demo: Switchboard;
  let demoBase: string;
  let demoProm: PrometheusServer;
  let fleet: DemoFleet;
  let load: LoadGenerator;

  beforeAll(async () => {
    const [promPort] = (await freePorts(1)) as [number];
    ({ sb: demo, base: demoBase } = await startFromConfig({
      embedded: { enabled: true, httpPort: 0, dnsPort: 0 },
      auth: { anonymousRole: null, users: [{ name: 'prometheus', role: 'viewer', token: VIEWER }, { name: 'demo', role: 'client', token: CLIENT }] },
      telemetry: { store: 'prometheus', prometheus: { url: `http://127.0.0.1:${promPort}`, scrapeIntervalSeconds: 1 } },
    }));
    const registryAddr = demo.store.source('embedded')!.address!;
    // The demo's services report to the built-in store and serve /metrics: both stores see the same calls.
    fleet = await startDemoFleet({ registryAddr, report: { url: demoBase, token: CLIENT } });
    demoProm = await startPrometheus({ switchboard: demoBase, token: VIEWER, port: promPort });
    load = startLoadGenerator({ registryAddr, rps: 20 });
  }, 120_000);

  afterAll(async () => {
    await load?.stop();
    await fleet?.stop();
    await demoProm?.stop();
    await demo?.close();
  });

  it('Prometheus finds every demo instance through /api/prometheus/targets and scrapes its /metrics', async () => {
    await vi.waitFor(
      async () => {
        const targets = await demoProm.activeTargets();
        expect(targets.map((t) => `${t.labels.service}/${t.labels.instance_id}:${t.health}`).sort()).toEqual(fleet.instances.map((i) => `${i.name}/${i.id}:up`).sort());
      },
      { timeout: 30_000, interval: 500 },
    );
    const green = (await demoProm.activeTargets()).find((t) => t.labels.instance_id === 'payment-4')!;
    expect(green.labels).toMatchObject({ source: 'embedded', scope: 'dc1', service: 'payment', health: 'passing' });
  }, 40_000);

  it('charts and edges from PromQL agree with the built-in stores on the demo’s traffic', async () => {
    await sleep(32_000);
    const now = Date.now();
    for (const service of ['payment', 'inventory']) {
      const ids = fleet.instances.filter((i) => i.name === service).map((i) => i.id);
      const builtin = await new BuiltinTelemetryReader(demo.telemetry).series(service, ids, now);
      const promql = await demo.telemetryReader.series(service, ids, now);
      await expectChartP99s(demoProm, promql.service, expectAgreement(builtin.service, promql.service), { callee: service });
    }
    // A window that Prometheus scraped throughout (a counter's increments before its first scrape are not
    // in it), ending just before a built-in 5 s bucket ends, so the built-in call graph covers all of it too.
    await sleep(5_000 - (Date.now() % 5_000) - 150);
    const end = Date.now();
    const edges = await demo.telemetryReader.edges(30_000, end);
    const graph = demo.callGraph.edges(30_000, end);
    const key = (e: { caller: string; callee: string; instanceId: string }) => `${e.caller}→${e.callee}/${e.instanceId}`;
    const fromOrder = (list: { caller: string; callee: string; instanceId: string; requests: number }[]) =>
      new Map(list.filter((e) => e.caller.startsWith('order-')).map((e) => [key(e), e.requests]));
    const p = fromOrder(edges);
    const g = fromOrder(graph);
    // order-1 and order-2 each call inventory ×2 and payment ×5.
    expect([...p.keys()].sort()).toEqual([...g.keys()].sort());
    expect(p.size).toBe(14);
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    console.log(`demo edges over 30 s: PromQL ${sum(p)}, built-in ${sum(g)}`);
    expect(Math.abs(sum(p) - sum(g)) / sum(g), JSON.stringify({ promql: Object.fromEntries(p), builtin: Object.fromEntries(g) })).toBeLessThan(0.1);
  }, 60_000);
});

