/**
 * Decodes `PUT /v1/agent/service/register` the way a Consul 1.8 agent does: field names match
 * case-insensitively and in snake_case, unknown fields are refused, and every error carries
 * Consul's own wording so clients see the same messages from either registry.
 */
import { parseDuration } from './duration';
import { MIN_INTERVAL_MS, tcpAddressProblem } from './healthChecker';
import type { CheckDefinition, CheckStatus, ServiceRecord } from './registryRecords';
import type { RegistrationCheck } from './registryState';

export class RegisterError extends Error {
  constructor(
    readonly status: 400 | 500,
    message: string,
  ) {
    super(message);
  }
}

const SERVICE_FIELDS = ['ID', 'Name', 'Tags', 'Address', 'TaggedAddresses', 'Meta', 'Port', 'Weights', 'EnableTagOverride', 'Check', 'Checks', 'Kind', 'Token', 'Namespace', 'SocketPath'];
const CHECK_FIELDS = [
  'CheckID', 'ID', 'Name', 'Notes', 'Status', 'ServiceID', 'TTL', 'HTTP', 'Method', 'Header', 'Body', 'TCP', 'Interval', 'Timeout',
  'DeregisterCriticalServiceAfter', 'TLSSkipVerify', 'SuccessBeforePassing', 'FailuresBeforeCritical', 'OutputMaxSize', 'Args', 'ScriptArgs', 'GRPC', 'DockerContainerID', 'Shell', 'AliasNode', 'AliasService',
];

/** Maps `name`, `Name`, `NAME` and `deregister_critical_service_after`-style keys onto Consul's names. */
function canonical(obj: unknown, fields: string[], where: string): Record<string, unknown> {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw decode(`json: cannot unmarshal ${jsonType(obj)} into Go value of type ${where}`);
  const byLower = new Map(fields.map((f) => [f.toLowerCase(), f]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const name = byLower.get(k.toLowerCase().replace(/_/g, ''));
    if (!name) throw decode(`json: unknown field "${k}"`);
    out[name] = v;
  }
  return out;
}

const decode = (msg: string) => new RegisterError(400, `Request decode failed: ${msg}`);

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

function str(v: unknown, field: string, def = ''): string {
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw decode(`json: cannot unmarshal ${jsonType(v)} into Go struct field .${field} of type string`);
  return v;
}

function int(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw decode(`json: cannot unmarshal ${jsonType(v)} into Go struct field .${field} of type int`);
  return v;
}

function strings(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw decode(`json: cannot unmarshal ${jsonType(v)} into Go struct field .${field} of type []string`);
  return v.map((x) => str(x, field));
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw decode(`json: cannot unmarshal ${jsonType(v)} into Go struct field .${field} of type map[string]string`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, str(x, field)]));
}

function duration(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number') return v / 1e6; // Go accepts nanoseconds as a number
  try {
    return parseDuration(str(v, field));
  } catch (err) {
    throw decode((err as Error).message);
  }
}

export interface Registration {
  service: Omit<ServiceRecord, 'CreateIndex' | 'ModifyIndex'>;
  checks: RegistrationCheck[];
}

export function decodeRegistration(body: unknown): Registration {
  const s = canonical(body, SERVICE_FIELDS, 'structs.ServiceDefinition');
  const name = str(s.Name, 'Name');
  const id = str(s.ID, 'ID') || name;
  const weights = s.Weights === undefined || s.Weights === null ? { Passing: 1, Warning: 1 } : canonical(s.Weights, ['Passing', 'Warning'], 'structs.Weights');
  const service = {
    ID: id,
    Service: name,
    Tags: strings(s.Tags, 'Tags'),
    Address: str(s.Address, 'Address'),
    Port: int(s.Port, 'Port'),
    Meta: stringMap(s.Meta, 'Meta'),
    Weights: { Passing: int(weights.Passing, 'Weights.Passing') || 1, Warning: int(weights.Warning, 'Weights.Warning') || 1 },
    EnableTagOverride: s.EnableTagOverride === true,
  };
  const rawChecks: unknown[] = [];
  if (s.Check !== undefined && s.Check !== null) rawChecks.push(s.Check);
  if (s.Checks !== undefined && s.Checks !== null) {
    if (!Array.isArray(s.Checks)) throw decode(`json: cannot unmarshal ${jsonType(s.Checks)} into Go struct field .Checks of type structs.CheckTypes`);
    rawChecks.push(...s.Checks);
  }
  // Consul validates the check types before it notices a missing name.
  const numbered = rawChecks.length > 1;
  const checks = rawChecks.map((c, i) => decodeCheck(c, id, name, numbered ? i + 1 : null));
  if (!name) throw new RegisterError(400, 'Missing service name');
  return { service, checks };
}

function decodeCheck(raw: unknown, serviceId: string, serviceName: string, ordinal: number | null): RegistrationCheck {
  const c = canonical(raw, CHECK_FIELDS, 'structs.CheckType');
  if (c.Args !== undefined || c.ScriptArgs !== undefined) {
    throw new RegisterError(500, "Scripts are disabled on this agent from remote calls; to enable, configure 'enable_script_checks' to true");
  }
  const ttlMs = duration(c.TTL, 'TTL');
  const intervalMs = duration(c.Interval, 'Interval');
  const timeoutMs = duration(c.Timeout, 'Timeout');
  const deregisterCriticalAfterMs = duration(c.DeregisterCriticalServiceAfter, 'DeregisterCriticalServiceAfter');
  const http = str(c.HTTP, 'HTTP');
  const tcp = str(c.TCP, 'TCP');
  let definition: CheckDefinition;
  if (http || tcp) {
    if (!intervalMs || intervalMs <= 0) throw new RegisterError(400, 'Invalid check: Interval must be > 0 for Script, HTTP, or TCP checks');
    // Consul refuses nothing here but its prober can never succeed; refusing up front names the problem.
    const problem = !http && tcpAddressProblem(tcp);
    if (problem) throw new RegisterError(400, `Invalid check: TCP must be "host:port": ${problem}`);
    // Consul clamps a shorter interval to checks.MinInterval (1 s) with a warning.
    const interval = Math.max(MIN_INTERVAL_MS, intervalMs);
    definition = http
      ? { type: 'http', http, method: str(c.Method, 'Method') || 'GET', header: headerMap(c.Header), intervalMs: interval, timeoutMs }
      : { type: 'tcp', tcp, intervalMs: interval, timeoutMs };
  } else if (ttlMs && ttlMs > 0) {
    definition = { type: 'ttl', ttlMs };
  } else {
    throw new RegisterError(400, 'Invalid check: TTL must be > 0 for TTL checks');
  }
  if (deregisterCriticalAfterMs !== undefined) definition.deregisterCriticalAfterMs = deregisterCriticalAfterMs;
  const status = str(c.Status, 'Status');
  if (status && !isStatus(status)) throw new RegisterError(400, "Status for checks must 'passing', 'warning', 'critical'");
  const id = str(c.CheckID, 'CheckID') || str(c.ID, 'ID') || (ordinal === null ? `service:${serviceId}` : `service:${serviceId}:${ordinal}`);
  return {
    CheckID: id,
    Name: str(c.Name, 'Name') || `Service '${serviceName}' check`,
    Notes: str(c.Notes, 'Notes'),
    Status: (status || 'critical') as CheckStatus,
    definition,
  };
}

function headerMap(v: unknown): Record<string, string[]> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw decode(`json: cannot unmarshal ${jsonType(v)} into Go struct field .Header of type map[string][]string`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strings(x, 'Header')]));
}

export function isStatus(s: string): s is CheckStatus {
  return s === 'passing' || s === 'warning' || s === 'critical';
}
