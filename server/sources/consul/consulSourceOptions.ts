/** Configuration, options and defaults of the Consul adapter (shared by the source and its per-datacenter watches). */
import type { Backoff, Clock, RateLimit } from '../../../clients/consul/blockingQuery';
import { DEFAULT_WAIT_MS } from '../../../clients/consul/blockingQuery';

/** A `Config.consulSources` entry. */
export interface ConsulSourceConfig {
  /** `embedded` when this watches Switchboard's own registry (same API, shown as such). */
  kind: 'consul' | 'embedded';
  name: string;
  /** No trailing slash. */
  address: string;
  token: string | null;
  datacenters: 'all' | string[];
}

/** The pino methods the adapter uses; a pino logger fits. */
export interface SourceLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface ConsulSourceOptions {
  /** @default a logger that drops everything */
  logger?: SourceLogger;
  /** Called after every completed request to Consul, blocking or not; `endpoint` is a low-cardinality path. */
  onWatchLatency?(seconds: number, endpoint: string): void;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Blocking-query wait. @default DEFAULT_WAIT_MS (60 s) */
  waitMs?: number;
  /** Parallel `/v1/health/service/:name` reads per datacenter. @default 8 */
  concurrency?: number;
  /** How often `datacenters: 'all'` re-lists datacenters. @default 60_000 */
  datacenterRefreshMs?: number;
  /** Minimum spacing of full sweeps after unexplained catalog changes. @default 15_000 */
  sweepMinIntervalMs?: number;
  /** @default DEFAULT_RATE_LIMIT (burst 2, then one per 500 ms) per watch */
  rateLimit?: RateLimit;
  /** @default DEFAULT_BACKOFF (0.1–0.5 s first, doubling, capped at 15 s) */
  backoff?: Backoff;
  /** Timeout of non-blocking reads. @default 10_000 */
  requestTimeoutMs?: number;
  /** @default systemClock */
  clock?: Clock;
  /** @default Math.random */
  random?: () => number;
}

export const CONSUL_SOURCE_DEFAULTS = {
  waitMs: DEFAULT_WAIT_MS,
  concurrency: 8,
  datacenterRefreshMs: 60_000,
  sweepMinIntervalMs: 15_000,
} as const;
