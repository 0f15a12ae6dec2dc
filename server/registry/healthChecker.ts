/**
 * Runs the embedded registry's checks the way a Consul agent does: HTTP (2xx passing, 429
 * warning, anything else critical) and TCP on their Interval with a Timeout (default 10 s),
 * TTL checks expiring when not refreshed in time, and services whose checks stayed critical
 * longer than DeregisterCriticalServiceAfter (at least 1 min, as Consul clamps) reaped.
 */
import { connect } from 'node:net';
import type { CheckRecord } from './registryRecords';
import type { RegistryState } from './registryState';

export interface HealthCheckerOptions {
  /** How often to look for services to reap. Consul uses 30 s; we look every second. @default 1000 */
  reapEveryMs?: number;
  now?: () => number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

interface Runner {
  key: string;
  timer: NodeJS.Timeout | null;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_OUTPUT = 4096;

export class HealthChecker {
  private readonly runners = new Map<string, Runner>();
  private readonly reaper: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly fetchFn: typeof fetch;
  private stopped = false;

  constructor(
    private readonly state: RegistryState,
    options: HealthCheckerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.fetchFn = options.fetch ?? fetch;
    this.reaper = setInterval(() => {
      const doomed = this.state.servicesToReap(this.now());
      for (const id of doomed) this.state.deregisterService(id);
      if (doomed.length > 0) this.sync();
    }, options.reapEveryMs ?? 1000);
    this.reaper.unref();
    this.sync();
  }

  /** Starts runners for new or changed checks and stops those of removed checks. */
  sync(): void {
    if (this.stopped) return;
    const seen = new Set<string>();
    for (const check of this.state.checks.values()) {
      seen.add(check.CheckID);
      const key = JSON.stringify(check.definition);
      const existing = this.runners.get(check.CheckID);
      if (existing?.key === key) continue;
      if (existing?.timer) clearTimeout(existing.timer);
      const runner: Runner = { key, timer: null };
      this.runners.set(check.CheckID, runner);
      if (check.definition.type === 'ttl') this.armTtl(check.CheckID, runner);
      else this.schedule(check.CheckID, runner, 0);
    }
    for (const [id, r] of this.runners) {
      if (seen.has(id)) continue;
      if (r.timer) clearTimeout(r.timer);
      this.runners.delete(id);
    }
  }

  /** A TTL check was refreshed through the API: its clock restarts. */
  ttlRefreshed(checkId: string): void {
    const r = this.runners.get(checkId);
    if (r) this.armTtl(checkId, r);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.reaper);
    for (const r of this.runners.values()) if (r.timer) clearTimeout(r.timer);
    this.runners.clear();
  }

  private armTtl(checkId: string, runner: Runner): void {
    if (runner.timer) clearTimeout(runner.timer);
    const ttl = this.state.checks.get(checkId)?.definition.ttlMs;
    if (!ttl) return;
    runner.timer = setTimeout(() => {
      const c = this.state.checks.get(checkId);
      if (!c || this.runners.get(checkId) !== runner) return;
      const output = c.Output && !c.Output.startsWith('TTL expired') ? `TTL expired (last output before timeout follows): ${c.Output}` : 'TTL expired';
      this.state.updateCheck(checkId, 'critical', output);
    }, ttl);
    runner.timer.unref();
  }

  private schedule(checkId: string, runner: Runner, delayMs: number): void {
    runner.timer = setTimeout(async () => {
      const check = this.state.checks.get(checkId);
      if (!check || this.stopped || this.runners.get(checkId) !== runner) return;
      const [status, output] = await this.probe(check);
      if (this.stopped || this.runners.get(checkId) !== runner || !this.state.checks.has(checkId)) return;
      this.state.updateCheck(checkId, status, output);
      this.schedule(checkId, runner, check.definition.intervalMs ?? 10_000);
    }, delayMs);
    runner.timer.unref();
  }

  private async probe(check: CheckRecord): Promise<[CheckRecord['Status'], string]> {
    const def = check.definition;
    const timeout = def.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (def.type === 'http') {
      const method = def.method ?? 'GET';
      const headers = Object.fromEntries(Object.entries(def.header ?? {}).map(([k, v]) => [k, v.join(', ')]));
      try {
        const res = await this.fetchFn(def.http!, { method, headers, signal: AbortSignal.timeout(timeout), redirect: 'manual' });
        const body = (await res.text()).slice(0, MAX_OUTPUT);
        const status = res.status >= 200 && res.status < 300 ? 'passing' : res.status === 429 ? 'warning' : 'critical';
        return [status, `HTTP ${method} ${def.http}: ${res.status} ${res.statusText} Output: ${body}`];
      } catch (err) {
        const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
        return ['critical', `${method} ${def.http}: ${cause}`];
      }
    }
    return new Promise((resolve) => {
      const [host, portText] = splitHostPort(def.tcp!);
      const socket = connect({ host, port: Number(portText), timeout });
      const finish = (result: [CheckRecord['Status'], string]) => {
        socket.destroy();
        resolve(result);
      };
      socket.once('connect', () => finish(['passing', `TCP connect ${def.tcp}: Success`]));
      socket.once('timeout', () => finish(['critical', `dial tcp ${def.tcp}: i/o timeout`]));
      socket.once('error', (err) => finish(['critical', `dial tcp ${def.tcp}: ${err.message}`]));
    });
  }
}

function splitHostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), addr.slice(i + 1)];
}
