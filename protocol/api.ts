/**
 * Every REST body and answer (DESIGN.md "User-facing contracts"), as zod schemas shared by
 * the server (which parses requests with them), the browser (lib/api.ts validates answers)
 * and the CLI. Roles and what each may do live here too, so the UI, the CLI and every server
 * entry point (REST, WebSocket, gateway, telemetry) agree on one table.
 */
import { z } from 'zod';
import { Health, HealthCounts, Service, SourceStatus, Topology, TopologySummary } from './model';
import { TelemetryReport } from './telemetry';
import { TrafficPolicy } from './traffic';

// ── Roles and permissions (DESIGN.md "Permissions: a set per role, not a ranking") ──────────

/** client: SDK callers, the gateway and xDS; viewer: read; operator: change traffic; admin: everything. */
export const Role = z.enum(['client', 'viewer', 'operator', 'admin']);
export type Role = z.infer<typeof Role>;

export const Permission = z.enum(['telemetry:write', 'gateway', 'xds', 'topology:read', 'traffic:write', 'rollout:write', 'admin']);
export type Permission = z.infer<typeof Permission>;

/** The whole table. A role has exactly these permissions; nothing is implied by another role. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  client: new Set(['telemetry:write', 'gateway', 'xds']),
  viewer: new Set(['topology:read']),
  operator: new Set(['topology:read', 'traffic:write', 'rollout:write']),
  admin: new Set(Permission.options),
};

export function can(role: Role | null | undefined, permission: Permission): boolean {
  return role != null && ROLE_PERMISSIONS[role].has(permission);
}

/** The roles that hold a permission, for error messages ("role operator or admin required"). */
export function rolesWith(permission: Permission): Role[] {
  return Role.options.filter((r) => ROLE_PERMISSIONS[r].has(permission));
}

// ── Errors ──────────────────────────────────────────────────────────────────────────────────

/** Every 4xx/5xx body. A 409 on a traffic change also carries the registry's current policy. */
export const ErrorBody = z.object({ error: z.string() });
export type ErrorBody = z.infer<typeof ErrorBody>;

// ── Session ─────────────────────────────────────────────────────────────────────────────────

export const SignInBody = z.union(
  [
    z.strictObject({ token: z.string().min(1, 'token must not be empty').max(4096) }),
    z.strictObject({ name: z.string().min(1, 'name must not be empty').max(256), password: z.string().min(1, 'password must not be empty').max(1024) }),
  ],
  { error: 'send { "token" } or { "name", "password" }' },
);
export type SignInBody = z.infer<typeof SignInBody>;

export const SessionUser = z.object({ name: z.string(), role: Role });
export type SessionUser = z.infer<typeof SessionUser>;

/** GET /api/session: who is signed in (null = anonymous) and the CSRF token changes must carry. */
export const SessionResponse = z.object({
  user: SessionUser.nullable(),
  anonymousRole: Role.nullable(),
  csrfToken: z.string().nullable(),
  /** Some configured user signs in with a password: the sign-in page opens on that form. */
  passwordSignIn: z.boolean().optional(),
});
export type SessionResponse = z.infer<typeof SessionResponse>;

export const SignInResponse = z.object({ user: SessionUser, csrfToken: z.string() });
export type SignInResponse = z.infer<typeof SignInResponse>;

export const SignOutResponse = z.object({ user: z.null() });

export const UsersResponse = z.object({ users: z.array(z.object({ name: z.string(), role: Role, token: z.boolean(), password: z.boolean() })) });
export type UsersResponse = z.infer<typeof UsersResponse>;

// ── Topology ────────────────────────────────────────────────────────────────────────────────

export { Topology, TopologySummary };
export const SourcesResponse = z.object({ sources: z.array(SourceStatus) });

/** Where else an address:port is registered (DNS sources carry no health of their own). */
export const LinkedInstance = z.object({ serviceId: z.string(), health: Health });
export const ServiceResponse = z.object({
  service: Service,
  counts: HealthCounts,
  source: SourceStatus.nullable(),
  links: z.record(z.string(), z.array(LinkedInstance)),
});
export type ServiceResponse = z.infer<typeof ServiceResponse>;

// ── Traffic ─────────────────────────────────────────────────────────────────────────────────

/** PUT …/traffic. */
export const PolicyChange = z.strictObject({
  weights: z.record(z.string().max(63, 'subset names are at most 63 characters'), z.number().int('weights are integers').min(0, 'weights are 0-100').max(100, 'weights are 0-100')),
  subsets: TrafficPolicy.shape.subsets.optional(),
  drain: z.array(z.string().max(512)).max(10_000).optional(),
  reason: z.string().max(500).default(''),
  force: z.boolean().default(false),
});
export type PolicyChange = z.infer<typeof PolicyChange>;

/** POST …/traffic/flip (an empty body is `{}`). */
export const FlipBody = z.strictObject({ reason: z.string().max(500).optional(), force: z.boolean().optional() });
/** POST …/traffic/rollback. */
export const RollbackBody = z.strictObject({ id: z.string().min(1, 'id of a history entry is required').max(64), force: z.boolean().optional() });
/** POST …/traffic/enable takes no fields. */
export const EnableBody = z.strictObject({});

/**
 * Kubernetes: the Gateway API HTTPRoute or Istio VirtualService a Service is bound to (Service
 * annotation `switchboard.dev/route`), which receives the policy's weights with every change,
 * and what that route holds now, read back from the cluster.
 */
export const MeshRoute = z.object({
  /** null when the binding annotation itself is unusable (then `name` is its text and `error` says why). */
  kind: z.enum(['HTTPRoute', 'VirtualService']).nullable(),
  namespace: z.string(),
  name: z.string(),
  /** The API version read and written, e.g. gateway.networking.k8s.io/v1; null when it could not be found. */
  apiVersion: z.string().nullable(),
  /** Subset → the backend that carries it (an HTTPRoute backendRef's Service; a VirtualService destination). */
  backends: z.record(z.string(), z.string()),
  /** Read back from the route: per subset, its weight in the first rule routing to these backends (null: unreadable). */
  weights: z.record(z.string(), z.number()).nullable(),
  /** Every rule routing to these backends gives each subset exactly the policy's weight. */
  inSync: z.boolean(),
  /** When and by whom Switchboard last wrote the route's weights (null: never). */
  writtenAt: z.string().nullable(),
  writtenBy: z.string().nullable(),
  /** Why the route cannot be read or used: missing CRD or route, RBAC, no rule for a subset. */
  error: z.string().optional(),
});
export type MeshRoute = z.infer<typeof MeshRoute>;

/** GET|PUT …/traffic and every change: the policy, its compare-and-set version and subset health. */
export const TrafficView = z.object({
  policy: TrafficPolicy.nullable(),
  /** Consul: the key's ModifyIndex (0 when absent); send it back as If-Match. */
  modifyIndex: z.number().int(),
  /** Set when the registry holds something that is not a valid policy: why. Saving a new policy overwrites it. */
  invalid: z.string().optional(),
  /** Per subset: instances and how many are passing (drained ones excluded). */
  subsets: z.record(z.string(), z.object({ instances: z.number().int(), passing: z.number().int() })),
  /** Kubernetes only, when the Service is bound to a mesh route: where the weights are also written. */
  meshRoute: MeshRoute.optional(),
});
export type TrafficView = z.infer<typeof TrafficView>;

/** One audit entry: an applied change or a refused attempt. Also the stored form (registry KV / annotation). */
export const AuditEntry = z.object({
  id: z.string(),
  at: z.string(),
  by: z.string(),
  reason: z.string(),
  /** Rejected attempts are recorded too: who tried what, and why it was refused. */
  outcome: z.enum(['applied', 'rejected']).default('applied'),
  /** Set when the operator overrode the no-passing-instances guardrail. */
  forced: z.boolean().default(false),
  error: z.string().optional(),
  before: TrafficPolicy.nullable(),
  /** The policy written (applied) or attempted (rejected; null when it could not be built). */
  after: TrafficPolicy.nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const TrafficHistory = z.array(AuditEntry);

/** 409: someone else changed the policy first; `current` is what the registry holds now. */
export const ConflictBody = ErrorBody.extend({ current: z.object({ policy: TrafficPolicy.nullable(), modifyIndex: z.number().int(), invalid: z.string().optional(), meshRoute: MeshRoute.optional() }) });
export type ConflictBody = z.infer<typeof ConflictBody>;

/** "blue 80% / green 20%", plus ", draining payment-4" when instances are drained. */
export function describeWeights(policy: { weights: Record<string, number>; drain?: readonly string[] } | null): string {
  if (!policy) return 'no policy';
  const split = Object.entries(policy.weights)
    .map(([name, w]) => `${name} ${w}%`)
    .join(' / ');
  return policy.drain?.length ? `${split}, draining ${policy.drain.join(', ')}` : split;
}

// ── Rollouts ────────────────────────────────────────────────────────────────────────────────

/** PUT …/rollout, POST …/rollout/promote|pause|resume|abort, and their answers: protocol/rollout.ts. */
export { RolloutActionBody, RolloutConflictBody, RolloutView, StartRolloutBody } from './rollout';

// ── Telemetry ───────────────────────────────────────────────────────────────────────────────

/** POST /api/telemetry (SDK clients; answers 204). */
export { TelemetryReport };

export const SeriesPoint = z.object({ t: z.number(), rps: z.number(), errorRate: z.number().nullable(), p50: z.number().nullable(), p99: z.number().nullable() });

/** GET /api/services/:source/:scope/:name/telemetry. */
export const ServiceTelemetry = z.object({
  service: z.array(SeriesPoint),
  instances: z.record(z.string(), z.array(SeriesPoint)),
  reporters: z.array(z.object({ clientId: z.string(), caller: z.string(), lastSeen: z.number(), guardHolds: z.number() })),
});
export type ServiceTelemetry = z.infer<typeof ServiceTelemetry>;

/**
 * Additions to the telemetry answer: which store answered, and — when it could not (Prometheus
 * down or answering garbage) — why, with empty series instead of an error page.
 */
export const ServiceTelemetryStatus = z.object({
  store: z.enum(['builtin', 'prometheus']).optional(),
  /** Present when the store could not answer: the charts are unavailable, not empty. */
  unavailable: z.string().optional(),
});

// ── Prometheus service discovery ────────────────────────────────────────────────────────────

/**
 * GET /api/prometheus/targets (topology:read): Prometheus' `http_sd_configs` format, one group
 * per instance (every source: Consul, Kubernetes, DNS, embedded). Labels: source, scope, service, health, instance_id, subset (when the service's
 * traffic policy puts the instance in one), and `__metrics_path__` when the instance's meta
 * says `metrics_path`. Each target is `host:port`, the port being meta `metrics_port` when set.
 */
export const PrometheusTargetGroup = z.object({
  targets: z.array(z.string()),
  labels: z.record(z.string(), z.string()),
});
export const PrometheusTargets = z.array(PrometheusTargetGroup);
export type PrometheusTargets = z.infer<typeof PrometheusTargets>;

// ── Probes ──────────────────────────────────────────────────────────────────────────────────

export const HealthzResponse = z.object({ status: z.literal('ok') });
export const ReadyzResponse = z.union([z.object({ status: z.literal('ready') }), z.object({ status: z.literal('not ready'), waitingFor: z.array(z.string()) })]);

// ── Redirects ───────────────────────────────────────────────────────────────────────────────

/**
 * Where to send a browser after sign-in: `next` only when it resolves to a path on `origin`
 * itself, else "/". Resolving with the URL parser (not prefix checks) catches every spelling
 * browsers treat as another host: `//evil`, `/\evil`, `/%5Cevil` once decoded, tabs and newlines.
 */
export function sameOriginPath(next: string | null | undefined, origin: string): string {
  if (!next || !next.startsWith('/')) return '/';
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return '/';
  }
  if (url.origin !== new URL(origin).origin) return '/';
  // Re-serialized from the parsed URL, so what the browser follows is what was checked.
  const path = `${url.pathname}${url.search}${url.hash}`;
  return path.startsWith('//') || path.startsWith('/\\') ? '/' : path;
}
