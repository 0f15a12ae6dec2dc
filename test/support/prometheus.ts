/**
 * Test helper: a real Prometheus (Debian's 2.42, installed on first use by
 * scripts/install-prometheus.sh under .cache/) on a free loopback port, with a generated config
 * that discovers its targets through Switchboard's `GET /api/prometheus/targets` (http_sd,
 * Bearer token, 1 s refresh) and scrapes them every second, storing into a temporary directory.
 * Every server started here is killed on `stop()`, and as a last resort when the process exits.
 *
 * @example
 *   const prom = await startPrometheus({ switchboard: base, token: viewerToken });
 *   afterAll(() => prom.stop());
 *   await prom.query('sum(switchboard_client_requests_total)');
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { spawnTestProcess, type TestProcess } from './testProcess';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from './consulAgent';

export interface PrometheusOptions {
  /** Switchboard's base URL; its /api/prometheus/targets is the http_sd endpoint. Omit for no scrape job. */
  switchboard?: string;
  /** Bearer token Prometheus sends to Switchboard (a viewer's). */
  token?: string;
  /** @default '1s' */
  scrapeInterval?: string;
  /** Extra static targets (host:port) scraped by a second job `static`, e.g. Switchboard's own /metrics. */
  staticTargets?: string[];
  /** Use this TSDB directory (kept on stop) instead of a fresh temporary one. */
  storageDir?: string;
  /** Retention, e.g. '2h'. @default Prometheus' own */
  retention?: string;
  /** @default 30_000 */
  startTimeoutMs?: number;
  /** Listen here (e.g. a port picked earlier so Switchboard's config can name it). @default a free port */
  port?: number;
}

export interface PrometheusServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly storageDir: string;
  /** Instant query; throws with Prometheus' error on failure. */
  query(promql: string, time?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** /api/v1/targets' active targets. */
  activeTargets(): Promise<{ labels: Record<string, string>; discoveredLabels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[]>;
  stop(): Promise<void>;
  /** Starts it again on the same port and storage. */
  restart(): Promise<void>;
  pid(): number | null;
  logs(): string;
}

/** The prometheus binary (promtool beside it), installed on first use. */
export function prometheusBinary(): string {
  const script = resolve(import.meta.dirname, '..', '..', 'scripts', 'install-prometheus.sh');
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop()!;
}

export function promtoolBinary(): string {
  return join(prometheusBinary(), '..', 'promtool');
}

/** The prometheus.yml a test (or the README) uses: one http_sd job pointed at Switchboard. */
export function prometheusConfig(options: { switchboard?: string; tokenFile?: string; scrapeInterval?: string; staticTargets?: string[] }): string {
  const interval = options.scrapeInterval ?? '1s';
  const lines = ['global:', `  scrape_interval: ${interval}`, `  evaluation_interval: ${interval}`, 'scrape_configs:'];
  if (options.switchboard) {
    lines.push(
      '  - job_name: switchboard-fleet',
      // The SDK's series carry their own `instance` and `subset` (the callee's): keep them.
      '    honor_labels: true',
      '    http_sd_configs:',
      `      - url: ${options.switchboard.replace(/\/+$/, '')}/api/prometheus/targets`,
      '        refresh_interval: 1s',
      ...(options.tokenFile ? ['        authorization:', '          type: Bearer', `          credentials_file: ${options.tokenFile}`] : []),
    );
  }
  if (options.staticTargets?.length) {
    lines.push('  - job_name: static', '    honor_labels: true', '    static_configs:', `      - targets: [${options.staticTargets.map((t) => JSON.stringify(t)).join(', ')}]`);
  }
  return `${lines.join('\n')}\n`;
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<PrometheusServer> {
  const bin = prometheusBinary();
  const port = options.port ?? ((await freePorts(1)) as [number])[0];
  const work = mkdtempSync(join(tmpdir(), 'sb-prom-'));
  const storageDir = options.storageDir ?? join(work, 'data');
  const tokenFile = options.token ? join(work, 'token') : undefined;
  if (tokenFile) writeFileSync(tokenFile, options.token!, { mode: 0o600 });
  const configFile = join(work, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig({ switchboard: options.switchboard, tokenFile, scrapeInterval: options.scrapeInterval, staticTargets: options.staticTargets }));
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${storageDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
    ...(options.retention ? [`--storage.tsdb.retention.time=${options.retention}`] : []),
  ];
  let child: ChildProcess | null = null;
  /** The latest launch (its output stays readable after it stops). */
  let last: TestProcess | null = null;
  const logs = () => last?.logs() ?? '';

  async function launch(): Promise<void> {
    last = spawnTestProcess(bin, args, { cwd: work });
    const c = last.child;
    child = c;
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`prometheus exited during start:\n${logs()}`);
      try {
        const r = await fetch(`${url}/-/ready`);
        await r.arrayBuffer();
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await halt();
        throw new Error(`prometheus not ready after ${options.startTimeoutMs ?? 30_000} ms:\n${logs()}`);
      }
      await sleep(100);
    }
  }

  async function halt(): Promise<void> {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((ok) => c.once('exit', () => ok()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async function api<T>(path: string): Promise<T> {
    const r = await fetch(`${url}${path}`);
    const body = (await r.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? r.status}`);
    return body.data;
  }

  await launch();
  return {
    url,
    port,
    storageDir,
    query: async (promql, time) =>
      (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}${time ? `&time=${time / 1000}` : ''}`)).result,
    activeTargets: async () => (await api<{ activeTargets: Awaited<ReturnType<PrometheusServer['activeTargets']>> }>('/api/v1/targets?state=active')).activeTargets,
    async stop() {
      await halt();
      rmSync(work, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await launch();
    },
    pid: () => child?.pid ?? null,
    logs,
  };
}
