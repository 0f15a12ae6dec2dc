import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrometheusGraphEdges, PrometheusTelemetry } from './prometheusTelemetry';
import {
  PrometheusAnswerError,
  histogramQuantile,
  parseMatrix,
  parseVector,
  promString,
  queries,
  rateWindowMs,
  regexLiteral,
  sampleValue,
  toBreakerViews,
  toEdges,
  toGraphSamples,
  toReporters,
  toServiceSeries,
  toTotals,
} from './prometheusTelemetryQuery';
import { TelemetryUnavailableError } from './telemetryReader';
import { LATENCY_BUCKETS_MS, quantile } from '../../sdk/latencyHistogram';

const vector = (result: unknown[]) => ({ status: 'success', data: { resultType: 'vector', result } });
const matrix = (result: unknown[]) => ({ status: 'success', data: { resultType: 'matrix', result } });

describe('PromQL building', () => {
  it('escapes label values so a service name cannot break out of its matcher', () => {
    expect(promString('pay"ment\\x')).toBe('"pay\\"ment\\\\x"');
    expect(queries.serviceRates('a"} or vector(1) #', 5000)).toBe('sum by (instance, status) (rate(switchboard_client_requests_total{callee="a\\"} or vector(1) #"}[5s]))');
    expect(regexLiteral('payment-1.dc1')).toBe('payment-1\\.dc1');
    expect(queries.totalsCounts('payment', ['p.1', 'p|2'], 30_000)).toContain('instance=~"p\\\\.1|p\\\\|2"');
    // No instance: a regex that matches nothing, not everything.
    expect(queries.totalsCounts('payment', [], 30_000)).toContain('instance=~"$^"');
  });

  it('keeps rate windows at least four scrapes long', () => {
    expect(rateWindowMs(5000, 1)).toBe(5000);
    expect(rateWindowMs(5000, 15)).toBe(60_000);
    expect(queries.edgeCounts(61_500)).toContain('[62s]');
  });

  it('reads the latency histogram once per chart, per instance and bucket', () => {
    expect(queries.serviceHistogram('payment', 5000)).toBe('sum by (instance, le) (rate(switchboard_client_request_duration_seconds_bucket{callee="payment"}[5s]))');
  });

  it('computes quantiles from a cumulative histogram exactly as the SDK does from bucket counts', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 50 }), { minLength: LATENCY_BUCKETS_MS.length + 1, maxLength: LATENCY_BUCKETS_MS.length + 1 }), fc.constantFrom(0.5, 0.9, 0.99), (counts, q) => {
        const cumulative = new Map<number, number>();
        let sum = 0;
        counts.forEach((n, i) => {
          sum += n;
          cumulative.set(i < LATENCY_BUCKETS_MS.length ? LATENCY_BUCKETS_MS[i]! / 1000 : Infinity, sum);
        });
        const ours = histogramQuantile(cumulative, q);
        const sdk = quantile(counts, q);
        if (sdk === null) expect(ours).toBeNull();
        else expect(Math.round(ours! * 100_000) / 100).toBeCloseTo(sdk, 1);
      }),
      { numRuns: 300 },
    );
    expect(histogramQuantile(new Map([[0.001, 1]]), 0.5)).toBeNull();
  });
});

describe('Prometheus answers', () => {
  it('reads sample values the way Prometheus writes them', () => {
    expect(sampleValue('1.5')).toBe(1.5);
    expect(sampleValue('NaN')).toBeNull();
    expect(sampleValue('+Inf')).toBe(Infinity);
    expect(sampleValue('-Inf')).toBe(-Infinity);
    expect(() => sampleValue('abc')).toThrow(PrometheusAnswerError);
    expect(() => sampleValue('')).toThrow(/not a number/);
  });

  it('names the problem in malformed or error answers', () => {
    expect(() => parseVector({ status: 'error', errorType: 'bad_data', error: 'parse error at char 3' })).toThrow('Prometheus: bad_data: parse error at char 3');
    expect(() => parseVector(matrix([]))).toThrow(/unexpected instant-query answer \(data\.resultType/);
    expect(() => parseMatrix(vector([]))).toThrow(/unexpected range-query answer/);
    expect(() => parseVector('<html>')).toThrow(/not a Prometheus API answer/);
    expect(() => parseVector(vector([{ metric: {}, value: [1, 2] }]))).toThrow(/data\.result\.0\.value\.1/);
  });

  it('turns range answers into 5 s chart points keyed by bucket start, like the built-in store', () => {
    const rates = parseMatrix(
      matrix([
        { metric: { instance: 'p-1', status: '2xx' }, values: [[1005, '10'], [1010, '0']] },
        { metric: { instance: 'p-1', status: '5xx' }, values: [[1005, '2.5']] },
        { metric: { instance: 'p-2', status: '2xx' }, values: [[1005, '7.5']] },
        { metric: { instance: 'gone', status: 'error' }, values: [[1005, '0']] },
      ]),
    );
    // p-1: 10 of 12.5 per second under 2 ms, all under 4 ms; p-2: all between 2 and 3 ms.
    const histogram = parseMatrix(
      matrix([
        { metric: { instance: 'p-1', le: '0.002' }, values: [[1005, '10']] },
        { metric: { instance: 'p-1', le: '0.003' }, values: [[1005, '10']] },
        { metric: { instance: 'p-1', le: '0.004' }, values: [[1005, '12.5']] },
        { metric: { instance: 'p-1', le: '+Inf' }, values: [[1005, '12.5']] },
        { metric: { instance: 'p-2', le: '0.002' }, values: [[1005, '0']] },
        { metric: { instance: 'p-2', le: '0.003' }, values: [[1005, '7.5'], [1010, 'NaN']] },
        { metric: { instance: 'p-2', le: '0.004' }, values: [[1005, '7.5']] },
        { metric: { instance: 'p-2', le: '+Inf' }, values: [[1005, '7.5']] },
      ]),
    );
    const s = toServiceSeries(rates, histogram, ['p-1', 'p-2', 'p-3']);
    expect(s.service).toEqual([{ t: 1_000_000, rps: 20, errorRate: 0.125, p50: 2, p99: 3.92 }]);
    expect(s.instances['p-1']).toEqual([{ t: 1_000_000, rps: 12.5, errorRate: 0.2, p50: 1.25, p99: 3.95 }]);
    expect(s.instances['p-2']).toEqual([{ t: 1_000_000, rps: 7.5, errorRate: 0, p50: 2.5, p99: 2.99 }]);
    expect(s.instances['p-3']).toEqual([]);
  });

  it('builds edges, breaker views, reporters and window totals', () => {
    const edges = toEdges(
      parseVector(vector([
        { metric: { caller: 'order-1', callee: 'payment', instance: 'p-1', status: '2xx' }, value: [1, '59.6'] },
        { metric: { caller: 'order-1', callee: 'payment', instance: 'p-1', status: 'error' }, value: [1, '0.4'] },
      ])),
      parseVector(vector([{ metric: { caller: 'order-1', callee: 'payment', instance: 'p-1' }, value: [1, '0.12'] }])),
      60_000,
    );
    expect(edges).toEqual([{ caller: 'order-1', callee: 'payment', instanceId: 'p-1', requests: 60, errors: 0, rps: 1, errorRate: 0.006667, p99: 120 }]);

    const views = toBreakerViews(parseVector(vector([
      { metric: { callee: 'payment', instance: 'p-1', state: '0' }, value: [1, '2'] },
      { metric: { callee: 'payment', instance: 'p-1', state: '2' }, value: [1, '1'] },
      { metric: { callee: 'payment', instance: 'p-2', state: '1' }, value: [1, '1'] },
    ])));
    expect(views.get('payment')).toEqual({ 'p-1': { state: 'open', clients: 3, open: 1, halfOpen: 0 }, 'p-2': { state: 'half-open', clients: 1, open: 0, halfOpen: 1 } });
    expect(() => toBreakerViews(parseVector(vector([{ metric: { callee: 'x', instance: 'i', state: '7' }, value: [1, '1'] }])))).toThrow(/unexpected state/);

    expect(toReporters(parseVector(vector([{ metric: { caller: 'order-1', callee: 'payment', instance_id: 'order-1' }, value: [1700000000.5, '3'] }])))).toEqual([
      { clientId: 'order-1@order-1', caller: 'order-1', lastSeen: 1700000000500, guardHolds: 3 },
    ]);

    expect(toTotals(parseVector(vector([{ metric: { status: '2xx' }, value: [1, '99.2'] }, { metric: { status: '5xx' }, value: [1, '1'] }])), parseVector(vector([{ metric: {}, value: [1, '0.5'] }])))).toEqual({
      requests: 100,
      errors: 1,
      p99Ms: 500,
    });
  });

  it('builds graph samples with the latency histogram in the SDK layout, statuses and recent counts', () => {
    const edge = { caller: 'order-1', callee: 'payment', instance: 'p-1' };
    const [g] = toGraphSamples(
      parseVector(vector([{ metric: { ...edge, status: '2xx' }, value: [1, '99.4'] }, { metric: { ...edge, status: '5xx' }, value: [1, '0.6'] }])),
      // Buckets that gained nothing are absent (the query filters > 0): 3 ms and 4 ms hold what 2 ms holds.
      parseVector(vector([
        { metric: { ...edge, le: '0.002' }, value: [1, '50'] },
        { metric: { ...edge, le: '0.005' }, value: [1, '99'] },
        { metric: { ...edge, le: '0.01' }, value: [1, '100'] },
        { metric: { ...edge, le: '+Inf' }, value: [1, '100'] },
      ])),
      parseVector(vector([{ metric: { ...edge, status: '5xx' }, value: [1, '1'] }, { metric: { ...edge, status: '2xx' }, value: [1, '9'] }])),
      60_000,
    );
    const latency = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
    latency[LATENCY_BUCKETS_MS.indexOf(2)] = 50;
    latency[LATENCY_BUCKETS_MS.indexOf(5)] = 49;
    latency[LATENCY_BUCKETS_MS.indexOf(10)] = 1;
    expect(g).toEqual({ caller: 'order-1', callee: 'payment', instanceId: 'p-1', requests: 100, errors: 1, rps: 1.667, errorRate: 0.006, p99: quantile(latency, 0.99), latency, statuses: { '2xx': 99, '5xx': 1 }, recentRequests: 10, recentErrors: 1 });
  });

  it('serves the graph from the last PromQL read and refreshes it in the background', async () => {
    let calls = 0;
    let fail = false;
    const edges = new PrometheusGraphEdges({
      graphSamples: async (windowMs) => {
        calls++;
        if (fail) throw new TelemetryUnavailableError('down');
        return [{ caller: 'a', callee: 'b', instanceId: `i-${windowMs}`, requests: calls, errors: 0, rps: 0, errorRate: 0, p99: null, latency: [], statuses: {}, recentRequests: 0, recentErrors: 0 }];
      },
    }, 1000);
    expect(edges.samples(60_000, 0)).toEqual([]);
    await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
    expect(edges.version).toBe(1);
    expect(edges.samples(60_000, 500)[0]!.requests).toBe(1);
    expect(calls).toBe(1);
    fail = true;
    edges.samples(60_000, 1500);
    await new Promise((r) => setTimeout(r, 0));
    // A failed refresh keeps the last samples.
    expect(edges.samples(60_000, 1600)[0]!.requests).toBe(1);
    expect(edges.version).toBe(1);
  });

  // Whatever comes back — truncated, wrong types, wrong shapes, hostile labels — the parsers
  // either answer or throw a PrometheusAnswerError naming the problem; nothing else escapes.
  it('never crashes on arbitrary answers (fuzz)', () => {
    const labelValue = fc.oneof(fc.string(), fc.constantFrom('0', '1', '2', 'p50', 'p99', '2xx', '5xx', 'error'));
    const labels = fc.dictionary(fc.constantFrom('instance', 'status', 'le', 'caller', 'callee', 'state', '__name__', 'le', 'x'), labelValue);
    const value = fc.oneof(fc.constantFrom('NaN', '+Inf', '-Inf', '', '1e309', '-0', 'x'), fc.double().map(String), fc.string());
    const sample = fc.oneof(fc.tuple(fc.double(), value), fc.tuple(fc.integer(), fc.integer()), fc.anything());
    const item = fc.oneof(fc.record({ metric: labels, value: sample }), fc.record({ metric: labels, values: fc.array(sample, { maxLength: 5 }) }), fc.anything());
    const body = fc.oneof(
      fc.record({ status: fc.constantFrom('success', 'error', 'x'), data: fc.record({ resultType: fc.constantFrom('vector', 'matrix', 'scalar'), result: fc.array(item, { maxLength: 5 }) }) }),
      fc.record({ status: fc.constant('error'), error: fc.string(), errorType: fc.string() }),
      fc.anything(),
    );
    fc.assert(
      fc.property(body, body, (a, b) => {
        for (const run of [
          () => toServiceSeries(parseMatrix(a), parseMatrix(b), ['i']),
          () => toEdges(parseVector(a), parseVector(b), 60_000),
          () => toBreakerViews(parseVector(a)),
          () => toReporters(parseVector(a)),
          () => toTotals(parseVector(a), parseVector(b)),
          () => toGraphSamples(parseVector(a), parseVector(b), parseVector(a), 60_000),
        ]) {
          try {
            const out = run();
            expect(JSON.stringify(out)).not.toContain('NaN');
          } catch (err) {
            expect(err).toBeInstanceOf(PrometheusAnswerError);
            expect((err as Error).message.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('PrometheusTelemetry', () => {
  const answering = (status: number, text: string) => (async () => new Response(text, { status })) as unknown as typeof fetch;

  it('turns an unreachable, failing or garbled Prometheus into TelemetryUnavailableError', async () => {
    const down = new PrometheusTelemetry({ url: 'http://127.0.0.1:9', fetch: (async () => { throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }); }) as unknown as typeof fetch });
    await expect(down.series('payment', [], Date.now())).rejects.toThrow(new TelemetryUnavailableError('Prometheus at http://127.0.0.1:9: unreachable (ECONNREFUSED)'));
    expect(down.stats.failures).toBeGreaterThan(0);
    await expect(new PrometheusTelemetry({ url: 'http://p', fetch: answering(502, 'Bad Gateway') }).edges(60_000, Date.now())).rejects.toThrow(/HTTP 502, not JSON/);
    await expect(new PrometheusTelemetry({ url: 'http://p', fetch: answering(400, JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'nope' })) }).reporters('x')).rejects.toThrow(/bad_data: nope/);
    await expect(new PrometheusTelemetry({ url: 'http://p', fetch: answering(200, JSON.stringify(matrix([]))) }).breakerViews('x')).rejects.toThrow(TelemetryUnavailableError);
  });

  it('sends URL credentials as Basic auth, never in the URL', async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const fetchSpy = (async (url: string, init: RequestInit) => {
      seen.push({ url, auth: new Headers(init.headers).get('authorization') });
      return new Response(JSON.stringify(vector([])));
    }) as unknown as typeof fetch;
    const p = new PrometheusTelemetry({ url: 'http://u:p%40ss@prom:9090/', fetch: fetchSpy });
    expect(await p.reporters('x')).toEqual([]);
    expect(seen).toEqual([{ url: 'http://prom:9090/api/v1/query', auth: `Basic ${Buffer.from('u:p@ss').toString('base64')}` }]);
  });

  it('pushes breaker views only for services that changed, and {} when a service has none left', async () => {
    const answers = [
      vector([{ metric: { callee: 'payment', instance: 'p-1', state: '2' }, value: [1, '1'] }, { metric: { callee: 'inventory', instance: 'i-1', state: '0' }, value: [1, '1'] }]),
      vector([{ metric: { callee: 'payment', instance: 'p-1', state: '2' }, value: [1, '1'] }]),
    ];
    let n = 0;
    const p = new PrometheusTelemetry({ url: 'http://p', breakerPollMs: 100, fetch: (async () => new Response(JSON.stringify(answers[Math.min(n++, 1)]))) as unknown as typeof fetch });
    const pushed: [string, unknown][] = [];
    const stop = p.watchBreakers((service, views) => pushed.push([service, views]));
    await new Promise((r) => setTimeout(r, 350));
    stop();
    expect(pushed).toEqual([
      ['payment', { 'p-1': { state: 'open', clients: 1, open: 1, halfOpen: 0 } }],
      ['inventory', { 'i-1': { state: 'closed', clients: 1, open: 0, halfOpen: 0 } }],
      ['inventory', {}],
    ]);
  });
});
