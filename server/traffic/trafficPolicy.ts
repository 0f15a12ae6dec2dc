/**
 * The traffic-policy contract every client shares (DESIGN.md "Traffic policy"): integer
 * weights summing to 100 over named, tag-defined subsets, plus a drain list. Pure: validation,
 * subset membership, the flip, and the guardrail live here with no I/O.
 */
import type { Instance } from '../../protocol/model';
import { flipTarget, inSubset, isDrained, own, SUBSET_NAME, TrafficPolicy } from '../../protocol/traffic';

export { inSubset, isDrained, own, Subset, SubsetName, TrafficPolicy, weightOf } from '../../protocol/traffic';

/** What an operator may send (PUT …/traffic): the REST body schema from protocol/api.ts. */
export { PolicyChange } from '../../protocol/api';
import type { PolicyChange } from '../../protocol/api';

export type PolicyProblem = { code: 'invalid' | 'guardrail'; message: string };

export function isProblem(x: object): x is PolicyProblem {
  return typeof (x as { code?: unknown }).code === 'string' && typeof (x as { message?: unknown }).message === 'string';
}

export function passingCount(instances: readonly Instance[], subset: { tags: string[] }, drain: readonly string[] = []): number {
  return instances.filter((i) => i.health === 'passing' && !isDrained(drain, i.id) && inSubset(i, subset)).length;
}

/**
 * Checks a change against the current policy and the service's instances. Returns the problems
 * (empty = acceptable). The guardrail refuses moving weight onto a subset with no passing,
 * undrained instance unless `force` is set.
 */
export function checkChange(change: PolicyChange, current: TrafficPolicy | null, instances: readonly Instance[]): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  // Maps, never `name in object`: an operator's subset name must not find Object.prototype's keys.
  const subsets = new Map(Object.entries(change.subsets ?? current?.subsets ?? {}));
  const weights = new Map(Object.entries(change.weights));
  if (subsets.size === 0) return [{ code: 'invalid', message: 'subsets: the service has no policy yet, so subsets must be given' }];
  const known = [...subsets.keys()].join(', ');
  for (const name of weights.keys()) {
    if (!subsets.has(name)) problems.push({ code: 'invalid', message: `weights.${name}: unknown subset (known: ${known})` });
  }
  const sum = [...weights.values()].reduce((a, b) => a + b, 0);
  if (sum !== 100) problems.push({ code: 'invalid', message: `weights: must sum to 100, got ${sum}` });
  if (problems.length || change.force) return problems;
  const drain = change.drain ?? current?.drain ?? [];
  for (const [name, weight] of weights) {
    const before = current ? (own(current.weights, name) ?? 0) : 0;
    if (weight > before && passingCount(instances, subsets.get(name)!, drain) === 0) {
      problems.push({ code: 'guardrail', message: `weights.${name}: subset "${name}" has no passing instance; set force to move traffic onto it anyway` });
    }
  }
  return problems;
}

/** Builds the policy a valid change produces: a weight for every subset (0 unless given), nothing else. */
export function applyChange(change: PolicyChange, current: TrafficPolicy | null, who: string, now: Date): TrafficPolicy {
  const subsets = change.subsets ?? current!.subsets;
  const weights = Object.fromEntries(Object.keys(subsets).map((name) => [name, own(change.weights, name) ?? 0]));
  const forced = change.force ? ' [forced past the no-passing-instances guardrail]' : '';
  return {
    version: 1,
    subsets,
    weights,
    drain: change.drain ?? current?.drain ?? [],
    updatedAt: now.toISOString(),
    updatedBy: who,
    reason: `${change.reason}${forced}`.trim(),
  };
}

/** The last word before a write: the policy must be one every reader accepts, or it is not written. */
export function policyProblem(policy: TrafficPolicy): PolicyProblem | null {
  const parsed = TrafficPolicy.safeParse(policy);
  if (parsed.success) return null;
  return { code: 'invalid', message: parsed.error.issues.map((i) => (i.path.length && !i.message.startsWith(`${i.path.join('.')}:`) ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ') };
}

/**
 * Blue/green flip: all weight to the subset that does not hold the majority. From a canary
 * (90/10) that promotes the canary; from 100/0 it switches over. Needs exactly two subsets.
 */
export function flipWeights(policy: TrafficPolicy): Record<string, number> | PolicyProblem {
  const flip = flipTarget(policy);
  if (!flip) return { code: 'invalid', message: `flip needs exactly two subsets, this policy has ${Object.keys(policy.subsets).length}` };
  return { [flip.target]: 100, [flip.from]: 0 };
}

/**
 * "Enable traffic control": subsets from the colour tags the instances carry (blue/green), or
 * else one subset per distinct tag; all weight on the subset with the most passing instances.
 */
export function policyFromTags(instances: readonly Instance[], who: string, now: Date): TrafficPolicy | PolicyProblem {
  const tags = [...new Set(instances.flatMap((i) => i.tags))].sort();
  // Colour tags as Consul spells them (`blue`) or as Kubernetes pod labels come (`color=blue`).
  const colourOf = (t: string) => {
    const v = t.includes('=') ? t.slice(t.indexOf('=') + 1) : t;
    return v === 'blue' || v === 'green' ? v : null;
  };
  const colours = tags.filter((t) => colourOf(t) !== null);
  const byColour = colours.length === 2 && new Set(colours.map(colourOf)).size === 2;
  const names = byColour ? colours : tags;
  if (names.length < 2) return { code: 'invalid', message: 'traffic control needs instances in at least two tag-defined subsets (e.g. tags "blue" and "green")' };
  const taken = new Set<string>();
  const subsets: Record<string, { tags: string[] }> = {};
  for (const t of names) {
    const name = uniqueName(byColour ? colourOf(t)! : subsetNameFor(t), taken);
    taken.add(name);
    subsets[name] = { tags: [t] };
  }
  const best = Object.entries(subsets).sort((x, y) => passingCount(instances, y[1]) - passingCount(instances, x[1]))[0]![0];
  const weights = Object.fromEntries(Object.keys(subsets).map((n) => [n, n === best ? 100 : 0]));
  return { version: 1, subsets, weights, drain: [], updatedAt: now.toISOString(), updatedBy: who, reason: 'traffic control enabled' };
}

/**
 * A tag (`_grpc`, `Version=1.2`, `app.kubernetes.io/name=web`) as a subset name the policy
 * schema accepts: lowercase letters, digits and dashes, starting with a letter or digit.
 */
export function subsetNameFor(tag: string): string {
  const name = tag.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').replace(/-{2,}/g, '-').slice(0, 55).replace(/-+$/, '');
  return SUBSET_NAME.test(name) ? name : 'subset';
}

function uniqueName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  for (let n = 2; ; n++) if (!taken.has(`${name}-${n}`)) return `${name}-${n}`;
}
