/**
 * How an xDS data plane balances and ejects within one service's clusters, declared by the
 * service itself in the registry so every data plane (SDK, gRPC, Envoy) reads the same thing:
 *
 * | declares | Consul / embedded (service Meta) | Kubernetes (pod label) | default (the SDK's) |
 * |---|---|---|---|
 * | balancing | `switchboard_lb` | `switchboard.dev/lb` | `round-robin` |
 * | consecutive failures that eject | `switchboard_breaker_failures` | `switchboard.dev/breaker-failures` | 5 |
 * | error % over 10 s that ejects (`off`) | `switchboard_breaker_error_rate` | `switchboard.dev/breaker-error-rate` | 50 |
 * | ejection time, ms | `switchboard_breaker_cooldown_ms` | `switchboard.dev/breaker-cooldown-ms` | 5000 |
 *
 * Balancing values are the SDK's strategies (sdk/trafficSplit.ts). When instances disagree the
 * value most of them carry wins (a rolling change is half-way, not an error); a value that does
 * not parse is ignored. Pure.
 */
import type { Instance, Service } from '../../protocol/model';

export type Balancing = 'round-robin' | 'random' | 'least-outstanding' | 'power-of-two';

export interface BreakerSettings {
  consecutiveFailures: number;
  /** Share of failed requests (0–1] over `windowMs` that ejects; null: off. */
  errorRate: { threshold: number; windowMs: number; minimumRps: number } | null;
  coolDownMs: number;
}

export interface ClusterPolicy {
  balancing: Balancing;
  breaker: BreakerSettings;
}

/** What the SDK does when nothing is declared (sdk/instanceBreaker.ts, sdk/trafficSplit.ts). */
export const SDK_DEFAULTS: ClusterPolicy = {
  balancing: 'round-robin',
  breaker: { consecutiveFailures: 5, errorRate: { threshold: 0.5, windowMs: 10_000, minimumRps: 5 }, coolDownMs: 5_000 },
};

const BALANCING: readonly Balancing[] = ['round-robin', 'random', 'least-outstanding', 'power-of-two'];

/** The declared value of `key` on one instance: Consul-style meta first, then a `label=value` tag. */
function declared(instance: Pick<Instance, 'meta' | 'tags'>, key: string): string | undefined {
  const metaKey = `switchboard_${key.replaceAll('-', '_')}`;
  if (Object.hasOwn(instance.meta, metaKey)) return instance.meta[metaKey];
  const prefix = `switchboard.dev/${key}=`;
  return instance.tags.find((t) => t.startsWith(prefix))?.slice(prefix.length);
}

/** The parsed value most instances declare, or undefined when none declares a valid one. */
function majority<T>(instances: readonly Pick<Instance, 'meta' | 'tags'>[], key: string, parse: (raw: string) => T | undefined): T | undefined {
  const counts = new Map<string, { value: T; n: number }>();
  for (const i of instances) {
    const raw = declared(i, key);
    if (raw === undefined) continue;
    const value = parse(raw.trim());
    if (value === undefined) continue;
    const k = JSON.stringify(value);
    const c = counts.get(k);
    if (c) c.n++;
    else counts.set(k, { value, n: 1 });
  }
  let best: { value: T; n: number } | undefined;
  for (const c of counts.values()) if (!best || c.n > best.n) best = c;
  return best?.value;
}

const positiveInt = (max: number) => (raw: string) => {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= max ? n : undefined;
};

export function clusterPolicy(service: Pick<Service, 'instances'>): ClusterPolicy {
  const { instances } = service;
  const d = SDK_DEFAULTS.breaker;
  const balancing = majority(instances, 'lb', (raw) => (BALANCING as readonly string[]).includes(raw) ? (raw as Balancing) : undefined) ?? SDK_DEFAULTS.balancing;
  const errorRate = majority<number | 'off'>(instances, 'breaker-error-rate', (raw) => (raw === 'off' ? 'off' : positiveInt(100)(raw)));
  return {
    balancing,
    breaker: {
      consecutiveFailures: majority(instances, 'breaker-failures', positiveInt(1_000)) ?? d.consecutiveFailures,
      errorRate: errorRate === 'off' ? null : errorRate === undefined ? d.errorRate : { ...d.errorRate!, threshold: errorRate / 100 },
      coolDownMs: majority(instances, 'breaker-cooldown-ms', positiveInt(3_600_000)) ?? d.coolDownMs,
    },
  };
}

const LB_TYPE = (name: string, message: string) => `type.googleapis.com/envoy.extensions.load_balancing_policies.${name}.v3.${message}`;
const roundRobinPolicy = { policies: [{ typed_extension_config: { name: 'envoy.load_balancing_policies.round_robin', typed_config: { '@any': LB_TYPE('round_robin', 'RoundRobin') } } }] };
/** gRPC's own choice for xDS clusters (what it builds from lb_policy ROUND_ROBIN); Envoy has it too. */
const wrrLocalityRoundRobin = {
  typed_extension_config: { name: 'envoy.load_balancing_policies.wrr_locality', typed_config: { '@any': LB_TYPE('wrr_locality', 'WrrLocality'), endpoint_picking_policy: roundRobinPolicy } },
};

/**
 * The Cluster fields for a policy. Round robin stays the plain `lb_policy` every data plane knows.
 * Anything else is a `load_balancing_policy` list, which a data plane reads first to last and takes
 * the first policy it supports: Envoy takes least request / random; gRPC (which has neither) falls
 * through to round robin over localities instead of refusing the cluster.
 *
 * Breakers become `outlier_detection`: Envoy ejects on `consecutive_5xx`; gRPC implements only the
 * success-rate and failure-percentage algorithms (gRFC A50), so the error-rate rule is carried as
 * failure percentage (the SDK's per-instance view: one host is enough, as many may be ejected as
 * open). Success-rate ejection is switched off: the SDK has no such rule.
 */
export function clusterPolicyFields(policy: ClusterPolicy): Record<string, unknown> {
  const fields: Record<string, unknown> = { lb_policy: 'ROUND_ROBIN' };
  if (policy.balancing !== 'round-robin') {
    const first =
      policy.balancing === 'random'
        ? { typed_extension_config: { name: 'envoy.load_balancing_policies.random', typed_config: { '@any': LB_TYPE('random', 'Random') } } }
        : { typed_extension_config: { name: 'envoy.load_balancing_policies.least_request', typed_config: { '@any': LB_TYPE('least_request', 'LeastRequest'), choice_count: { value: 2 } } } };
    fields.load_balancing_policy = { policies: [first, wrrLocalityRoundRobin] };
  }
  const { consecutiveFailures, errorRate, coolDownMs } = policy.breaker;
  const interval = errorRate?.windowMs ?? 10_000;
  fields.outlier_detection = {
    consecutive_5xx: { value: consecutiveFailures },
    enforcing_consecutive_5xx: { value: 100 },
    interval: duration(interval),
    base_ejection_time: duration(coolDownMs),
    max_ejection_percent: { value: 100 },
    enforcing_success_rate: { value: 0 },
    ...(errorRate
      ? {
          failure_percentage_threshold: { value: Math.round(errorRate.threshold * 100) },
          enforcing_failure_percentage: { value: 100 },
          failure_percentage_minimum_hosts: { value: 1 },
          failure_percentage_request_volume: { value: Math.max(1, Math.round((errorRate.minimumRps * errorRate.windowMs) / 1000)) },
        }
      : { enforcing_failure_percentage: { value: 0 } }),
  };
  return fields;
}

function duration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}
