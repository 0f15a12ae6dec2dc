/**
 * One service → its xDS resources (pure; no I/O). The scheme, for a service
 * `source/scope/name` (DESIGN.md "server/xds"):
 *
 * - Listener `name` when no other service in the topology is called `name` (so a gRPC client
 *   dials `xds:///payment`), and always `name.scope.source` (unambiguous: `xds:///payment.dc1.prod`).
 *   Each is a gRPC API listener: HttpConnectionManager → RDS (over ADS) → route `source/scope/name`.
 * - RouteConfiguration `source/scope/name`: one virtual host (`*`), one route that splits over the
 *   subsets' clusters by the policy's weights (weighted_clusters, subsets at 0 left out); without a
 *   policy, the one cluster.
 * - Cluster `source/scope/name` (no policy) or `source/scope/name#subset` per subset: EDS over ADS,
 *   balancing and outlier detection as the service declares them (clusterPolicy.ts; the SDK's
 *   defaults otherwise: round robin, eject after 5 consecutive failures or 50 % errors, 5 s).
 * - ClusterLoadAssignment per cluster (same name): every instance in the subset (inSubset), one
 *   locality (region = source, zone = scope), health passing → HEALTHY, warning → DEGRADED,
 *   critical → UNHEALTHY, unknown → UNKNOWN, on the policy's drain list → DRAINING.
 *
 * gRPC refuses a whole ClusterLoadAssignment when one address is not an IP literal or appears
 * twice, so such instances are left out and named in `skipped`.
 */
import { isIP } from 'node:net';
import type { Instance, Service } from '../../protocol/model';
import { inSubset, isDrained, weightOf } from '../../protocol/traffic';
import { XDS_TYPE_URLS, type XdsResourceType } from '../../protocol/xds';
import { clusterPolicy, clusterPolicyFields } from './clusterPolicy';

const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** A resource as a plain protobuf object (keepCase), before it is encoded. */
export interface ResourceSpec {
  type: XdsResourceType;
  name: string;
  /** The message; nested Any fields are `{ '@any': typeUrl, ...fields }` (see xdsResourceCache). */
  message: Record<string, unknown>;
}

export interface ClusterSummary {
  name: string;
  weight: number;
  endpoints: number;
  skipped: string[];
}

export interface ServiceResources {
  serviceId: string;
  listeners: string[];
  route: string;
  clusters: ClusterSummary[];
  resources: ResourceSpec[];
}

export function qualifiedListenerName(service: Pick<Service, 'sourceId' | 'scope' | 'name'>): string {
  return `${service.name}.${service.scope}.${service.sourceId}`;
}

export function listenerNames(service: Pick<Service, 'sourceId' | 'scope' | 'name'>, nameIsUnique: boolean): string[] {
  const qualified = qualifiedListenerName(service);
  return nameIsUnique && qualified !== service.name ? [service.name, qualified] : [qualified];
}

export function healthStatus(instance: Pick<Instance, 'id' | 'health'>, drain: readonly string[]): string {
  if (drain.length > 0 && isDrained(drain, instance.id)) return 'DRAINING';
  switch (instance.health) {
    case 'passing':
      return 'HEALTHY';
    case 'warning':
      return 'DEGRADED';
    case 'critical':
      return 'UNHEALTHY';
    case 'unknown':
      return 'UNKNOWN';
  }
}

const ADS = { ads: {}, resource_api_version: 'V3' };

export function serviceResources(service: Service, nameIsUnique: boolean): ServiceResources {
  const route = service.id;
  const listeners = listenerNames(service, nameIsUnique);
  const policy = service.traffic ?? null;
  const drain = policy?.drain ?? [];
  const subsets = policy
    ? Object.entries(policy.subsets).map(([subset, def]) => ({ cluster: `${service.id}#${subset}`, weight: weightOf(policy, subset), members: service.instances.filter((i) => inSubset(i, def)) }))
    : [{ cluster: service.id, weight: 100, members: service.instances }];

  const resources: ResourceSpec[] = listeners.map((name) => ({
    type: 'listener',
    name,
    message: {
      name,
      api_listener: {
        api_listener: {
          '@any': HCM_TYPE_URL,
          stat_prefix: service.name,
          rds: { config_source: ADS, route_config_name: route },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@any': ROUTER_TYPE_URL } }],
        },
      },
    },
  }));

  const weighted = subsets.filter((s) => s.weight > 0);
  // No subset with weight (only a hand-written policy can say so): the first cluster rather than
  // an empty weighted_clusters, which gRPC refuses along with the whole route.
  const action =
    weighted.length <= 1 || !policy
      ? { cluster: (weighted[0] ?? subsets[0]!).cluster }
      : { weighted_clusters: { clusters: weighted.map((s) => ({ name: s.cluster, weight: { value: s.weight } })) } };
  resources.push({
    type: 'route',
    name: route,
    message: { name: route, virtual_hosts: [{ name: service.name, domains: ['*'], routes: [{ match: { prefix: '' }, route: action }] }] },
  });

  const clusters: ClusterSummary[] = [];
  const lbFields = clusterPolicyFields(clusterPolicy(service));
  for (const s of subsets) {
    resources.push({
      type: 'cluster',
      name: s.cluster,
      message: {
        name: s.cluster,
        type: 'EDS',
        eds_cluster_config: { eds_config: ADS, service_name: s.cluster },
        ...lbFields,
        connect_timeout: { seconds: 5 },
      },
    });
    const seen = new Set<string>();
    const skipped: string[] = [];
    const lbEndpoints: Record<string, unknown>[] = [];
    for (const i of s.members) {
      const key = `${i.address}:${i.port}`;
      if (isIP(i.address) === 0) skipped.push(`${i.id}: ${i.address} is not an IP address`);
      else if (seen.has(key)) skipped.push(`${i.id}: ${key} is listed twice`);
      else {
        seen.add(key);
        lbEndpoints.push({
          endpoint: { address: { socket_address: { address: i.address, port_value: i.port } }, hostname: i.id },
          health_status: healthStatus(i, drain),
        });
      }
    }
    resources.push({
      type: 'endpoint',
      name: s.cluster,
      message: {
        cluster_name: s.cluster,
        endpoints: lbEndpoints.length ? [{ locality: { region: service.sourceId, zone: service.scope }, load_balancing_weight: { value: 1 }, priority: 0, lb_endpoints: lbEndpoints }] : [],
      },
    });
    clusters.push({ name: s.cluster, weight: s.weight, endpoints: lbEndpoints.length, skipped });
  }
  return { serviceId: service.id, listeners, route, clusters, resources };
}

export { XDS_TYPE_URLS };
