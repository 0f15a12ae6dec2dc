/**
 * The SDK's request metrics and breaker states as Prometheus metrics (prom-client), for the
 * Prometheus telemetry store (`telemetry: { store: "prometheus" }`): a service embedding the SDK
 * serves them on its own `/metrics` — `metricsHandler()` — or merges `sdkRegistry` into its own.
 *
 *   switchboard_client_requests_total{caller,callee,subset,instance,status}      counter
 *   switchboard_client_request_duration_seconds{caller,callee,subset,instance}  histogram (sdk/latencyHistogram.ts bounds)
 *   switchboard_client_breaker_state{caller,callee,instance}                    gauge: 0 closed, 1 half-open, 2 open
 *   switchboard_client_guard_holds{caller,callee}                               gauge: instance-list drops held back
 *
 * `instance` is the callee's registry instance id, `subset` the traffic-policy subset the pick
 * came from ("none" without a policy: never empty, so a scrape job with `honor_labels: true`
 * keeps it rather than the scraped target's own subset), `status` one of 2xx, 3xx, 4xx, 5xx or
 * error (no answer). Errors, as in the built-in store, are 5xx and error.
 *
 * Breaker states are read at scrape time from the live clients, so a breaker that cooled to
 * half-open shows as such without a call; a closed client's series disappear.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BreakerState } from './instanceBreaker';
import { LATENCY_BUCKETS_MS } from './latencyHistogram';

export const NO_SUBSET = 'none';
export const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** What a client contributes at scrape time. */
export interface MetricsSource {
  caller: string;
  callee: string;
  breakers(): Record<string, BreakerState>;
  guardHolds(): number;
}

export interface SdkMetrics {
  readonly registry: Registry;
  /** One finished attempt: `status` an HTTP status code, or null when no answer came. */
  observe(labels: { caller: string; callee: string; subset: string | null; instance: string }, status: number | null, seconds: number): void;
  /** Includes a client's breakers and guard in every scrape until the returned function is called. */
  track(source: MetricsSource): () => void;
}

export function statusClass(status: number | null): string {
  if (status === null || !Number.isFinite(status)) return 'error';
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? `${c}xx` : 'error';
}

/** A fresh set of SDK metrics on `registry` (a new one by default). Tests and embedders with their own registry use this. */
export function createSdkMetrics(registry: Registry = new Registry()): SdkMetrics {
  const sources = new Set<MetricsSource>();
  const requests = new Counter({
    name: 'switchboard_client_requests_total',
    help: 'Requests (attempts) SDK clients made to service instances, by answer class',
    labelNames: ['caller', 'callee', 'subset', 'instance', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'switchboard_client_request_duration_seconds',
    help: 'Time from sending an attempt to its answer (or failure), seconds',
    labelNames: ['caller', 'callee', 'subset', 'instance'] as const,
    buckets: LATENCY_BUCKETS_MS.map((ms) => ms / 1000),
    registers: [registry],
  });
  new Gauge({
    name: 'switchboard_client_breaker_state',
    help: 'Circuit breaker per instance as each client sees it: 0 closed, 1 half-open, 2 open',
    labelNames: ['caller', 'callee', 'instance'] as const,
    registers: [registry],
    collect() {
      this.reset();
      // Several clients in one process with the same caller and callee: the worst state counts.
      const worst = new Map<string, { caller: string; callee: string; instance: string; value: number }>();
      for (const s of sources) {
        for (const [instance, state] of Object.entries(s.breakers())) {
          const key = `${s.caller}\u0000${s.callee}\u0000${instance}`;
          const value = BREAKER_VALUE[state] ?? 0;
          const prev = worst.get(key);
          if (!prev || prev.value < value) worst.set(key, { caller: s.caller, callee: s.callee, instance, value });
        }
      }
      for (const w of worst.values()) this.set({ caller: w.caller, callee: w.callee, instance: w.instance }, w.value);
    },
  });
  new Gauge({
    name: 'switchboard_client_guard_holds',
    help: 'Sudden drops of the instance list the client sanity guard held back so far',
    labelNames: ['caller', 'callee'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const sum = new Map<string, { caller: string; callee: string; n: number }>();
      for (const s of sources) {
        const key = `${s.caller}\u0000${s.callee}`;
        const e = sum.get(key) ?? { caller: s.caller, callee: s.callee, n: 0 };
        e.n += s.guardHolds();
        sum.set(key, e);
      }
      for (const e of sum.values()) this.set({ caller: e.caller, callee: e.callee }, e.n);
    },
  });
  return {
    registry,
    observe(labels, status, seconds) {
      const subset = labels.subset || NO_SUBSET;
      requests.inc({ caller: labels.caller, callee: labels.callee, subset, instance: labels.instance, status: statusClass(status) });
      duration.observe({ caller: labels.caller, callee: labels.callee, subset, instance: labels.instance }, seconds);
    },
    track(source) {
      sources.add(source);
      return () => void sources.delete(source);
    },
  };
}

let shared: SdkMetrics | null = null;

/** The process-wide SDK metrics every ServiceClient records into unless given its own. */
export function sdkMetrics(): SdkMetrics {
  return (shared ??= createSdkMetrics());
}

/** The registry holding the SDK's metrics: merge it into yours (`Registry.merge`) or serve it. */
export function sdkRegistry(): Registry {
  return sdkMetrics().registry;
}

/**
 * A `/metrics` handler for a plain `node:http` server: answers the SDK's metrics (and any extra
 * registries given, e.g. the service's own) in Prometheus' text format.
 */
export function metricsHandler(...extra: Registry[]): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (_req, res) => {
    try {
      const registries = [sdkRegistry(), ...extra];
      const body = (await Promise.all(registries.map((r) => r.metrics()))).join('\n');
      res.writeHead(200, { 'content-type': sdkRegistry().contentType }).end(body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`);
    }
  };
}
