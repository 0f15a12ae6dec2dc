/**
 * The pure half of the Prometheus telemetry store: PromQL for each question the dashboard asks,
 * and strict parsing of Prometheus' HTTP API answers into the dashboard's shapes. No I/O, so
 * every answer Prometheus could give (including malformed ones) is unit- and fuzz-tested.
 *
 * Metric names and labels are the SDK's (sdk/promMetrics.ts). The scrape job keeps the SDK's own
 * `instance` and `subset` labels (`honor_labels: true`, README "Telemetry store"), so `instance`
 * here is always the callee's registry instance id.
 */
import { z } from 'zod';
import type { BreakerView, SeriesPoint } from '../../protocol/telemetry';
import { LATENCY_BUCKETS_MS, newHistogram, quantile } from '../../sdk/latencyHistogram';
import type { EdgeStat, Reporter, ServiceSeries, WindowTotals } from './telemetryReader';

/** What the service graph samples per edge (server/graph: GraphSample / the call-graph store's EdgeSample). */
export interface GraphEdgeSample extends EdgeStat {
  /** Latency counts over the window in the SDK's bucket layout (sdk/latencyHistogram.ts). */
  latency: number[];
  /** Answers per status class over the window (2xx … 5xx, error). */
  statuses: Record<string, number>;
  /** Requests and errors in the last 10 s: what a fault looks like right now. */
  recentRequests: number;
  recentErrors: number;
}

/** How far back "recent" reaches for the graph's live fault view. */
export const RECENT_MS = 10_000;

export const REQUESTS = 'switchboard_client_requests_total';
export const DURATION_BUCKET = 'switchboard_client_request_duration_seconds_bucket';
export const BREAKER = 'switchboard_client_breaker_state';
export const GUARD_HOLDS = 'switchboard_client_guard_holds';
/** Status classes that count as errors (as in the built-in store: no answer or a 5xx). */
export const ERROR_STATUSES = new Set(['5xx', 'error']);

/** Chart resolution, as in the built-in store: 15 minutes at 5 s. */
export const STEP_MS = 5_000;
export const CHART_POINTS = (15 * 60_000) / STEP_MS;

export class PrometheusAnswerError extends Error {
  override name = 'PrometheusAnswerError';
}

// ── PromQL ──────────────────────────────────────────────────────────────────────────────────

/** A PromQL string literal (double-quoted, escaped) for a label matcher. */
export function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** A label value as an RE2 literal (for `=~` alternations). */
export function regexLiteral(value: string): string {
  return value.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** A PromQL range duration in whole seconds (at least 1 s). */
export function duration(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))}s`;
}

/** Rate windows must hold a few scrapes, or rate() has nothing to work with. */
export function rateWindowMs(wantedMs: number, scrapeIntervalSeconds: number): number {
  return Math.max(wantedMs, Math.ceil(4 * scrapeIntervalSeconds * 1000));
}

function matcher(labels: Record<string, string | readonly string[] | undefined>): string {
  const parts: string[] = [];
  for (const [name, v] of Object.entries(labels)) {
    if (v === undefined) continue;
    if (typeof v === 'string') parts.push(`${name}=${promString(v)}`);
    else parts.push(`${name}=~${promString(v.length ? v.map(regexLiteral).join('|') : '$^')}`);
  }
  return `{${parts.join(',')}}`;
}

export const queries = {
  /** Per instance and status: requests per second to `service`, each point over the window before it. */
  serviceRates(service: string, windowMs: number): string {
    return `sum by (instance, status) (rate(${REQUESTS}${matcher({ callee: service })}[${duration(windowMs)}]))`;
  },
  /**
   * The latency histogram per instance (rates per bucket): p50 and p99 of each instance and of
   * the service are computed from it here, with the interpolation histogram_quantile and the
   * built-in store share. One rate over the buckets instead of four histogram_quantile
   * expressions (each re-reading them): a quarter of the samples read per chart.
   */
  serviceHistogram(service: string, windowMs: number): string {
    return `sum by (instance, le) (rate(${DURATION_BUCKET}${matcher({ callee: service })}[${duration(windowMs)}]))`;
  },
  /** Every caller → callee instance edge: requests by status over the window. */
  edgeCounts(windowMs: number): string {
    return `sum by (caller, callee, instance, status) (increase(${REQUESTS}[${duration(windowMs)}])) > 0`;
  },
  /** Every edge's latency histogram over the window (buckets that gained nothing are left out). */
  edgeHistogram(windowMs: number): string {
    return `sum by (caller, callee, instance, le) (increase(${DURATION_BUCKET}[${duration(windowMs)}])) > 0`;
  },
  edgeP99(windowMs: number): string {
    return `histogram_quantile(0.99, sum by (caller, callee, instance, le) (rate(${DURATION_BUCKET}[${duration(windowMs)}])))`;
  },
  /** Clients seeing each breaker state, per callee instance (`service` omitted: every service). */
  breakers(service?: string): string {
    return `count_values by (callee, instance) ("state", ${BREAKER}${service === undefined ? '' : matcher({ callee: service })})`;
  },
  reporters(service: string): string {
    return `${GUARD_HOLDS}${matcher({ callee: service })}`;
  },
  totalsCounts(service: string, instanceIds: readonly string[], windowMs: number): string {
    return `sum by (status) (increase(${REQUESTS}${matcher({ callee: service, instance: instanceIds })}[${duration(windowMs)}]))`;
  },
  totalsP99(service: string, instanceIds: readonly string[], windowMs: number): string {
    return `histogram_quantile(0.99, sum by (le) (increase(${DURATION_BUCKET}${matcher({ callee: service, instance: instanceIds })}[${duration(windowMs)}])))`;
  },
};

// ── Answers ─────────────────────────────────────────────────────────────────────────────────

const Labels = z.record(z.string(), z.string());
const Sample = z.tuple([z.number().finite(), z.string()]);
const VectorItem = z.object({ metric: Labels, value: Sample });
const MatrixItem = z.object({ metric: Labels, values: z.array(Sample) });
const Envelope = z.object({ status: z.enum(['success', 'error']), data: z.unknown().optional(), errorType: z.string().optional(), error: z.string().optional() });
const VectorData = z.object({ resultType: z.literal('vector'), result: z.array(VectorItem) });
const MatrixData = z.object({ resultType: z.literal('matrix'), result: z.array(MatrixItem) });

export type VectorItem = z.infer<typeof VectorItem>;
export type MatrixItem = z.infer<typeof MatrixItem>;

function describe(error: z.ZodError, under?: string): string {
  const i = error.issues[0];
  if (!i) return 'invalid';
  const path = [...(under ? [under] : []), ...i.path.map(String)];
  return `${path.length ? path.join('.') : '(root)'}: ${i.message}`;
}

function data(body: unknown): unknown {
  const env = Envelope.safeParse(body);
  if (!env.success) throw new PrometheusAnswerError(`not a Prometheus API answer (${describe(env.error)})`);
  if (env.data.status === 'error') throw new PrometheusAnswerError(`Prometheus: ${env.data.errorType ?? 'error'}: ${env.data.error ?? 'no message'}`);
  return env.data.data;
}

/** An instant query's answer (`resultType: vector`), or a PrometheusAnswerError naming what is wrong. */
export function parseVector(body: unknown): VectorItem[] {
  const d = VectorData.safeParse(data(body));
  if (!d.success) throw new PrometheusAnswerError(`unexpected instant-query answer (${describe(d.error, 'data')})`);
  return d.data.result;
}

/** A range query's answer (`resultType: matrix`). */
export function parseMatrix(body: unknown): MatrixItem[] {
  const d = MatrixData.safeParse(data(body));
  if (!d.success) throw new PrometheusAnswerError(`unexpected range-query answer (${describe(d.error, 'data')})`);
  return d.data.result;
}

/** A sample value: Prometheus writes floats as strings, with NaN and ±Inf spelled its own way. Null for NaN. */
export function sampleValue(raw: string): number | null {
  if (raw === 'NaN') return null;
  if (raw === '+Inf' || raw === 'Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  const n = Number(raw);
  if (raw.trim() === '' || Number.isNaN(n)) throw new PrometheusAnswerError(`sample value "${raw.slice(0, 40)}" is not a number`);
  return n;
}

/** Seconds (a quantile) to ms rounded to 0.01, as the built-in store's quantiles; null for NaN/±Inf/negative. */
function secondsToMs(v: number | null): number | null {
  if (v === null || !Number.isFinite(v) || v < 0) return null;
  return Math.round(v * 100_000) / 100;
}

function need(labels: Record<string, string>, name: string, what: string): string {
  const v = labels[name];
  if (v === undefined) throw new PrometheusAnswerError(`${what}: series without label "${name}"`);
  return v;
}

interface Acc {
  requests: number;
  errors: number;
  /** Upper bound (seconds, Infinity for +Inf) → rate of samples at or under it. */
  le: Map<number, number>;
}

/**
 * The q-quantile (0–1) of a cumulative histogram, as Prometheus' histogram_quantile (and the
 * SDK's quantile()): linear within the bucket that holds the rank, from 0 for the first bucket;
 * in the +Inf bucket, the highest finite bound. Seconds; null without samples or +Inf bucket.
 */
export function histogramQuantile(cumulative: ReadonlyMap<number, number>, q: number): number | null {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  if (bounds.at(-1) !== Infinity) return null;
  const total = cumulative.get(Infinity)!;
  if (!(total > 0)) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const b of bounds) {
    // Cumulative counts from rates can dip by float noise: never below the bucket before.
    const count = Math.max(prevCount, cumulative.get(b)!);
    if (count >= rank && count > prevCount) {
      if (b === Infinity) return bounds.length > 1 ? bounds.at(-2)! : null;
      const lower = prevBound;
      return lower + ((b - lower) * (rank - prevCount)) / (count - prevCount);
    }
    prevBound = b;
    prevCount = count;
  }
  return null;
}

function leBound(raw: string): number {
  if (raw === '+Inf' || raw === 'Inf') return Infinity;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new PrometheusAnswerError(`histogram: le="${raw.slice(0, 20)}" is not a bucket bound`);
  return n;
}

/**
 * Charts from the two range queries (serviceRates, serviceHistogram), evaluated at step ends:
 * the point for the bucket starting at t is the one evaluated at t + step, as the built-in
 * store's bucket [t, t + 5 s). Buckets without requests are left out, as there.
 */
export function toServiceSeries(rates: MatrixItem[], histogram: MatrixItem[], instanceIds: readonly string[], stepMs = STEP_MS): ServiceSeries {
  const service = new Map<number, Acc>();
  const instances = new Map<string, Map<number, Acc>>(instanceIds.map((id) => [id, new Map()]));
  const slot = (m: Map<number, Acc>, t: number) => {
    let a = m.get(t);
    if (!a) m.set(t, (a = { requests: 0, errors: 0, le: new Map() }));
    return a;
  };
  for (const s of rates) {
    const instance = need(s.metric, 'instance', 'request rates');
    const status = s.metric.status ?? '';
    const per = instances.get(instance);
    for (const [ts, raw] of s.values) {
      const rps = sampleValue(raw);
      if (rps === null || !Number.isFinite(rps) || rps <= 0) continue;
      const t = Math.round(ts * 1000) - stepMs;
      const err = ERROR_STATUSES.has(status) ? rps : 0;
      for (const a of per ? [slot(service, t), slot(per, t)] : [slot(service, t)]) {
        a.requests += rps;
        a.errors += err;
      }
    }
  }
  for (const s of histogram) {
    const instance = need(s.metric, 'instance', 'histogram');
    const le = leBound(need(s.metric, 'le', 'histogram'));
    const per = instances.get(instance);
    for (const [ts, raw] of s.values) {
      const v = sampleValue(raw);
      if (v === null || !Number.isFinite(v) || v < 0) continue;
      const t = Math.round(ts * 1000) - stepMs;
      for (const a of per ? [service.get(t), per.get(t)] : [service.get(t)]) if (a) a.le.set(le, (a.le.get(le) ?? 0) + v);
    }
  }
  const points = (m: Map<number, Acc>): SeriesPoint[] =>
    [...m]
      .filter(([, a]) => a.requests > 0)
      .sort(([x], [y]) => x - y)
      .map(([t, a]) => ({
        t,
        rps: round(a.requests),
        errorRate: a.requests > 0 ? Math.min(1, round(a.errors / a.requests, 6)) : null,
        p50: secondsToMs(histogramQuantile(a.le, 0.5)),
        p99: secondsToMs(histogramQuantile(a.le, 0.99)),
      }));
  return { service: points(service), instances: Object.fromEntries([...instances].map(([id, m]) => [id, points(m)])) };
}

/** Edges from edgeCounts and edgeP99 (instant queries at the same time). */
export function toEdges(counts: VectorItem[], p99s: VectorItem[], windowMs: number): EdgeStat[] {
  const byKey = new Map<string, EdgeStat & { exact: number }>();
  const key = (l: Record<string, string>, what: string) => [need(l, 'caller', what), need(l, 'callee', what), need(l, 'instance', what)] as const;
  for (const s of counts) {
    const [caller, callee, instanceId] = key(s.metric, 'edge counts');
    const n = sampleValue(s.value[1]);
    if (n === null || !Number.isFinite(n) || n <= 0) continue;
    const k = `${caller}\u0000${callee}\u0000${instanceId}`;
    let e = byKey.get(k);
    if (!e) byKey.set(k, (e = { caller, callee, instanceId, requests: 0, errors: 0, rps: 0, errorRate: 0, p99: null, exact: 0 }));
    e.exact += n;
    if (ERROR_STATUSES.has(s.metric.status ?? '')) e.errors += n;
  }
  for (const s of p99s) {
    const [caller, callee, instanceId] = key(s.metric, 'edge p99');
    const e = byKey.get(`${caller}\u0000${callee}\u0000${instanceId}`);
    if (e) e.p99 = secondsToMs(sampleValue(s.value[1]));
  }
  const seconds = windowMs / 1000;
  return [...byKey.values()].map(({ exact, ...e }) => ({
    ...e,
    requests: Math.round(exact),
    errors: Math.round(e.errors),
    rps: round(exact / seconds),
    errorRate: exact > 0 ? Math.min(1, round(e.errors / exact, 6)) : 0,
  }));
}

/** Index of a bucket bound (seconds, or +Inf) in the SDK's latency layout; -1 if it is not one of its bounds. */
function layoutIndex(le: number): number {
  if (le === Infinity) return LATENCY_BUCKETS_MS.length;
  return LATENCY_BUCKETS_MS.findIndex((ms) => Math.abs(ms / 1000 - le) < 1e-9);
}

/**
 * Graph samples from three instant queries at one time: edge counts over the window, the edge
 * latency histogram over the window, and edge counts over the last RECENT_MS. Latency comes back
 * in the SDK's layout, so p99 is computed exactly as the built-in call graph does.
 */
export function toGraphSamples(counts: VectorItem[], histogram: VectorItem[], recent: VectorItem[], windowMs: number): GraphEdgeSample[] {
  const out = new Map<string, GraphEdgeSample & { exact: number; cumulative: number[] }>();
  const keyOf = (l: Record<string, string>, what: string) => [need(l, 'caller', what), need(l, 'callee', what), need(l, 'instance', what)] as const;
  const edge = (caller: string, callee: string, instanceId: string) => {
    const k = `${caller}\u0000${callee}\u0000${instanceId}`;
    let e = out.get(k);
    if (!e) {
      e = { caller, callee, instanceId, requests: 0, errors: 0, rps: 0, errorRate: 0, p99: null, latency: newHistogram(), statuses: {}, recentRequests: 0, recentErrors: 0, exact: 0, cumulative: new Array(LATENCY_BUCKETS_MS.length + 1).fill(-1) };
      out.set(k, e);
    }
    return e;
  };
  const positive = (raw: string) => {
    const n = sampleValue(raw);
    return n !== null && Number.isFinite(n) && n > 0 ? n : 0;
  };
  for (const s of counts) {
    const n = positive(s.value[1]);
    if (!n) continue;
    const e = edge(...keyOf(s.metric, 'edge counts'));
    const status = s.metric.status ?? 'error';
    e.exact += n;
    e.statuses[status] = (e.statuses[status] ?? 0) + Math.round(n);
    if (ERROR_STATUSES.has(status)) e.errors += n;
  }
  for (const s of histogram) {
    const [caller, callee, instanceId] = keyOf(s.metric, 'edge histogram');
    const i = layoutIndex(leBound(need(s.metric, 'le', 'edge histogram')));
    const e = out.get(`${caller}\u0000${callee}\u0000${instanceId}`);
    if (i >= 0 && e) e.cumulative[i] = positive(s.value[1]);
  }
  for (const s of recent) {
    const n = positive(s.value[1]);
    if (!n) continue;
    const e = out.get(keyOf(s.metric, 'recent counts').join('\u0000'));
    if (!e) continue;
    e.recentRequests += n;
    if (ERROR_STATUSES.has(s.metric.status ?? 'error')) e.recentErrors += n;
  }
  const seconds = windowMs / 1000;
  return [...out.values()].map(({ exact, cumulative, ...e }) => {
    // Buckets that gained nothing were left out of the answer: they hold what the one below holds.
    let below = 0;
    const latency = cumulative.map((c) => {
      const cum = Math.max(below, c);
      const n = Math.round(cum - below);
      below = cum;
      return n;
    });
    return {
      ...e,
      requests: Math.round(exact),
      errors: Math.round(e.errors),
      rps: round(exact / seconds),
      errorRate: exact > 0 ? Math.min(1, round(e.errors / exact, 6)) : 0,
      p99: quantile(latency, 0.99),
      latency,
      recentRequests: Math.round(e.recentRequests),
      recentErrors: Math.round(e.recentErrors),
    };
  });
}

/** Breaker views per service from the `breakers` query: clients seeing each state, per instance. */
export function toBreakerViews(result: VectorItem[]): Map<string, Record<string, BreakerView>> {
  const out = new Map<string, Record<string, BreakerView>>();
  for (const s of result) {
    const callee = need(s.metric, 'callee', 'breakers');
    const instance = need(s.metric, 'instance', 'breakers');
    const state = need(s.metric, 'state', 'breakers');
    const n = sampleValue(s.value[1]);
    if (n === null || !Number.isFinite(n) || n < 0) continue;
    const views = out.get(callee) ?? {};
    out.set(callee, views);
    const v = (views[instance] ??= { state: 'closed', clients: 0, open: 0, halfOpen: 0 });
    const count = Math.round(n);
    v.clients += count;
    if (state === '2') v.open += count;
    else if (state === '1') v.halfOpen += count;
    else if (state !== '0') throw new PrometheusAnswerError(`breakers: unexpected state "${state.slice(0, 20)}"`);
    v.state = v.open > 0 ? 'open' : v.halfOpen > 0 ? 'half-open' : 'closed';
  }
  return out;
}

/** Reporting clients from the guard-holds gauge: one series per scraped client process and caller. */
export function toReporters(result: VectorItem[]): Reporter[] {
  return result.map((s) => {
    const holds = sampleValue(s.value[1]);
    return {
      clientId: `${need(s.metric, 'caller', 'reporters')}@${s.metric.instance_id ?? s.metric.instance ?? s.metric.job ?? '?'}`,
      caller: s.metric.caller!,
      lastSeen: Math.round(s.value[0] * 1000),
      guardHolds: holds !== null && Number.isFinite(holds) && holds >= 0 ? Math.round(holds) : 0,
    };
  });
}

export function toTotals(counts: VectorItem[], p99: VectorItem[]): WindowTotals {
  let requests = 0;
  let errors = 0;
  for (const s of counts) {
    const n = sampleValue(s.value[1]);
    if (n === null || !Number.isFinite(n) || n <= 0) continue;
    requests += n;
    if (ERROR_STATUSES.has(s.metric.status ?? '')) errors += n;
  }
  const q = p99[0] ? secondsToMs(sampleValue(p99[0].value[1])) : null;
  return { requests: Math.round(requests), errors: Math.round(errors), p99Ms: requests > 0 ? q : null };
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
