/**
 * Keeps the demo fleet busy so there is always traffic: calls `order`'s /work at a modest,
 * bounded rate, picking passing instances from the registry. Loopback only; stops on stop().
 *
 * With `report`, it reports its calls like an SDK client, as caller "loadgen" (no registered
 * service by that name, so the graph shows it as an external caller of order). It keeps plain
 * fetch — no breakers, no retries — so what it sees is what order answers.
 */
import { randomBytes } from 'node:crypto';
import type { TelemetryReport } from '../protocol/telemetry';
import { newHistogram, recordLatency } from '../sdk/latencyHistogram';
import { countStatus, TelemetryReporter } from '../sdk/telemetryReporter';

export interface LoadGeneratorOptions {
  registryAddr: string;
  /** Requests per second. @default 5 */
  rps?: number;
  /** Report calls to a control plane (a client token), as caller `caller`. */
  report?: { url: string; token: string; caller?: string };
}

export interface LoadGenerator {
  stats(): { ok: number; failed: number };
  stop(): Promise<void>;
}

interface Counters {
  requests: number;
  errors: number;
  latency: number[];
  statuses: Record<string, number>;
}

export function startLoadGenerator(options: LoadGeneratorOptions): LoadGenerator {
  const rps = options.rps ?? 5;
  let ok = 0;
  let failed = 0;
  let targets: { id: string; url: string }[] = [];
  let next = 0;
  let pending = Promise.resolve();
  const counters = new Map<string, Counters>();
  const refresh = async () => {
    const r = await fetch(`${options.registryAddr}/v1/health/service/order?passing=1`).catch(() => null);
    if (!r?.ok) return;
    const list = (await r.json()) as { Service: { ID: string; Address: string; Port: number } }[];
    targets = list.map((e) => ({ id: e.Service.ID, url: `http://${e.Service.Address || '127.0.0.1'}:${e.Service.Port}/work` }));
  };
  const refresher = setInterval(() => void refresh(), 2000);
  void refresh();
  const ticker = setInterval(() => {
    if (targets.length === 0) return;
    const target = targets[next++ % targets.length]!;
    let c = counters.get(target.id);
    if (!c) counters.set(target.id, (c = { requests: 0, errors: 0, latency: newHistogram(), statuses: {} }));
    const stat = c;
    const started = performance.now();
    stat.requests++;
    pending = fetch(target.url, { signal: AbortSignal.timeout(5000) })
      .then(async (r) => {
        await r.arrayBuffer();
        countStatus(stat.statuses, r.status);
        if (r.status >= 500) stat.errors++;
        return r.ok ? ok++ : failed++;
      })
      .catch(() => {
        countStatus(stat.statuses, null);
        stat.errors++;
        failed++;
      })
      .then(() => recordLatency(stat.latency, performance.now() - started));
  }, 1000 / rps);
  const clientId = `loadgen-${randomBytes(6).toString('hex')}`;
  const telemetry = (): TelemetryReport => ({
    clientId,
    caller: options.report?.caller ?? 'loadgen',
    service: 'order',
    datacenter: null,
    guardHolds: 0,
    instances: [...counters].map(([id, c]) => ({ id, breaker: 'closed', requests: c.requests, errors: c.errors, latency: [...c.latency], statuses: { ...c.statuses } })),
  });
  const reporter = options.report ? new TelemetryReporter({ url: options.report.url, token: options.report.token, report: telemetry }) : null;
  reporter?.start();
  return {
    stats: () => ({ ok, failed }),
    async stop() {
      clearInterval(refresher);
      clearInterval(ticker);
      await pending;
      await reporter?.stop();
    },
  };
}
