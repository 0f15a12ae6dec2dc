/**
 * The resource builder (service → Listener, RouteConfiguration, Cluster, ClusterLoadAssignment)
 * as plain objects: the shapes gRPC's xDS client reads, the weight split, the health mapping,
 * and a property over any policy (valid or hostile) — valid weighted clusters, no NaN, only
 * real subsets, and every resource encodable by the Envoy protos.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Instance, Service } from '../../protocol/model';
import { TrafficPolicy } from '../../protocol/traffic';
import { check, instance, service } from '../../test/fixtures';
import { XdsResourceCache } from './xdsResourceCache';
import { SDK_DEFAULTS, clusterPolicy, clusterPolicyFields } from './clusterPolicy';
import { healthStatus, listenerNames, serviceResources, type ResourceSpec } from './xdsResources';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function policy(weights: Record<string, number>, drain: string[] = [], subsets?: Record<string, { tags: string[] }>): TrafficPolicy {
  return { version: 1, subsets: subsets ?? Object.fromEntries(Object.keys(weights).map((n) => [n, { tags: [n] }])), weights, drain, updatedAt: '2026-11-30T00:00:00Z', updatedBy: 'test', reason: '' };
}

function payment(instances: Instance[], traffic?: TrafficPolicy): Service {
  return { ...service('prod', 'dc1', 'payment', instances, ['blue', 'green']), ...(traffic ? { traffic } : {}) };
}

const fleet = () => [
  instance('n1/b1', { address: '10.0.0.1', port: 9001, tags: ['blue'] }),
  instance('n1/b2', { address: '10.0.0.2', port: 9001, tags: ['blue'] }),
  instance('n2/g1', { address: '10.0.0.3', port: 9001, tags: ['green'] }),
];

const of = (specs: ResourceSpec[], type: ResourceSpec['type']) => specs.filter((r) => r.type === type);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const routeAction = (specs: ResourceSpec[]): Json => (of(specs, 'route')[0]!.message as Json).virtual_hosts[0].routes[0].route;

describe('serviceResources: shapes', () => {
  it('listeners: the bare name while unique, always the qualified one; each a gRPC API listener → RDS over ADS', () => {
    expect(listenerNames({ sourceId: 'prod', scope: 'dc1', name: 'payment' }, true)).toEqual(['payment', 'payment.dc1.prod']);
    expect(listenerNames({ sourceId: 'prod', scope: 'dc1', name: 'payment' }, false)).toEqual(['payment.dc1.prod']);
    const r = serviceResources(payment(fleet()), true);
    expect(r.listeners).toEqual(['payment', 'payment.dc1.prod']);
    const [l] = of(r.resources, 'listener');
    expect(l!.name).toBe('payment');
    expect(l!.message).toEqual({
      name: 'payment',
      api_listener: {
        api_listener: {
          '@any': HCM,
          stat_prefix: 'payment',
          rds: { config_source: { ads: {}, resource_api_version: 'V3' }, route_config_name: 'prod/dc1/payment' },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@any': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        },
      },
    });
  });

  it('without a policy: one route to one EDS cluster holding every instance (round robin, the SDK’s breaker as outlier detection)', () => {
    const r = serviceResources(payment(fleet()), true);
    expect(r.route).toBe('prod/dc1/payment');
    expect(of(r.resources, 'route')[0]!.message).toEqual({
      name: 'prod/dc1/payment',
      virtual_hosts: [{ name: 'payment', domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: 'prod/dc1/payment' } }] }],
    });
    const clusters = of(r.resources, 'cluster');
    expect(clusters.map((c) => c.message)).toEqual([
      {
        name: 'prod/dc1/payment',
        type: 'EDS',
        eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'prod/dc1/payment' },
        lb_policy: 'ROUND_ROBIN',
        outlier_detection: clusterPolicyFields(SDK_DEFAULTS).outlier_detection,
        connect_timeout: { seconds: 5 },
      },
    ]);
    expect(clusters[0]!.message).not.toHaveProperty('load_balancing_policy');
    const [cla] = of(r.resources, 'endpoint');
    expect(cla!.message).toEqual({
      cluster_name: 'prod/dc1/payment',
      endpoints: [
        {
          locality: { region: 'prod', zone: 'dc1' },
          load_balancing_weight: { value: 1 },
          priority: 0,
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 9001 } }, hostname: 'n1/b1' }, health_status: 'HEALTHY' },
            { endpoint: { address: { socket_address: { address: '10.0.0.2', port_value: 9001 } }, hostname: 'n1/b2' }, health_status: 'HEALTHY' },
            { endpoint: { address: { socket_address: { address: '10.0.0.3', port_value: 9001 } }, hostname: 'n2/g1' }, health_status: 'HEALTHY' },
          ],
        },
      ],
    });
    expect(r.clusters).toEqual([{ name: 'prod/dc1/payment', weight: 100, endpoints: 3, skipped: [] }]);
  });

  it('with a policy: a cluster and an assignment per subset, the route split by weight, summing to 100', () => {
    const r = serviceResources(payment(fleet(), policy({ blue: 80, green: 20 })), true);
    expect(routeAction(r.resources)).toEqual({ weighted_clusters: { clusters: [{ name: 'prod/dc1/payment#blue', weight: { value: 80 } }, { name: 'prod/dc1/payment#green', weight: { value: 20 } }] } });
    expect(of(r.resources, 'cluster').map((c) => c.name)).toEqual(['prod/dc1/payment#blue', 'prod/dc1/payment#green']);
    const members = (name: string): string[] => (of(r.resources, 'endpoint').find((e) => e.name === name)!.message as Json).endpoints[0].lb_endpoints.map((e: Json) => e.endpoint.hostname);
    expect(members('prod/dc1/payment#blue')).toEqual(['n1/b1', 'n1/b2']);
    expect(members('prod/dc1/payment#green')).toEqual(['n2/g1']);
    expect(r.clusters.map((c) => [c.name, c.weight, c.endpoints])).toEqual([
      ['prod/dc1/payment#blue', 80, 2],
      ['prod/dc1/payment#green', 20, 1],
    ]);
  });

  it('a subset at 0 keeps its cluster but leaves the route; one subset at 100 is a plain cluster route', () => {
    const r = serviceResources(payment(fleet(), policy({ blue: 100, green: 0 })), true);
    expect(routeAction(r.resources)).toEqual({ cluster: 'prod/dc1/payment#blue' });
    expect(of(r.resources, 'cluster').map((c) => c.name)).toEqual(['prod/dc1/payment#blue', 'prod/dc1/payment#green']);
    const three = serviceResources(payment(fleet(), policy({ blue: 50, green: 0, canary: 50 })), true);
    expect(routeAction(three.resources).weighted_clusters.clusters.map((c: Json) => c.name)).toEqual(['prod/dc1/payment#blue', 'prod/dc1/payment#canary']);
  });

  it('a subset without members gets an empty assignment (gRPC: no endpoints → UNAVAILABLE for its share)', () => {
    const r = serviceResources(payment(fleet(), policy({ blue: 90, canary: 10 })), true);
    expect(of(r.resources, 'endpoint').find((e) => e.name === 'prod/dc1/payment#canary')!.message).toEqual({ cluster_name: 'prod/dc1/payment#canary', endpoints: [] });
  });

  it('leaves out (and names) instances gRPC would refuse the whole assignment for', () => {
    const r = serviceResources(
      payment([
        instance('n/ok', { address: '10.0.0.1', port: 80 }),
        instance('n/dns', { address: 'payment-1.internal', port: 80 }),
        instance('n/twice', { address: '10.0.0.1', port: 80 }),
        instance('n/v6', { address: '::1', port: 80 }),
      ]),
      true,
    );
    expect(r.clusters[0]).toEqual({
      name: 'prod/dc1/payment',
      weight: 100,
      endpoints: 2,
      skipped: ['n/dns: payment-1.internal is not an IP address', 'n/twice: 10.0.0.1:80 is listed twice'],
    });
  });
});

describe('health → endpoint health_status', () => {
  it.each([
    ['passing', 'HEALTHY'],
    ['warning', 'DEGRADED'],
    ['critical', 'UNHEALTHY'],
    ['unknown', 'UNKNOWN'],
  ] as const)('%s → %s', (health, status) => {
    expect(healthStatus({ id: 'n/p1', health }, [])).toBe(status);
    const r = serviceResources(payment([instance('n/p1', { address: '10.0.0.1', checks: health === 'unknown' ? [] : [check(health)], health })]), true);
    expect((of(r.resources, 'endpoint')[0]!.message as Json).endpoints[0].lb_endpoints[0].health_status).toBe(status);
  });

  it('drained → DRAINING, whatever its checks say, by registry id or topology id', () => {
    expect(healthStatus({ id: 'n/p1', health: 'passing' }, ['p1'])).toBe('DRAINING');
    expect(healthStatus({ id: 'n/p1', health: 'critical' }, ['n/p1'])).toBe('DRAINING');
    expect(healthStatus({ id: 'n/p2', health: 'passing' }, ['p1'])).toBe('HEALTHY');
    const r = serviceResources(payment(fleet(), policy({ blue: 80, green: 20 }, ['b1'])), true);
    const blue = (of(r.resources, 'endpoint').find((e) => e.name === 'prod/dc1/payment#blue')!.message as Json).endpoints[0].lb_endpoints;
    expect(blue.map((e: Json) => [e.endpoint.hostname, e.health_status])).toEqual([
      ['n1/b1', 'DRAINING'],
      ['n1/b2', 'HEALTHY'],
    ]);
  });
});

describe('balancing and outlier detection as the service declares them', () => {
  const declaring = (meta: Record<string, string>, tags: string[] = []) =>
    payment(fleet().map((i, n) => ({ ...i, meta: n < 2 ? meta : {}, tags: n < 2 ? [...i.tags, ...tags] : i.tags })));
  const cluster = (svc: Service): Json => of(serviceResources(svc, true).resources, 'cluster')[0]!.message;

  it('least request (Consul meta): Envoy takes least_request, gRPC falls through to round robin over localities', () => {
    const c = cluster(declaring({ switchboard_lb: 'least-outstanding' }));
    expect(c.lb_policy).toBe('ROUND_ROBIN');
    const [first, fallback] = c.load_balancing_policy.policies;
    expect(first.typed_extension_config.typed_config).toEqual({ '@any': 'type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest', choice_count: { value: 2 } });
    expect(fallback.typed_extension_config.typed_config['@any']).toBe('type.googleapis.com/envoy.extensions.load_balancing_policies.wrr_locality.v3.WrrLocality');
    expect(fallback.typed_extension_config.typed_config.endpoint_picking_policy.policies[0].typed_extension_config.name).toBe('envoy.load_balancing_policies.round_robin');
  });

  it('random (Kubernetes pod label, seen as a tag) and the majority wins over a stray value', () => {
    const svc = declaring({}, ['switchboard.dev/lb=random']);
    svc.instances[2] = { ...svc.instances[2]!, meta: { switchboard_lb: 'power-of-two' } };
    expect(clusterPolicy(svc).balancing).toBe('random');
    expect(cluster(svc).load_balancing_policy.policies[0].typed_extension_config.name).toBe('envoy.load_balancing_policies.random');
  });

  it('breaker settings → outlier_detection: consecutive_5xx for Envoy, failure percentage for gRPC, ejection time from the cool-down', () => {
    const od = cluster(declaring({ switchboard_breaker_failures: '3', switchboard_breaker_error_rate: '20', switchboard_breaker_cooldown_ms: '1500' })).outlier_detection;
    expect(od).toEqual({
      consecutive_5xx: { value: 3 },
      enforcing_consecutive_5xx: { value: 100 },
      interval: { seconds: 10, nanos: 0 },
      base_ejection_time: { seconds: 1, nanos: 500_000_000 },
      max_ejection_percent: { value: 100 },
      enforcing_success_rate: { value: 0 },
      failure_percentage_threshold: { value: 20 },
      enforcing_failure_percentage: { value: 100 },
      failure_percentage_minimum_hosts: { value: 1 },
      failure_percentage_request_volume: { value: 50 },
    });
    const off = cluster(declaring({ switchboard_breaker_error_rate: 'off' })).outlier_detection;
    expect(off.enforcing_failure_percentage).toEqual({ value: 0 });
    expect(off).not.toHaveProperty('failure_percentage_threshold');
  });

  it('values that do not parse are ignored: the SDK defaults apply', () => {
    for (const meta of <Record<string, string>[]>[{ switchboard_lb: 'fastest' }, { switchboard_breaker_failures: '0' }, { switchboard_breaker_failures: '2.5' }, { switchboard_breaker_error_rate: '150' }, { switchboard_breaker_cooldown_ms: '-1' }, { switchboard_breaker_cooldown_ms: '' }]) {
      expect(clusterPolicy(declaring(meta))).toEqual(SDK_DEFAULTS);
    }
  });

  // Found by the hostile-policy property: weights that give no real subset anything (never a
  // decoded policy — those sum to 100 — but a hand-written one) gave an empty weighted_clusters,
  // which gRPC refuses along with the whole route.
  it('a policy whose real subsets all weigh 0 → a plain route to the first subset, not empty weighted_clusters', () => {
    const p = { ...policy({ blue: 0, green: 0 }), weights: { blue: 0, green: 0 } } as TrafficPolicy;
    expect(routeAction(serviceResources(payment(fleet(), p), true).resources)).toEqual({ cluster: 'prod/dc1/payment#blue' });
  });
});

// ---- properties ----

const subsetName = fc.constantFrom('blue', 'green', 'canary', 'constructor', 'tostring', 'v2');
/** A valid policy: 1–4 subsets, integer weights summing to 100. */
const validPolicy = fc.uniqueArray(subsetName, { minLength: 1, maxLength: 4 }).chain((names) =>
  fc.array(fc.nat({ max: 100 }), { minLength: names.length - 1, maxLength: names.length - 1 }).map((cuts) => {
    const points = [0, ...cuts.sort((a, b) => a - b), 100];
    return policy(Object.fromEntries(names.map((n, i) => [n, points[i + 1]! - points[i]!])));
  }),
);
/** What a buggy or hand-edited writer might leave: weights for unknown subsets, NaN, negatives, prototype keys, missing weights. */
const hostilePolicy = fc
  .record({
    names: fc.uniqueArray(subsetName, { minLength: 1, maxLength: 3 }),
    weights: fc.dictionary(fc.constantFrom('blue', 'green', 'canary', 'ghost', '__proto__', 'constructor', 'toString', 'hasOwnProperty'), fc.oneof(fc.integer({ min: -50, max: 150 }), fc.constant(Number.NaN)), { maxKeys: 5 }),
  })
  .map(({ names, weights }) => ({ ...policy({}, [], Object.fromEntries(names.map((n) => [n, { tags: [n] }]))), weights }) as TrafficPolicy);
const instances = fc.array(
  fc.record({ tag: fc.constantFrom('blue', 'green', 'canary', 'constructor', 'x'), host: fc.integer({ min: 1, max: 4 }), health: fc.constantFrom('passing', 'warning', 'critical') }),
  { maxLength: 8 },
).map((xs) => xs.map((x, i) => instance(`n/i${i}`, { address: `10.0.0.${x.host}`, port: 9000 + i, tags: [x.tag], checks: [check(x.health)] })));

function noNaN(value: unknown, path = '$'): void {
  if (typeof value === 'number') expect(Number.isFinite(value), path).toBe(true);
  else if (Array.isArray(value)) value.forEach((v, i) => noNaN(v, `${path}[${i}]`));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) noNaN(v, `${path}.${k}`);
}

/** Every property the route must have, whatever the policy. */
function checkRoute(svc: Service, p: TrafficPolicy, opts: { valid: boolean }): void {
  const r = serviceResources(svc, true);
  noNaN(r.resources.map((x) => x.message));
  const known = Object.keys(p.subsets).map((n) => `prod/dc1/payment#${n}`);
  // One cluster and one assignment per real subset, nothing for weights naming anything else.
  expect(of(r.resources, 'cluster').map((c) => c.name)).toEqual(known);
  expect(of(r.resources, 'endpoint').map((c) => c.name)).toEqual(known);
  const action = routeAction(r.resources);
  const targets: { name: string; weight: number }[] = action.weighted_clusters ? action.weighted_clusters.clusters.map((c: Json) => ({ name: c.name, weight: c.weight.value })) : [{ name: action.cluster, weight: 100 }];
  expect(targets.length).toBeGreaterThan(0);
  for (const t of targets) {
    expect(known).toContain(t.name);
    expect(Number.isInteger(t.weight) && t.weight > 0).toBe(true);
  }
  expect(new Set(targets.map((t) => t.name)).size).toBe(targets.length);
  if (action.weighted_clusters) expect(targets.length).toBeGreaterThan(1);
  if (opts.valid) {
    // The split is the policy's: the weighted clusters sum to its total (100), each subset its own weight.
    expect(targets.reduce((a, t) => a + t.weight, 0)).toBe(100);
    for (const t of targets) expect(t.weight).toBe(p.weights[t.name.slice(t.name.indexOf('#') + 1)]);
  }
}

describe('properties', () => {
  it('any valid policy: weighted clusters over real subsets, positive integers summing to 100, no NaN', () => {
    fc.assert(
      fc.property(validPolicy, instances, (p, xs) => {
        expect(TrafficPolicy.safeParse(p).success).toBe(true);
        checkRoute(payment(xs, p), p, { valid: true });
      }),
      { numRuns: 300 },
    );
  });

  it('any hostile policy: unknown subsets and NaN/negative weights dropped, still one usable route, no NaN', () => {
    fc.assert(
      fc.property(hostilePolicy, instances, (p, xs) => checkRoute(payment(xs, p), p, { valid: false })),
      { numRuns: 300 },
    );
  });

  it('every resource built from any policy encodes with the Envoy protos (the cache records no error)', () => {
    fc.assert(
      fc.property(fc.oneof(validPolicy, hostilePolicy), instances, (p, xs) => {
        const svc = payment(xs, p);
        const cache = new XdsResourceCache({ service: (id) => (id === svc.id ? svc : undefined) });
        const changes = cache.update([svc.id]);
        expect(cache.errors.get(svc.id)).toBeUndefined();
        expect([...changes.route]).toEqual(['prod/dc1/payment']);
        expect(cache.count('cluster')).toBe(Object.keys(p.subsets).length);
      }),
      { numRuns: 60 },
    );
  });
});
