/**
 * Registering a service the way well-run services do: a deep readiness check (the service
 * decides what ready means) separate from liveness, `DeregisterCriticalServiceAfter` so a
 * crashed instance does not linger, retries with backoff while the registry is still coming
 * up, and a graceful shutdown — on SIGTERM/SIGINT deregister first, stop accepting, let
 * in-flight requests finish up to a deadline, then exit.
 */
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, DEFAULT_BACKOFF } from '../clients/backoff';

export interface HttpCheck {
  /** URL the registry polls; 2xx passes, 429 warns, anything else fails. */
  http: string;
  /** @default 5_000 */
  intervalMs?: number;
  /** @default 2_000 */
  timeoutMs?: number;
}

export interface RegisterOptions {
  /** Consul HTTP address (or Switchboard's embedded registry). */
  registry: string;
  token?: string | null;
  name: string;
  /** @default `${name}-${port}` */
  id?: string;
  /** @default 127.0.0.1 */
  address?: string;
  port: number;
  tags?: string[];
  meta?: Record<string, string>;
  /** Ready to take traffic (dependencies reachable, caches warm): what clients route on. */
  readiness: HttpCheck;
  /** Alive at all; a failing liveness check means "restart me", not just "skip me". */
  liveness?: HttpCheck;
  /** Remove the instance after its checks have been critical this long. @default 60_000 */
  deregisterCriticalAfterMs?: number;
  /** Registration attempts while the registry is unreachable. @default 30 */
  attempts?: number;
  onRetry?: (error: Error, attempt: number, retryInMs: number) => void;
}

export interface Registration {
  id: string;
  /** Removes the instance from the registry (idempotent). */
  deregister(): Promise<void>;
  /**
   * On SIGTERM/SIGINT: deregister, stop accepting, drain in-flight requests for up to
   * `drainMs`, then call `exit` (default: process.exit(0)).
   */
  shutdownGracefully(server: Server, options?: { drainMs?: number; signals?: NodeJS.Signals[]; onDraining?: () => void; exit?: (drainedCleanly: boolean) => void }): void;
}

const seconds = (ms: number) => `${Math.max(1, Math.round(ms / 1000))}s`;

export async function registerService(options: RegisterOptions): Promise<Registration> {
  const id = options.id ?? `${options.name}-${options.port}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers['x-consul-token'] = options.token;
  const deregisterAfter = seconds(options.deregisterCriticalAfterMs ?? 60_000);
  const check = (name: string, c: HttpCheck) => ({
    Name: name,
    HTTP: c.http,
    Interval: seconds(c.intervalMs ?? 5_000),
    Timeout: seconds(c.timeoutMs ?? 2_000),
    DeregisterCriticalServiceAfter: deregisterAfter,
  });
  const body = JSON.stringify({
    ID: id,
    Name: options.name,
    Address: options.address ?? '127.0.0.1',
    Port: options.port,
    Tags: options.tags ?? [],
    Meta: options.meta ?? {},
    // A process registering itself is alive: liveness starts passing (Consul would otherwise hold it
    // critical until the first run, up to one interval, and clients would skip a ready instance).
    // Readiness starts critical until the service proves it.
    Checks: [check('readiness', options.readiness), ...(options.liveness ? [{ ...check('liveness', options.liveness), Status: 'passing' }] : [])],
  });
  const base = options.registry.replace(/\/+$/, '');
  const attempts = options.attempts ?? 30;
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await fetch(`${base}/v1/agent/service/register`, { method: 'PUT', headers, body, signal: AbortSignal.timeout(10_000) });
      const text = await r.text();
      // A 4xx is our mistake (bad definition, ACL): retrying will not fix it.
      if (r.status >= 400 && r.status < 500) throw Object.assign(new Error(`registry refused ${id}: HTTP ${r.status}: ${text.trim()}`), { permanent: true });
      if (!r.ok) throw new Error(`registry answered HTTP ${r.status}: ${text.trim()}`);
      break;
    } catch (err) {
      if ((err as { permanent?: boolean }).permanent || attempt >= attempts) throw err;
      const wait = backoffDelay(attempt, DEFAULT_BACKOFF, Math.random);
      options.onRetry?.(err as Error, attempt, wait);
      await sleep(wait);
    }
  }

  let deregistered = false;
  const deregister = async () => {
    if (deregistered) return;
    deregistered = true;
    await fetch(`${base}/v1/agent/service/deregister/${encodeURIComponent(id)}`, { method: 'PUT', headers, signal: AbortSignal.timeout(5_000) })
      .then((r) => r.arrayBuffer())
      .catch(() => undefined);
  };

  return {
    id,
    deregister,
    shutdownGracefully(server, opts = {}) {
      let inFlight = 0;
      server.on('request', (_req, res) => {
        inFlight++;
        res.once('close', () => inFlight--);
      });
      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        // Deregister first so clients stop picking us, then refuse new connections and drain.
        await deregister();
        opts.onDraining?.();
        server.close();
        // Keep-alive connections would otherwise hold requests to a closing server.
        server.closeIdleConnections();
        const deadline = Date.now() + (opts.drainMs ?? 10_000);
        while (inFlight > 0 && Date.now() < deadline) await sleep(50);
        const clean = inFlight === 0;
        server.closeAllConnections();
        (opts.exit ?? (() => process.exit(0)))(clean);
      };
      for (const signal of opts.signals ?? ['SIGTERM', 'SIGINT']) process.once(signal, () => void stop());
    },
  };
}
