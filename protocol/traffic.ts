/**
 * The traffic-policy contract every client shares (DESIGN.md "Traffic policy"), as stored in
 * the registry and shown in the UI: integer weights over named, tag-defined subsets.
 */
import { z } from 'zod';

export const Subset = z.strictObject({ tags: z.array(z.string().min(1)).min(1, 'a subset needs at least one tag') });

export const TrafficPolicy = z.strictObject({
  version: z.literal(1),
  subsets: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'subset names are lowercase letters, digits and dashes'), Subset),
  weights: z.record(z.string(), z.number().int('weights are integers').min(0).max(100)),
  drain: z.array(z.string()).default([]),
  updatedAt: z.string(),
  updatedBy: z.string(),
  reason: z.string().default(''),
});
export type TrafficPolicy = z.infer<typeof TrafficPolicy>;

export type PolicyDecode = { ok: true; policy: TrafficPolicy } | { ok: false; why: string };

/** Policy JSON text (a Consul KV value, a Kubernetes annotation) → a policy, or why it is not one. */
export function decodePolicyJson(text: string): PolicyDecode {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, why: 'not JSON' };
  }
  const parsed = TrafficPolicy.safeParse(json);
  return parsed.success ? { ok: true, policy: parsed.data } : { ok: false, why: parsed.error.issues[0]?.message ?? 'invalid' };
}

/** An instance belongs to a subset when it carries all of the subset's tags (labels on K8s). */
export function inSubset(instance: { tags: readonly string[] }, subset: { tags: readonly string[] }): boolean {
  return subset.tags.every((t) => instance.tags.includes(t));
}

/**
 * Whether the policy's drain list names this instance. The list holds registry instance ids
 * (Consul's service ID, e.g. `payment-7`); the topology prefixes the node (`node-1/payment-7`),
 * so both spellings match.
 */
export function isDrained(drain: readonly string[], instanceId: string): boolean {
  if (drain.includes(instanceId)) return true;
  const slash = instanceId.indexOf('/');
  return slash !== -1 && drain.includes(instanceId.slice(slash + 1));
}

/** The id to put in a drain list for a topology instance id (see isDrained). */
export function drainId(instanceId: string): string {
  const slash = instanceId.indexOf('/');
  return slash === -1 ? instanceId : instanceId.slice(slash + 1);
}

/**
 * Blue/green flip: the subset that receives all weight — the one that does not hold the
 * majority, so from a canary (90/10) the flip promotes the canary. Null unless exactly two subsets.
 */
export function flipTarget(policy: Pick<TrafficPolicy, 'subsets' | 'weights'>): { target: string; from: string } | null {
  const names = Object.keys(policy.subsets);
  if (names.length !== 2) return null;
  const [a, b] = names as [string, string];
  const majority = (policy.weights[a] ?? 0) >= (policy.weights[b] ?? 0) ? a : b;
  return { target: majority === a ? b : a, from: majority };
}
