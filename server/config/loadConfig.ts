/**
 * Loads and validates configuration: a JSON file (`SWITCHBOARD_CONFIG` or `--config`), then
 * `HOST`/`PORT`/`SWITCHBOARD_DATA_DIR` from the environment. Resolves `env:NAME` secrets. Throws ConfigError whose
 * message names the offending field; the caller exits non-zero with it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { DnsSourceConfig } from '../sources/dns/dnsSource';
import type { KubernetesSourceConfig } from '../sources/kubernetes/kubernetesSource';
import { ConfigSchema, sessionSecretProblem, type ConsulSourceConfig, type ParsedConfig, type Role } from './configSchema';

/** Source id of the embedded registry in URLs, metrics and the API. */
export const EMBEDDED_SOURCE = 'embedded';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface UserEntry {
  name: string;
  role: Role;
  token?: string;
  password?: string;
}

export interface Config {
  /** The file this came from, or null for the built-in default. */
  file: string | null;
  listen: { host: string; port: number; trustProxy: boolean };
  dataDir: string;
  embedded: ParsedConfig['embedded'];
  consulSources: (Omit<ConsulSourceConfig, 'token'> & { token: string | null })[];
  dnsSources: DnsSourceConfig[];
  kubernetesSources: KubernetesSourceConfig[];
  auth: { anonymousRole: Role | null; users: UserEntry[] };
  session: { secret: string | null; ttlMs: number };
  limits: ParsedConfig['limits'];
  /** null: no xDS server. */
  xds?: { port: number; host: string; allowAnonymous: boolean } | null;
  /** Telemetry store (config `telemetry`); absent: the built-in store. */
  telemetry?: ParsedConfig['telemetry'];
}


export interface LoadConfigInput {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  readFile?: (path: string) => string;
}

export function loadConfig(input: LoadConfigInput = {}): Config {
  const env = input.env ?? process.env;
  const argv = input.argv ?? process.argv.slice(2);
  const cwd = input.cwd ?? process.cwd();
  const readFile = input.readFile ?? ((p: string) => readFileSync(p, 'utf8'));

  const file = configPath(argv, env);
  let raw: unknown;
  if (file) {
    const abs = resolve(cwd, file);
    let text: string;
    try {
      text = readFile(abs);
    } catch (err) {
      throw new ConfigError(`cannot read config file ${abs}: ${(err as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${abs} is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    raw = defaultConfig(env);
  }
  return fromRaw(raw, { file: file ? resolve(cwd, file) : null, env, cwd });
}

/** Validates an already-parsed config object; exported for tests and tools. */
export function fromRaw(
  raw: unknown,
  ctx: { file: string | null; env: Readonly<Record<string, string | undefined>>; cwd: string },
): Config {
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`invalid config${ctx.file ? ` (${ctx.file})` : ''}:\n${formatIssues(parsed.error)}`);
  const cfg = parsed.data;

  const problems: string[] = [];
  const names = new Set<string>();
  cfg.sources.forEach((s, i) => {
    if (names.has(s.name)) problems.push(`sources[${i}].name: "${s.name}" is used by another source`);
    if (cfg.embedded.enabled && s.name === EMBEDDED_SOURCE) problems.push(`sources[${i}].name: "${EMBEDDED_SOURCE}" is reserved for the embedded registry`);
    names.add(s.name);
  });
  if (cfg.embedded.demo && !cfg.embedded.enabled) problems.push('embedded.demo: the demo fleet needs the embedded registry (embedded.enabled: true)');

  const secret = (value: string | undefined, field: string): string | null => {
    if (value === undefined) return null;
    if (!value.startsWith('env:')) return value;
    const v = ctx.env[value.slice(4)];
    if (!v) {
      problems.push(`${field}: environment variable ${value.slice(4)} is not set`);
      return null;
    }
    return v;
  };
  const consulSources = cfg.sources.flatMap((s, i) =>
    s.kind === 'consul' ? [{ ...s, address: s.address.replace(/\/+$/, ''), token: secret(s.token, `sources[${i}].token`) }] : [],
  );
  const users = (cfg.auth?.users ?? []).map((u, i): UserEntry => ({
    name: u.name,
    role: u.role,
    token: secret(u.token, `auth.users[${i}].token`) ?? undefined,
    password: secret(u.password, `auth.users[${i}].password`) ?? undefined,
  }));
  (cfg.auth?.users ?? []).forEach((u, i) => {
    if (cfg.auth!.users.findIndex((o) => o.name === u.name) !== i) problems.push(`auth.users[${i}].name: "${u.name}" is configured twice`);
  });
  const sessionSecret = secret(cfg.session.secret, 'session.secret');
  const secretProblem = sessionSecret === null ? null : sessionSecretProblem(sessionSecret);
  if (secretProblem) problems.push(`session.secret: ${secretProblem}`);
  if (cfg.xds?.allowAnonymous && !isLoopback(cfg.xds.host)) problems.push(`xds.allowAnonymous: only allowed on a loopback host (xds.host is ${cfg.xds.host})`);
  if (problems.length) throw new ConfigError(`invalid config${ctx.file ? ` (${ctx.file})` : ''}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);

  const listen = { ...cfg.listen };
  if (ctx.env.HOST) listen.host = ctx.env.HOST;
  if (ctx.env.PORT !== undefined && ctx.env.PORT !== '') {
    const port = Number(ctx.env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT: "${ctx.env.PORT}" is not a port number (0-65535)`);
    listen.port = port;
  }

  return {
    file: ctx.file,
    listen,
    // SWITCHBOARD_DATA_DIR wins over the file, as HOST/PORT do (a fresh directory per run or test).
    dataDir: resolve(ctx.cwd, ctx.env.SWITCHBOARD_DATA_DIR || cfg.dataDir),
    embedded: cfg.embedded,
    consulSources,
    dnsSources: cfg.sources.flatMap((s) =>
      s.kind === 'dns'
        ? [{
            name: s.name,
            servers: s.servers,
            names: s.names.map((n) => withDomain(n, s.domain)),
            defaultPort: s.defaultPort ?? null,
            minTtlSeconds: s.minTtlSeconds,
            maxTtlSeconds: s.maxTtlSeconds,
          }]
        : [],
    ),
    kubernetesSources: cfg.sources.flatMap((s) =>
      s.kind === 'kubernetes'
        ? [{ name: s.name, kubeconfig: s.inCluster ? null : resolve(ctx.cwd, s.kubeconfig.replace(/^~(?=\/|$)/, ctx.env.HOME ?? '~')), context: s.context ?? null, inCluster: s.inCluster, namespaces: s.namespaces ?? [] }]
        : [],
    ),
    // Without an auth section the dashboard is read-only for anyone who can reach a loopback
    // listener; on any other address nothing is shown without signing in.
    auth: { anonymousRole: cfg.auth ? cfg.auth.anonymousRole : isLoopback(listen.host) ? 'viewer' : null, users },
    session: { secret: sessionSecret, ttlMs: Math.round(cfg.session.ttlHours * 3600_000) },
    limits: cfg.limits,
    xds: cfg.xds ?? null,
    telemetry: cfg.telemetry,
  };
}

function withDomain(name: string, domain: string | undefined): string {
  if (!domain || name.endsWith('.')) return name.replace(/\.$/, '');
  const d = domain.replace(/^\.|\.$/g, '');
  return name.toLowerCase().endsWith(`.${d.toLowerCase()}`) ? name : `${name}.${d}`;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function configPath(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string | null {
  const i = argv.findIndex((a) => a === '--config' || a.startsWith('--config='));
  if (i !== -1) {
    const arg = argv[i]!;
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[i + 1];
    if (!value) throw new ConfigError('--config: expected a file path');
    return value;
  }
  return env.SWITCHBOARD_CONFIG || null;
}

/**
 * No config file: the embedded registry with the demo fleet, so one command shows a living
 * dashboard — unless CONSUL_HTTP_ADDR names a Consul agent (as for Consul's own CLI), which is
 * then watched instead.
 */
function defaultConfig(env: Readonly<Record<string, string | undefined>>): unknown {
  if (!env.CONSUL_HTTP_ADDR) {
    // Ports can move off their defaults (another instance, a soak run) without writing a file.
    const port = (v: string | undefined) => (v ? { value: Number(v) } : null);
    const http = port(env.SWITCHBOARD_EMBEDDED_HTTP_PORT);
    const dns = port(env.SWITCHBOARD_EMBEDDED_DNS_PORT);
    return { embedded: { enabled: true, demo: true, ...(http ? { httpPort: http.value } : {}), ...(dns ? { dnsPort: dns.value } : {}) } };
  }
  let address = env.CONSUL_HTTP_ADDR;
  if (!/^https?:\/\//.test(address)) address = `http://${address}`;
  return {
    sources: [
      { kind: 'consul', name: 'consul', address, datacenters: 'all', ...(env.CONSUL_HTTP_TOKEN ? { token: 'env:CONSUL_HTTP_TOKEN' } : {}) },
    ],
  };
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.reduce<string>(
        (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
        '',
      );
      return `  - ${path || '(root)'}: ${issue.message}`;
    })
    .join('\n');
}
