/**
 * What SDK clients report to the control plane (POST /api/telemetry), at most once a second:
 * per instance they call, the breaker state as this client sees it and cumulative counters
 * since the client started (so a lost report loses nothing).
 */
import { z } from 'zod';

export const BreakerState = z.enum(['closed', 'open', 'half-open']);
export type BreakerState = z.infer<typeof BreakerState>;

/** A status key: a 3-digit HTTP status or "error" (no answer). */
export const STATUS_KEY = /^([1-5][0-9][0-9]|error)$/;
/** Distinct status keys one instance report may carry (the SDK folds the rest into "error"). */
export const MAX_STATUS_KEYS = 32;

export const InstanceReport = z.strictObject({
  /** The registry's instance id (Consul service ID). */
  id: z.string().min(1),
  breaker: BreakerState,
  requests: z.number().int().min(0),
  errors: z.number().int().min(0),
  /** Cumulative counts per latency bucket (sdk/latencyHistogram.ts). */
  latency: z.array(z.number().int().min(0)).max(32),
  /**
   * Cumulative answers per HTTP status code ("200", "503"), "error" for calls that got no
   * answer (connection refused, timeout). Optional: clients before it report none.
   */
  statuses: z
    .record(z.string().regex(STATUS_KEY), z.number().int().min(0))
    .refine((r) => Object.keys(r).length <= MAX_STATUS_KEYS, `at most ${MAX_STATUS_KEYS} status codes`)
    .optional(),
});
export type InstanceReport = z.infer<typeof InstanceReport>;

export const TelemetryReport = z.strictObject({
  /** Unique per client process and service, stable for its lifetime. */
  clientId: z.string().min(1).max(200),
  /** Who is calling, e.g. "order" or "switchboard-gateway". */
  caller: z.string().min(1).max(200),
  service: z.string().min(1).max(200),
  /** Datacenter of the service, if the client knows it. */
  datacenter: z.string().max(200).nullable().default(null),
  /** Sudden drops of the instance list the client's sanity guard held back so far. */
  guardHolds: z.number().int().min(0).default(0),
  instances: z.array(InstanceReport).max(10_000),
});
export type TelemetryReport = z.infer<typeof TelemetryReport>;

/** An instance's breakers across all reporting clients, as the dashboard shows it. */
export const BreakerView = z.object({
  /** The worst state any client sees. */
  state: BreakerState,
  clients: z.number().int(),
  open: z.number().int(),
  halfOpen: z.number().int(),
});
export type BreakerView = z.infer<typeof BreakerView>;

/** One 5-second bucket of a service's or instance's requests, as the dashboard charts it. */
export interface SeriesPoint {
  /** Bucket start, ms since epoch. */
  t: number;
  rps: number;
  /** 0–1, null when there were no requests. */
  errorRate: number | null;
  p50: number | null;
  p99: number | null;
}
