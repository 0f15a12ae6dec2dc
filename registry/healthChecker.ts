/**
 * Runs the embedded registry's checks the way a Consul agent does: HTTP (2xx passing, 429
 * warning, anything else critical) and TCP on their Interval (at least 1 s, as Consul clamps)
 * with a Timeout (default 10 s), TTL checks expiring when not refreshed in time, and services
 * whose checks stayed critical longer than DeregisterCriticalServiceAfter (at least 1 min, as
 * Consul clamps) reaped. Output is capped at 4 KB like Consul's. A probe never throws: any
 * failure is a critical result, and the next probe is always scheduled. Starting or stopping
 * one check's runner is O(1) (`syncCheck`); only startup walks every check.
 */
import { connect, type Socket } from 'node:net';
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
/** Consul's `checks.MinInterval`. */
export const MIN_INTERVAL_MS = 1000;
/** Consul's default `OutputMaxSize`. */
export const MAX_OUTPUT = 4096;

/** Truncates check output the way Consul does: `<first 4096 bytes> ... (captured 4096 of N bytes)`. */
export function capOutput(output: string): string {
  const bytes = Buffer.byteLength(output);
  if (bytes <= MAX_OUTPUT) return output;
  const head = Buffer.from(output).subarray(0, MAX_OUTPUT).toString('utf8').replace(/\uFFFD$/, '');
  return `${head} ... (captured ${MAX_OUTPUT} of ${bytes} bytes)`;
}

/** `host:port` with a numeric port 1–65535, or the reason it is not (Go's wording). */
export function tcpAddressProblem(addr: string): string | null {
  const i = addr.lastIndexOf(':');
  if (i === -1 || (addr.startsWith('[') && !addr.slice(i - 1).startsWith(']'))) return `address ${addr}: missing port in address`;
  const port = addr.slice(i + 1);
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `address ${addr}: invalid port`;
  const host = addr.slice(0, i);
  if (!host.startsWith('[') && host.includes(':')) return `address ${addr}: too many colons in address`;
  return null;
}

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
      for (const id of this.state.servicesToReap(this.now())) {
        const checks = this.state.checksOfService(id).map((c) => c.CheckID);
        this.state.deregisterService(id);
        for (const c of checks) this.syncCheck(c);
      }
    }, options.reapEveryMs ?? 1000);
    this.reaper.unref();
    this.sync();
  }

  /** Starts runners for every check and stops those of removed checks: O(all checks), for startup. */
  sync(): void {
    if (this.stopped) return;
    for (const id of this.state.checks.keys()) this.syncCheck(id);
    for (const id of [...this.runners.keys()]) if (!this.state.checks.has(id)) this.syncCheck(id);
  }

  /** Starts, restarts (definition changed) or stops the runner of one check, as the state now says. */
  syncCheck(checkId: string): void {
    if (this.stopped) return;
    const check = this.state.checks.get(checkId);
    const existing = this.runners.get(checkId);
    if (!check) {
      if (existing?.timer) clearTimeout(existing.timer);
      this.runners.delete(checkId);
      return;
    }
    const key = JSON.stringify(check.definition);
    if (existing?.key === key) return;
    if (existing?.timer) clearTimeout(existing.timer);
    const runner: Runner = { key, timer: null };
    this.runners.set(checkId, runner);
    if (check.definition.type === 'ttl') this.armTtl(checkId, runner);
    else this.schedule(checkId, runner, 0);
  }

  /** Checks with a live runner (tests). */
  get runnerCount(): number {
    return this.runners.size;
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
      try {
        const [status, output] = await this.probe(check).catch((err: unknown): [CheckRecord['Status'], string] => ['critical', `check failed: ${(err as Error)?.message ?? String(err)}`]);
        if (this.stopped || this.runners.get(checkId) !== runner || !this.state.checks.has(checkId)) return;
        this.state.updateCheck(checkId, status, capOutput(output));
      } catch {
        // A failed write (storage) must not stop the check: the next probe tries again.
      }
      if (this.stopped || this.runners.get(checkId) !== runner) return;
      this.schedule(checkId, runner, Math.max(MIN_INTERVAL_MS, check.definition.intervalMs ?? 10_000));
    }, delayMs);
    runner.timer.unref();
  }

  private async probe(check: CheckRecord): Promise<[CheckRecord['Status'], string]> {
    const def = check.definition;
    const timeout = def.timeoutMs && def.timeoutMs > 0 ? def.timeoutMs : DEFAULT_TIMEOUT_MS;
    if (def.type === 'http') {
      const method = def.method ?? 'GET';
      try {
        const headers = Object.fromEntries(Object.entries(def.header ?? {}).map(([k, v]) => [k, v.join(', ')]));
        const res = await this.fetchFn(def.http!, { method, headers, signal: AbortSignal.timeout(timeout), redirect: 'manual' });
        const body = await readCapped(res, MAX_OUTPUT);
        const status = res.status >= 200 && res.status < 300 ? 'passing' : res.status === 429 ? 'warning' : 'critical';
        return [status, `HTTP ${method} ${def.http}: ${res.status} ${res.statusText} Output: ${body}`];
      } catch (err) {
        const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
        return ['critical', `${method} ${def.http}: ${cause}`];
      }
    }
    const problem = tcpAddressProblem(def.tcp ?? '');
    if (problem) return ['critical', `dial tcp: ${problem}`];
    return new Promise((resolve) => {
      const [host, portText] = splitHostPort(def.tcp!);
      let socket: Socket;
      try {
        socket = connect({ host, port: Number(portText), timeout });
      } catch (err) {
        resolve(['critical', `dial tcp ${def.tcp}: ${(err as Error).message}`]);
        return;
      }
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

/** At most `max` bytes of a response body; the rest is not read. */
async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

function splitHostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, ''), addr.slice(i + 1)];
}
