/**
 * The normalized topology model (DESIGN.md "The model"). Shared by the server and the UI:
 * the types are derived from these zod schemas so the wire and the code cannot drift.
 * Nothing here imports server or UI code.
 */
import { z } from 'zod';
import { BreakerView } from './telemetry';
import { RolloutBadge } from './rollout';
import { isDrained, TrafficPolicy } from './traffic';

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

export const HealthCounts = z.object({
  passing: z.number().int(),
  warning: z.number().int(),
  critical: z.number().int(),
  unknown: z.number().int(),
});
export type HealthCounts = z.infer<typeof HealthCounts>;

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
  /**
   * Set while the service's instances have not been read yet (a large registry's first sync
   * lists every service with the registry's own health counts first, then reads instances):
   * the counts to show meanwhile. Absent once the instances are in.
   */
  pending: HealthCounts.optional(),
});
export type ServiceHeader = z.infer<typeof ServiceHeader>;

export const Service = ServiceHeader.extend({ instances: z.array(Instance) });
export type Service = z.infer<typeof Service>;

/**
 * What the service list needs of one service, and all that every browser receives for it
 * (DESIGN.md "The model": the summary view). Instance detail travels only to clients that
 * opened the service, so the list costs O(services), never O(instances).
 */
export const ServiceSummary = z.object({
  /** `sourceId/scope/name` */
  id: z.string(),
  sourceId: z.string(),
  scope: z.string(),
  name: z.string(),
  tags: z.array(z.string()),
  /** Instances by health. */
  counts: HealthCounts,
  /** The split in force, when the service has a traffic policy: subset → weight. */
  weights: z.record(z.string(), z.number()).nullable(),
  /** Instances on the policy's drain list. */
  drained: z.number().int(),
  /** Instances some client sees with an open or half-open breaker. */
  breakersOpen: z.number().int(),
  /** The service's rollout (progressive delivery), when it has one; set by the rollout controller. */
  rollout: RolloutBadge.optional(),
});
export type ServiceSummary = z.infer<typeof ServiceSummary>;

/** The list view: every source and every service's summary, at one revision. */
export const TopologySummary = z.object({
  rev: z.number().int(),
  sources: z.array(SourceStatus),
  services: z.array(ServiceSummary),
});
export type TopologySummary = z.infer<typeof TopologySummary>;

export const Topology = z.object({
  rev: z.number().int(),
  sources: z.array(SourceStatus),
  services: z.array(Service),
});
export type Topology = z.infer<typeof Topology>;

/** `source/scope/name` with each part URL-encoded, for `/services/…` pages and `/api/services/…` routes. */
export function servicePath(id: string): string {
  return id.split('/').map(encodeURIComponent).join('/');
}

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

/** The list's view of one service (see ServiceSummary). O(instances of that service). */
export function summarize(header: ServiceHeader, instances: Iterable<Instance>): ServiceSummary {
  const counts: HealthCounts = { passing: 0, warning: 0, critical: 0, unknown: 0 };
  const drain = header.traffic?.drain ?? [];
  let drained = 0;
  let breakersOpen = 0;
  for (const i of instances) {
    counts[i.health] += 1;
    if (drain.length > 0 && isDrained(drain, i.id)) drained += 1;
    if (i.breaker && i.breaker.state !== 'closed') breakersOpen += 1;
  }
  // Instances not read yet: the registry's counts stand in for them.
  if (header.pending) Object.assign(counts, header.pending);
  return {
    id: header.id,
    sourceId: header.sourceId,
    scope: header.scope,
    name: header.name,
    tags: header.tags,
    counts,
    weights: header.traffic ? header.traffic.weights : null,
    drained,
    breakersOpen,
  };
}
