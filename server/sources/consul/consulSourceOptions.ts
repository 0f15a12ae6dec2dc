/** Configuration, options and defaults of the Consul adapter (shared by the source and its per-datacenter watches). */
import type { Backoff, Clock, RateLimit } from '../../../clients/consul/blockingQuery';
import type { ConsulHttpOptions } from '../../../clients/consul/consulHttp';
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
  /** Called after every completed request with its body size (for request/byte accounting). */
  onResponse?: ConsulHttpOptions['onResponse'];
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Blocking-query wait. @default DEFAULT_WAIT_MS (60 s) */
  waitMs?: number;
  /** Parallel reads per datacenter (service reads, and node reads of a full read). @default 16 */
  concurrency?: number;
  /**
   * How a full read (first sync, resync after a failure, sweep) reads the datacenter:
   * `nodes` = `/v1/catalog/nodes`, then per node `/v1/catalog/node-services/:node` and
   * `/v1/health/node/:node` (K nodes × 2 requests); `services` = `/v1/health/service/:name`
   * per service (N requests). `auto` uses `nodes` and falls back to `services` when the
   * registry lacks the node endpoints (the embedded registry). @default 'auto'
   */
  fullRead?: 'auto' | 'nodes' | 'services';
  /**
   * A datacenter holding more instances than this (by `/v1/internal/ui/services`, read at
   * start) is listed from that summary first (every service with its health counts, instances
   * `pending`), and its instances are read in the background; a page, data plane or traffic
   * change that needs a pending service gets it read ahead. Smaller ones are read in full
   * before they are listed. 0: always summary first; Infinity: never. @default 10_000
   */
  summaryFirstAbove?: number;
  /** Body size caps per kind of read, in bytes; a larger body fails the read (source goes stale). */
  bodyLimits?: Partial<BodyLimits>;
  /** How often `datacenters: 'all'` re-lists datacenters. @default 60_000 */
  datacenterRefreshMs?: number;
  /** Minimum spacing of full sweeps after unexplained catalog changes. @default 15_000 */
  sweepMinIntervalMs?: number;
  /**
   * Services someone has open that get a long-poll of their own (`/v1/health/service/:name`);
   * more wait for one to close. 0: none. @default 16
   */
  focusedServices?: number;
  /** @default CONSUL_SOURCE_DEFAULTS.statePace: how fast the non-passing lists may be re-read (BlockingQuery `pace`) */
  statePace?: { bytesPerSecond: number };
  /** @default CONSUL_SOURCE_DEFAULTS.rateLimit (burst 3, then one per 25 ms) per watch */
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

export interface BodyLimits {
  /** `/v1/catalog/services` (≈70 B per service). */
  catalog: number;
  /** `/v1/health/state/critical|warning` (≈400 B per non-passing check). */
  checks: number;
  /** `/v1/health/service/:name` (≈1.5 KB per instance). */
  service: number;
  /** `/v1/catalog/nodes`, `/v1/catalog/node-services/:node`, `/v1/health/node/:node`. */
  node: number;
  /** `/v1/internal/ui/services` (≈300–800 B per service). */
  summary: number;
  /** The traffic-policy KV prefix. */
  traffic: number;
}

const MiB = 2 ** 20;

export const CONSUL_SOURCE_DEFAULTS = {
  waitMs: DEFAULT_WAIT_MS,
  concurrency: 16,
  datacenterRefreshMs: 60_000,
  sweepMinIntervalMs: 15_000,
  summaryFirstAbove: 10_000,
  /** With 4 watches and `concurrency` reads, stays under 50 connections per datacenter (the agent drops the 201st per IP). */
  focusedServices: 16,
  /**
   * The blocking query is the rate limiter: a wake is handled at once, and a burst of changes
   * is coalesced into the next answer, at most one request per 25 ms per watch once 3 went
   * back to back. Consul is protected by bounded read concurrency, not by delaying changes.
   */
  rateLimit: { burst: 3, intervalMs: 25 } satisfies RateLimit,
  /**
   * The non-passing lists are re-read no faster than 64 MiB/s: no wait while they are small (a
   * healthy fleet), 40 ms after a 2.6 MB list of 6,500 critical checks, 400 ms after the 26 MB
   * of a datacenter-wide outage, which the agent could not re-encode 20 times a second anyway.
   * (At 16 MiB/s, 200 flips/s cost this process 0.24 instead of 0.40 cores and the agent 0.52
   * instead of 0.80, but the median flip waited 60 ms more: a window of hundreds of ms.)
   */
  statePace: { bytesPerSecond: 64 * MiB },
  bodyLimits: { catalog: 32 * MiB, checks: 64 * MiB, service: 32 * MiB, node: 32 * MiB, summary: 64 * MiB, traffic: 8 * MiB } satisfies BodyLimits,
} as const;
