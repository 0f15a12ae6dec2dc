/**
 * The user-facing configuration contract (DESIGN.md "Config"). Every field is validated;
 * errors name the field by its path (e.g. `sources[0].address`).
 */
import { z } from 'zod';
import { Role as RoleSchema } from '../../protocol/api';

/** `env:NAME` reads the variable NAME at load time; anything else is the literal secret. */
const Secret = z.string().min(1, 'must not be empty');

const Port = z.number().int().min(0).max(65535);

const ConsulSourceConfig = z.strictObject({
  kind: z.literal('consul'),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes'),
  address: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:8500' }),
  token: Secret.optional(),
  datacenters: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]).default('all'),
});

const KubernetesSourceConfig = z
  .strictObject({
    kind: z.literal('kubernetes'),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes'),
    /** Path to a kubeconfig (`~` expands); ignored with inCluster. */
    kubeconfig: z.string().min(1).default('~/.kube/config'),
    /** Context in the kubeconfig; default: its current-context. */
    context: z.string().min(1).optional(),
    /** Use the pod's service account (running inside the cluster). */
    inCluster: z.boolean().default(false),
    /** Namespaces to watch, or "all"; default: the context's namespace. */
    namespaces: z.union([z.literal('all'), z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name')).min(1)]).optional(),
  });

const DnsSourceConfig = z
  .strictObject({
    kind: z.literal('dns'),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and dashes'),
    servers: z.array(z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, 'must be host:port, e.g. 127.0.0.1:53')).min(1, 'name at least one DNS server'),
    /** SRV names (`_payment._tcp.example.internal`) or A/AAAA names (need defaultPort). */
    names: z.array(z.string().min(1).regex(/^[A-Za-z0-9_.-]+$/, 'must be a DNS name')).min(1, 'name at least one DNS name to resolve'),
    defaultPort: Port.optional(),
    /** Appended to names that do not already end with it. */
    domain: z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a DNS domain').optional(),
    minTtlSeconds: z.number().int().min(1).max(86_400).default(5),
    maxTtlSeconds: z.number().int().min(1).max(86_400).default(300),
  })
  .refine((d) => d.minTtlSeconds <= d.maxTtlSeconds, { error: 'must not be below minTtlSeconds', path: ['maxTtlSeconds'] })
  .refine((d) => d.defaultPort !== undefined || d.names.every((n) => n.startsWith('_')), { error: 'A/AAAA names (not starting with _) need a defaultPort', path: ['defaultPort'] });

export const SourceConfig = z.discriminatedUnion('kind', [ConsulSourceConfig, KubernetesSourceConfig, DnsSourceConfig], {
  error: 'kind must be one of "consul", "kubernetes", "dns"',
});

/** client: SDK callers, the gateway and xDS; viewer: read; operator: change traffic; admin: everything (protocol/api.ts). */
export const Role = RoleSchema;
export type Role = z.infer<typeof Role>;

/** Every resource an outsider can make the control plane hold is bounded here (DESIGN.md "Configuration additions"). */
export const LIMIT_DEFAULTS = { bodyBytes: 65_536, sessions: 10_000, telemetrySeries: 50_000, wsOutboundBytes: 1_048_576, gatewayClients: 50 } as const;
const Limits = z
  .strictObject({
    /** Largest request body the API and the gateway read. */
    bodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(LIMIT_DEFAULTS.bodyBytes),
    /** Browser sessions held at once; the oldest is signed out to make room. */
    sessions: z.number().int().min(1).default(LIMIT_DEFAULTS.sessions),
    /** Telemetry series (per service and per instance) and reporting clients kept at once. */
    telemetrySeries: z.number().int().min(10).default(LIMIT_DEFAULTS.telemetrySeries),
    /** Unsent bytes per WebSocket before the hub stops sending to it. */
    wsOutboundBytes: z.number().int().min(16 * 1024).default(LIMIT_DEFAULTS.wsOutboundBytes),
    /** Services the gateway keeps a registry watch for (each holds two long-polls); idle ones are closed first. */
    gatewayClients: z.number().int().min(1).max(1000).default(LIMIT_DEFAULTS.gatewayClients),
  })
  .default(LIMIT_DEFAULTS);

const UserConfig = z
  .strictObject({
    name: z.string().min(1),
    role: Role,
    /** For scripts, the CLI and SDK clients (Bearer) and token sign-in. */
    token: Secret.optional(),
    /** For people signing in to the dashboard. */
    password: Secret.optional(),
  })
  .refine((u) => u.token !== undefined || u.password !== undefined, { error: 'give a token or a password (or both)', path: ['token'] });

/** Shortest `session.secret` accepted (bytes, UTF-8): a 256-bit key's worth. */
export const MIN_SESSION_SECRET_BYTES = 32;

/** Why a resolved `session.secret` cannot be used, or null if it can. */
export function sessionSecretProblem(secret: string): string | null {
  const bytes = Buffer.byteLength(secret, 'utf8');
  return bytes >= MIN_SESSION_SECRET_BYTES
    ? null
    : `must be at least ${MIN_SESSION_SECRET_BYTES} bytes (it is ${bytes}); generate one with \`openssl rand -base64 48\``;
}

export const ConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: Port.default(3000),
      /** Behind a reverse proxy: believe its X-Forwarded-Proto (Secure cookies) and X-Forwarded-For (rate limits). */
      trustProxy: z.boolean().default(false),
    })
    .default({ host: '127.0.0.1', port: 3000, trustProxy: false }),
  dataDir: z.string().min(1).default('.switchboard'),
  embedded: z
    .strictObject({
      enabled: z.boolean().default(false),
      demo: z.boolean().default(false),
      httpPort: Port.refine((p) => p !== 8500, 'must not be 8500 (Consul’s default port)').default(18500),
      dnsPort: Port.refine((p) => p !== 8600, 'must not be 8600 (Consul’s default DNS port)').default(18600),
      dnsTtlSeconds: z.number().int().min(0).max(86_400).default(0),
      /** Host names (besides loopback) the registry's HTTP API answers to; anything else is refused (DNS rebinding). */
      allowedHosts: z.array(z.string().min(1).max(253).regex(/^[A-Za-z0-9.:[\]-]+$/, 'a host name or address')).max(64).default([]),
    })
    .default({ enabled: false, demo: false, httpPort: 18500, dnsPort: 18600, dnsTtlSeconds: 0, allowedHosts: [] }),
  sources: z.array(SourceConfig).default([]),
  auth: z
    .strictObject({
      anonymousRole: Role.nullable().default(null),
      users: z.array(UserConfig).default([]),
    })
    .optional(),
  session: z
    .strictObject({
      /**
       * Stateless sessions: the key (via HKDF) for encrypted session cookies that every replica
       * with the same secret accepts. At least 32 bytes; `env:NAME` is checked once resolved.
       * Without it, sessions live in one process's memory.
       */
      secret: Secret.refine((v) => v.startsWith('env:') || sessionSecretProblem(v) === null, { error: (issue) => sessionSecretProblem(String(issue.input)) ?? 'invalid' }).optional(),
      /** How long a browser session lasts. */
      ttlHours: z.number().min(0.05).max(24 * 30).default(12),
    })
    .default({ ttlHours: 12 }),
  limits: Limits,
  /** The xDS control plane for gRPC/Envoy data planes (server/xds), on its own port. */
  xds: z
    .strictObject({
      port: Port,
      host: z.string().min(1).default('127.0.0.1'),
      /** Admit xDS streams without a token; only on a loopback host (@grpc/grpc-js-xds cannot send call credentials). */
      allowAnonymous: z.boolean().default(false),
    })
    .optional(),
  /**
   * Where request metrics and breaker states live. `builtin` (the default): SDK clients POST
   * them to this replica's in-memory store — one replica only. `prometheus`: SDK clients and the
   * gateway expose them as Prometheus metrics, Prometheus scrapes the fleet it discovers through
   * GET /api/prometheus/targets, and charts, edges, canary analysis and breaker badges are read
   * back with PromQL — any number of replicas.
   */
  telemetry: z
    .discriminatedUnion('store', [
      z.strictObject({ store: z.literal('builtin') }),
      z.strictObject({
        store: z.literal('prometheus'),
        prometheus: z.strictObject({
          /** Prometheus' base URL (http or https; `user:password@` becomes Basic auth). */
          url: z.string().refine((u) => /^https?:\/\/[^/]/.test(u) && URL.canParse(u), 'must be an http(s) URL'),
          /** The scrape interval of the job that scrapes the fleet: rate windows are at least 4 of them. */
          scrapeIntervalSeconds: z.number().min(0.1).max(600).default(15),
          /** How often breaker states are read back (the badge lags a breaker by a scrape plus this). */
          breakerPollMs: z.number().int().min(100).max(60_000).default(500),
          /** Per PromQL request. */
          timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
        }),
      }),
    ])
    .default({ store: 'builtin' }),
});

export type RawConfig = z.input<typeof ConfigSchema>;
export type ParsedConfig = z.output<typeof ConfigSchema>;
export type ConsulSourceConfig = z.output<typeof ConsulSourceConfig>;
export type DnsSourceConfigInput = z.output<typeof DnsSourceConfig>;
