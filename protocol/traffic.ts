/**
 * The traffic-policy contract every client shares (DESIGN.md "Traffic policy"), as stored in
 * the registry and shown in the UI: integer weights over named, tag-defined subsets.
 */
import { z } from 'zod';

export const Subset = z.strictObject({ tags: z.array(z.string().min(1)).min(1, 'a subset needs at least one tag') });

/** What a subset name may be (also what "Enable traffic control" turns tags into). */
export const SUBSET_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const SubsetName = z.string().regex(SUBSET_NAME, 'subset names are lowercase letters, digits and dashes (at most 63)');

/** `record[key]` only when it is the record's own property: never Object.prototype's `constructor`. */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A subset's weight (0 when the policy gives it none); own properties only. */
export function weightOf(policy: Pick<TrafficPolicy, 'weights'>, name: string): number {
  return own(policy.weights, name) ?? 0;
}

/**
 * A written policy: integer weights over exactly its real subsets, summing to 100. Readers
 * (gateway, SDK, xDS, topology) can look a subset's weight up without guarding against
 * unknown names, missing weights or prototype keys.
 */
export const TrafficPolicy = z
  .strictObject({
    version: z.literal(1),
    subsets: z.record(SubsetName, Subset),
    weights: z.record(z.string(), z.number().int('weights are integers').min(0).max(100)),
    drain: z.array(z.string()).default([]),
    updatedAt: z.string(),
    updatedBy: z.string(),
    reason: z.string().default(''),
  })
  .superRefine((p, ctx) => {
    const names = Object.keys(p.subsets);
    if (names.length === 0) ctx.addIssue({ code: 'custom', path: ['subsets'], message: 'a policy needs at least one subset' });
    for (const name of Object.keys(p.weights)) {
      if (!Object.hasOwn(p.subsets, name)) ctx.addIssue({ code: 'custom', path: ['weights', name], message: `weights.${name}: unknown subset (known: ${names.join(', ')})` });
    }
    for (const name of names) {
      if (!Object.hasOwn(p.weights, name)) ctx.addIssue({ code: 'custom', path: ['weights', name], message: `weights.${name}: every subset needs a weight` });
    }
    const sum = Object.values(p.weights).reduce((a, b) => a + b, 0);
    if (sum !== 100) ctx.addIssue({ code: 'custom', path: ['weights'], message: `weights: must sum to 100, got ${sum}` });
  });
export type TrafficPolicy = z.infer<typeof TrafficPolicy>;

export type PolicyDecode = { ok: true; policy: TrafficPolicy } | { ok: false; why: string };

/** Policy JSON text (a Consul KV value, a Kubernetes annotation) → a policy, or why it is not one. */
export function decodePolicyJson(text: string): PolicyDecode {
  if (text.length > 256 * 1024) return { ok: false, why: 'larger than 256 KiB' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, why: 'not JSON' };
  }
  const parsed = TrafficPolicy.safeParse(json);
  if (parsed.success) return { ok: true, policy: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return { ok: false, why: issue ? (issue.message.startsWith(where) ? issue.message : `${where}${issue.message}`) : 'invalid' };
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
  const majority = weightOf(policy, a) >= weightOf(policy, b) ? a : b;
  return { target: majority === a ? b : a, from: majority };
}
