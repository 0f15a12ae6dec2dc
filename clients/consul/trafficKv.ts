/**
 * Where traffic policies live in Consul KV (DESIGN.md "Traffic policy"):
 * `switchboard/traffic/<service>` in the service's datacenter. Shared by the SDK, the server's
 * topology watch and the traffic store, so every reader decodes the same way.
 */
import { z } from 'zod';
import { decodePolicyJson, type PolicyDecode, type TrafficPolicy } from '../../protocol/traffic';

export const TRAFFIC_KEY_PREFIX = 'switchboard/traffic/';
export const AUDIT_KEY_PREFIX = 'switchboard/audit/';
export const REFUSED_KEY_PREFIX = 'switchboard/refused/';

/**
 * A service name as one KV key segment that is also safe, unchanged, in a URL path: letters,
 * digits, `_`, `-` and `.` stay as they are (so `payment` is still `switchboard/traffic/payment`);
 * every other byte becomes `~XX` (hex), and a segment of only dots (`.`, `..`, which URL
 * parsers would resolve into another key) is escaped too. `payment#` → `payment~23`,
 * `../x` → `~2E~2E~2Fx`. Reversible with decodeKeySegment.
 */
export function encodeKeySegment(name: string): string {
  if (name === '') return '~';
  if (/^\.+$/.test(name)) return name.replace(/\./g, '~2E');
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.-]/.test(c) ? c : `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of encodeKeySegment; null when the text is not one it produced. */
export function decodeKeySegment(segment: string): string | null {
  if (segment === '~') return '';
  if (!/^(?:[A-Za-z0-9_.-]|~[0-9A-F]{2})+$/.test(segment)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    if (segment[i] === '~') {
      bytes.push(parseInt(segment.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(segment.charCodeAt(i));
  }
  const name = Buffer.from(bytes).toString('utf8');
  return encodeKeySegment(name) === segment ? name : null;
}

/** Every key below is URL-path-safe as it is: callers put it straight after `/v1/kv/`. */
export const policyKey = (service: string) => `${TRAFFIC_KEY_PREFIX}${encodeKeySegment(service)}`;
/** Applied changes (what a rollback can go back to). */
export const auditPrefix = (service: string) => `${AUDIT_KEY_PREFIX}${encodeKeySegment(service)}/`;
/** Refused attempts, bounded on their own so they can never push applied changes out. */
export const refusedPrefix = (service: string) => `${REFUSED_KEY_PREFIX}${encodeKeySegment(service)}/`;

/** `GET /v1/kv/…` entries; a missing key/prefix reads as null (404 with an index). */
export const KvEntries = z.array(z.object({ Key: z.string(), Value: z.string().nullable(), ModifyIndex: z.number().default(0) })).nullable();
export type KvEntries = z.infer<typeof KvEntries>;

/** One KV value (base64, as Consul returns it) → a policy, or why it is not one. */
export function decodePolicy(base64: string): PolicyDecode {
  return decodePolicyJson(Buffer.from(base64, 'base64').toString('utf8'));
}

/** KV entries under the prefix → policies by service name; invalid entries are reported and skipped. */
export function parsePolicies(entries: KvEntries, invalid: (key: string, why: string) => void): Record<string, TrafficPolicy> {
  // Service names are registry data: no prototype, so `__proto__` or `constructor` are just names.
  const out: Record<string, TrafficPolicy> = Object.create(null) as Record<string, TrafficPolicy>;
  for (const e of entries ?? []) {
    const segment = e.Key.slice(TRAFFIC_KEY_PREFIX.length);
    if (!e.Key.startsWith(TRAFFIC_KEY_PREFIX) || !segment || segment.includes('/') || !e.Value) continue;
    const name = decodeKeySegment(segment);
    if (name === null) {
      invalid(e.Key, 'not a key Switchboard writes (service names are encoded, e.g. `payment~23` for `payment#`)');
      continue;
    }
    const decoded = decodePolicy(e.Value);
    if (decoded.ok) Object.defineProperty(out, name, { value: decoded.policy, enumerable: true, writable: true, configurable: true });
    else invalid(e.Key, decoded.why);
  }
  return out;
}
