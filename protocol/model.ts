/**
 * The normalized topology model (DESIGN.md "The model"). Shared by the server and the UI:
 * the types are derived from these zod schemas so the wire and the code cannot drift.
 * Nothing here imports server or UI code.
 */
import { z } from 'zod';
import { BreakerView } from './telemetry';
import { TrafficPolicy } from './traffic';

export const SourceKind = z.enum(['consul', 'kubernetes', 'dns', 'embedded']);
export type SourceKind = z.infer<typeof SourceKind>;

export const SourceState = z.enum(['syncing', 'ok', 'stale', 'down']);
export type SourceState = z.infer<typeof SourceState>;

export const Health = z.enum(['passing', 'warning', 'critical', 'unknown']);
export type Health = z.infer<typeof Health>;

export const SourceStatus = z.object({
  id: z.string(),
  kind: SourceKind,
  name: z.string(),
  /** Where the registry lives (never carries credentials). */
  address: z.string().nullable(),
  state: SourceState,
  /** ISO time of the last complete, successful sync. */
  lastSyncAt: z.string().nullable(),
  lastError: z.string().nullable(),
  /** Datacenters (Consul) or namespaces (Kubernetes) this source currently covers. */
  scopes: z.array(z.string()),
  /** What the adapter wants users to know about how it reads the registry (e.g. which Kubernetes endpoints API). */
  detail: z.string().nullable().optional(),
});
export type SourceStatus = z.infer<typeof SourceStatus>;

export const Check = z.object({
  id: z.string(),
  name: z.string(),
  status: Health,
  output: z.string(),
  /** ttl | http | tcp | serf | … as the registry reports it; '' if unknown. */
  type: z.string(),
  /** Node-level checks (Consul serfHealth) apply to every instance on the node. */
  nodeLevel: z.boolean(),
});
export type Check = z.infer<typeof Check>;

export const Instance = z.object({
  /** Unique within its service: `<node>/<registry instance id>` for Consul. */
  id: z.string(),
  address: z.string(),
  port: z.number().int(),
  tags: z.array(z.string()),
  meta: z.record(z.string(), z.string()),
  node: z.string().nullable(),
  health: Health,
  checks: z.array(Check),
  /** Circuit breakers of the SDK clients calling it (absent when none report it). */
  breaker: BreakerView.optional(),
});
export type Instance = z.infer<typeof Instance>;

/** How a DNS source last resolved a name: the staleness window DNS caching creates. */
export const DnsResolution = z.object({
  /** TTL of the records as served, seconds. */
  recordTtl: z.number(),
  /** When the source asks again: the TTL clamped to the source's min/max, seconds. */
  effectiveTtl: z.number(),
  resolvedAt: z.string(),
  server: z.string(),
  transport: z.enum(['udp', 'tcp']),
  /** Why TCP was needed (a truncated or possibly partial UDP answer), when it was. */
  note: z.string().nullable(),
  rcode: z.string(),
});
export type DnsResolution = z.infer<typeof DnsResolution>;

/** A service without its instances: what `service.put` deltas carry. */
export const ServiceHeader = z.object({
  /** `sourceId/scope/name` */
  id: z.string(),
  sourceId: z.string(),
  scope: z.string(),
  name: z.string(),
  /** Union of the instances' tags, sorted. */
  tags: z.array(z.string()),
  /** The traffic policy in the registry, if any; set by the store, adapters leave it out. */
  traffic: TrafficPolicy.nullable().optional(),
  /** DNS sources only: how and when the name was last resolved. */
  dns: DnsResolution.optional(),
});
export type ServiceHeader = z.infer<typeof ServiceHeader>;

export const Service = ServiceHeader.extend({ instances: z.array(Instance) });
export type Service = z.infer<typeof Service>;

export const HealthCounts = z.object({
  passing: z.number().int(),
  warning: z.number().int(),
  critical: z.number().int(),
  unknown: z.number().int(),
});
export type HealthCounts = z.infer<typeof HealthCounts>;

export const Topology = z.object({
  rev: z.number().int(),
  sources: z.array(SourceStatus),
  services: z.array(Service),
});
export type Topology = z.infer<typeof Topology>;

export function serviceId(sourceId: string, scope: string, name: string): string {
  return `${sourceId}/${scope}/${name}`;
}

/** Worst status wins, as Consul aggregates checks; no checks at all means passing (Consul's view). */
export function aggregateHealth(checks: readonly Pick<Check, 'status'>[]): Health {
  let worst: Health = 'passing';
  for (const c of checks) {
    if (c.status === 'critical') return 'critical';
    if (c.status === 'warning') worst = 'warning';
    else if (c.status === 'unknown' && worst === 'passing') worst = 'unknown';
  }
  return worst;
}

export function healthCounts(instances: readonly Pick<Instance, 'health'>[]): HealthCounts {
  const counts: HealthCounts = { passing: 0, warning: 0, critical: 0, unknown: 0 };
  for (const i of instances) counts[i.health] += 1;
  return counts;
}
