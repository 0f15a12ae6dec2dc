/**
 * The Prometheus telemetry store (config `telemetry: { store: "prometheus" }`): charts, graph
 * edges, canary analysis and breaker badges read with PromQL from the Prometheus that scrapes
 * the fleet (discovered through GET /api/prometheus/targets). Any number of Switchboard replicas
 * read the same answers; nothing is held here but the last breaker views.
 *
 * Per question, at most two HTTP requests to Prometheus (sent together): a chart refresh is a
 * rates and a latency-histogram range query over 15 minutes at 5 s; a graph refresh an edge-counts and
 * an edge-p99 instant query; breaker badges one instant query per poll (every 500 ms by default).
 *
 * Prometheus down, slow or answering garbage: every read rejects with TelemetryUnavailableError
 * naming the problem (routes answer "unavailable"), and breaker badges keep their last views.
 */
import type { Registry } from 'prom-client';
import { readGauge } from '../metrics';
import { sdkMetrics } from '../../sdk/promMetrics';
import {
  CHART_POINTS,
  PrometheusAnswerError,
  STEP_MS,
  parseMatrix,
  parseVector,
  queries,
  rateWindowMs,
  RECENT_MS,
  toBreakerViews,
  toEdges,
  toGraphSamples,
  type GraphEdgeSample,
  toReporters,
  toServiceSeries,
  toTotals,
  type MatrixItem,
  type VectorItem,
} from './prometheusTelemetryQuery';
import { TelemetryUnavailableError, type BreakerView, type EdgeStat, type Reporter, type ServiceSeries, type TelemetryReader, type WindowTotals } from './telemetryReader';

export interface PrometheusTelemetryOptions {
  /** Prometheus' base URL; `user:password@` in it becomes Basic auth. */
  url: string;
  /** The fleet job's scrape interval: rate windows span at least 4 of them. @default 15 */
  scrapeIntervalSeconds?: number;
  /** @default 500 */
  breakerPollMs?: number;
  /** Per request. @default 10_000 */
  timeoutMs?: number;
  /** @internal tests */
  fetch?: typeof fetch;
}

export interface PrometheusTelemetryStats {
  queries: number;
  failures: number;
  /** Total time spent waiting for Prometheus, ms. */
  queryMs: number;
  /** Bytes of answers received. */
  bytes: number;
  lastError: string | null;
  lastErrorAt: number | null;
  lastOkAt: number | null;
}

export class PrometheusTelemetry implements TelemetryReader {
  readonly kind = 'prometheus' as const;
  readonly stats: PrometheusTelemetryStats = { queries: 0, failures: 0, queryMs: 0, bytes: 0, lastError: null, lastErrorAt: null, lastOkAt: null };
  private readonly base: string;
  private readonly authorization: string | null;
  private readonly scrapeSeconds: number;
  private readonly timeoutMs: number;
  private readonly doFetch: typeof fetch;
  private breakerViewsByService = new Map<string, Record<string, BreakerView>>();
  private pollTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: PrometheusTelemetryOptions) {
    const u = new URL(options.url);
    this.authorization = u.username || u.password ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}` : null;
    u.username = '';
    u.password = '';
    this.base = u.toString().replace(/\/+$/, '');
    this.scrapeSeconds = options.scrapeIntervalSeconds ?? 15;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.doFetch = options.fetch ?? fetch;
  }

  /**
   * On Switchboard's own /metrics: how the reads go (queries, failures, time waiting, last
   * success), and the SDK metrics of this process — the gateway's calls — for Prometheus to
   * scrape with a static job.
   */
  registerMetrics(registry: Registry): void {
    const stats = this.stats;
    const gauge = (name: string, help: string, read: () => number) => readGauge(registry, name, help, read);
    gauge('switchboard_telemetry_prometheus_queries_total', 'PromQL requests sent to the Prometheus telemetry store', () => stats.queries);
    gauge('switchboard_telemetry_prometheus_failures_total', 'Reads from the Prometheus telemetry store that failed (unreachable, error or malformed answer)', () => stats.failures);
    gauge('switchboard_telemetry_prometheus_query_seconds_total', 'Time spent waiting for the Prometheus telemetry store', () => stats.queryMs / 1000);
    gauge('switchboard_telemetry_prometheus_last_success_timestamp_seconds', 'When the Prometheus telemetry store last answered (0: never)', () => (stats.lastOkAt ?? 0) / 1000);
    for (const m of sdkMetrics().registry.getMetricsAsArray()) {
      if (!registry.getSingleMetric(m.name)) registry.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
    }
  }

  /** Where it reads from, without credentials. */
  get url(): string {
    return this.base;
  }

  async series(service: string, instanceIds: readonly string[], now: number): Promise<ServiceSeries> {
    // Evaluated at the end of each complete 5 s bucket of the last 15 minutes.
    const end = now - (now % STEP_MS);
    const start = end - (CHART_POINTS - 1) * STEP_MS;
    const window = rateWindowMs(STEP_MS, this.scrapeSeconds);
    const [rates, histogram] = await Promise.all([
      this.range(queries.serviceRates(service, window), start, end),
      this.range(queries.serviceHistogram(service, window), start, end),
    ]);
    return this.parsed(() => toServiceSeries(rates, histogram, instanceIds));
  }

  async reporters(service: string): Promise<Reporter[]> {
    const result = await this.instant(queries.reporters(service));
    return this.parsed(() => toReporters(result));
  }

  async breakerViews(service: string): Promise<Record<string, BreakerView>> {
    const result = await this.instant(queries.breakers(service));
    return this.parsed(() => toBreakerViews(result).get(service) ?? {});
  }

  async edges(windowMs: number, now: number): Promise<EdgeStat[]> {
    const window = rateWindowMs(windowMs, this.scrapeSeconds);
    const [counts, p99s] = await Promise.all([this.instant(queries.edgeCounts(window), now), this.instant(queries.edgeP99(window), now)]);
    return this.parsed(() => toEdges(counts, p99s, window));
  }

  /** The service graph's samples over `windowMs` (three instant queries), for PrometheusGraphEdges. */
  async graphSamples(windowMs: number, now: number): Promise<GraphEdgeSample[]> {
    const window = rateWindowMs(windowMs, this.scrapeSeconds);
    const recent = rateWindowMs(RECENT_MS, this.scrapeSeconds);
    const [counts, histogram, recentCounts] = await Promise.all([
      this.instant(queries.edgeCounts(window), now),
      this.instant(queries.edgeHistogram(window), now),
      this.instant(queries.edgeCounts(recent), now),
    ]);
    return this.parsed(() => toGraphSamples(counts, histogram, recentCounts, window));
  }

  async totals(service: string, instanceIds: readonly string[], fromMs: number, toMs: number): Promise<WindowTotals> {
    if (instanceIds.length === 0) return { requests: 0, errors: 0, p99Ms: null };
    const window = Math.max(toMs - fromMs, Math.ceil(2 * this.scrapeSeconds * 1000));
    const [counts, p99] = await Promise.all([
      this.instant(queries.totalsCounts(service, instanceIds, window), toMs),
      this.instant(queries.totalsP99(service, instanceIds, window), toMs),
    ]);
    return this.parsed(() => toTotals(counts, p99));
  }

  /**
   * Polls every service's breaker views and calls `onChange` for each service whose views
   * changed (with `{}` when its last client went away). A failed poll changes nothing.
   */
  watchBreakers(onChange: (service: string, views: Record<string, BreakerView>) => void): () => void {
    const every = this.options.breakerPollMs ?? 500;
    let stopped = false;
    const tick = async () => {
      try {
        const result = await this.instant(queries.breakers());
        const next = this.parsed(() => toBreakerViews(result));
        const prev = this.breakerViewsByService;
        this.breakerViewsByService = next;
        for (const [service, views] of next) if (JSON.stringify(views) !== JSON.stringify(prev.get(service))) onChange(service, views);
        for (const service of prev.keys()) if (!next.has(service)) onChange(service, {});
      } catch {
        // Counted in stats; badges keep their last-known views until Prometheus answers again.
      }
      if (!stopped) {
        this.pollTimer = setTimeout(() => void tick(), every);
        this.pollTimer.unref();
      }
    };
    void tick();
    return () => {
      stopped = true;
      if (this.pollTimer) clearTimeout(this.pollTimer);
      this.pollTimer = null;
    };
  }

  private async instant(query: string, at?: number): Promise<VectorItem[]> {
    const body = await this.post('/api/v1/query', { query, ...(at === undefined ? {} : { time: (at / 1000).toFixed(3) }) });
    return this.parsed(() => parseVector(body));
  }

  private async range(query: string, startMs: number, endMs: number): Promise<MatrixItem[]> {
    const body = await this.post('/api/v1/query_range', { query, start: (startMs / 1000).toFixed(3), end: (endMs / 1000).toFixed(3), step: `${STEP_MS / 1000}s` });
    return this.parsed(() => parseMatrix(body));
  }

  private parsed<T>(parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      const message = err instanceof PrometheusAnswerError ? err.message : `could not read Prometheus' answer: ${(err as Error).message}`;
      throw this.failed(message);
    }
  }

  private failed(message: string): TelemetryUnavailableError {
    this.stats.failures++;
    this.stats.lastError = message;
    this.stats.lastErrorAt = Date.now();
    return new TelemetryUnavailableError(`Prometheus at ${this.base}: ${message}`);
  }

  private async post(path: string, form: Record<string, string>): Promise<unknown> {
    const started = performance.now();
    this.stats.queries++;
    let text: string;
    let status: number;
    try {
      const r = await this.doFetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...(this.authorization ? { authorization: this.authorization } : {}) },
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = r.status;
      text = await r.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw this.failed(`unreachable (${why})`);
    } finally {
      this.stats.queryMs += performance.now() - started;
    }
    this.stats.bytes += text.length;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw this.failed(`HTTP ${status}, not JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
    // Prometheus answers 400/422/503 with its JSON error envelope: parsing names the error.
    if (status >= 500 && (typeof body !== 'object' || body === null || (body as { status?: unknown }).status !== 'error')) throw this.failed(`HTTP ${status}`);
    this.stats.lastOkAt = Date.now();
    return body;
  }
}

/**
 * The service graph's edge source when Prometheus is the store: the graph samples edges
 * synchronously on every tick, so this answers from the last PromQL read per window and
 * refreshes it in the background at most every `refreshMs` (bumping `version` so the graph
 * rebuilds). A failed read keeps the last samples and is retried after `refreshMs`.
 */
export class PrometheusGraphEdges {
  version = 0;
  private readonly cache = new Map<number, { at: number; samples: GraphEdgeSample[] }>();
  private readonly tried = new Map<number, number>();
  private readonly inFlight = new Set<number>();

  constructor(
    private readonly reader: Pick<PrometheusTelemetry, 'graphSamples'>,
    private readonly refreshMs = 2_000,
  ) {}

  samples(windowMs: number, now: number): GraphEdgeSample[] {
    const last = this.tried.get(windowMs);
    if (!this.inFlight.has(windowMs) && (last === undefined || now - last >= this.refreshMs)) {
      this.inFlight.add(windowMs);
      this.tried.set(windowMs, now);
      void this.reader
        .graphSamples(windowMs, now)
        .then((samples) => {
          this.cache.set(windowMs, { at: now, samples });
          this.version++;
        })
        .catch(() => undefined)
        .finally(() => this.inFlight.delete(windowMs));
    }
    return this.cache.get(windowMs)?.samples ?? [];
  }
}
