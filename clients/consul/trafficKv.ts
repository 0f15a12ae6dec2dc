/**
 * Where traffic policies live in Consul KV (DESIGN.md "Traffic policy"):
 * `switchboard/traffic/<service>` in the service's datacenter. Shared by the SDK, the server's
 * topology watch and the traffic store, so every reader decodes the same way.
 */
import { z } from 'zod';
import { decodePolicyJson, type PolicyDecode, type TrafficPolicy } from '../../protocol/traffic';

export const TRAFFIC_KEY_PREFIX = 'switchboard/traffic/';
export const policyKey = (service: string) => `${TRAFFIC_KEY_PREFIX}${service}`;
export const auditPrefix = (service: string) => `switchboard/audit/${service}/`;

/** `GET /v1/kv/…` entries; a missing key/prefix reads as null (404 with an index). */
export const KvEntries = z.array(z.object({ Key: z.string(), Value: z.string().nullable(), ModifyIndex: z.number().default(0) })).nullable();
export type KvEntries = z.infer<typeof KvEntries>;

/** One KV value (base64, as Consul returns it) → a policy, or why it is not one. */
export function decodePolicy(base64: string): PolicyDecode {
  return decodePolicyJson(Buffer.from(base64, 'base64').toString('utf8'));
}

/** KV entries under the prefix → policies by service name; invalid entries are reported and skipped. */
export function parsePolicies(entries: KvEntries, invalid: (key: string, why: string) => void): Record<string, TrafficPolicy> {
  const out: Record<string, TrafficPolicy> = {};
  for (const e of entries ?? []) {
    const name = e.Key.slice(TRAFFIC_KEY_PREFIX.length);
    if (!e.Key.startsWith(TRAFFIC_KEY_PREFIX) || !name || name.includes('/') || !e.Value) continue;
    const decoded = decodePolicy(e.Value);
    if (decoded.ok) out[name] = decoded.policy;
    else invalid(e.Key, decoded.why);
  }
  return out;
}
