import { describe, expect, it } from 'vitest';
import { check, instance } from '../../test/fixtures';
import { decodePolicyJson } from '../../protocol/traffic';
import { applyChange, checkChange, flipWeights, policyFromTags, policyProblem, subsetNameFor, TrafficPolicy as PolicySchema, type TrafficPolicy } from './trafficPolicy';

const now = new Date('2026-11-24T12:00:00Z');
const blue = (id: string, health: 'passing' | 'critical' = 'passing') => instance(id, { tags: ['blue'], checks: [check(health)] });
const green = (id: string, health: 'passing' | 'critical' = 'passing') => instance(id, { tags: ['green'], checks: [check(health)] });
const policy: TrafficPolicy = {
  version: 1, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue: 90, green: 10 },
  drain: [], updatedAt: now.toISOString(), updatedBy: 'alice', reason: 'canary',
};
const change = (weights: Record<string, number>, extra = {}) => ({ weights, reason: '', force: false, ...extra });

describe('traffic policy', () => {
  it('accepts integer weights over known subsets summing to 100', () => {
    expect(checkChange(change({ blue: 80, green: 20 }), policy, [blue('b1'), green('g1')])).toEqual([]);
  });

  it('names what is wrong: unknown subsets and sums other than 100', () => {
    expect(checkChange(change({ blue: 50, red: 50 }), policy, [])).toEqual([{ code: 'invalid', message: 'weights.red: unknown subset (known: blue, green)' }]);
    expect(checkChange(change({ blue: 50, green: 40 }), policy, [])).toEqual([{ code: 'invalid', message: 'weights: must sum to 100, got 90' }]);
    expect(checkChange(change({ blue: 100 }), null, [])[0]?.message).toMatch(/^subsets:/);
  });

  it('refuses to move weight onto a subset with no passing instance unless forced', () => {
    const instances = [blue('b1'), green('g1', 'critical')];
    expect(checkChange(change({ blue: 0, green: 100 }), policy, instances)).toEqual([
      { code: 'guardrail', message: 'weights.green: subset "green" has no passing instance; set force to move traffic onto it anyway' },
    ]);
    // Moving weight away from it is always allowed.
    expect(checkChange(change({ blue: 100, green: 0 }), policy, instances)).toEqual([]);
    expect(checkChange(change({ blue: 0, green: 100 }, { force: true }), policy, instances)).toEqual([]);
    expect(applyChange(change({ blue: 0, green: 100 }, { force: true, reason: 'db migration' }), policy, 'bob', now).reason).toBe('db migration [forced past the no-passing-instances guardrail]');
  });

  it('counts drained instances as unavailable for the guardrail', () => {
    expect(checkChange(change({ blue: 0, green: 100 }, { drain: ['g1'] }), policy, [blue('b1'), green('g1')])[0]?.code).toBe('guardrail');
  });

  it('flips all weight to the subset without the majority (promoting a canary)', () => {
    expect(flipWeights(policy)).toEqual({ green: 100, blue: 0 });
    expect(flipWeights({ ...policy, weights: { blue: 0, green: 100 } })).toEqual({ blue: 100, green: 0 });
    expect(flipWeights({ ...policy, subsets: { a: { tags: ['a'] } }, weights: { a: 100 } })).toMatchObject({ code: 'invalid' });
  });

  it('fills unspecified subsets with 0 and records who and why', () => {
    const next = applyChange(change({ green: 100 }, { reason: 'cut over' }), policy, 'bob', now);
    expect(next).toMatchObject({ weights: { blue: 0, green: 100 }, updatedBy: 'bob', reason: 'cut over', updatedAt: now.toISOString() });
  });

  it('enables traffic control from blue/green tags, weight on the healthier colour', () => {
    const p = policyFromTags([blue('b1', 'critical'), green('g1'), green('g2')], 'alice', now);
    expect(p).toMatchObject({ subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue: 0, green: 100 } });
    expect(policyFromTags([instance('x', { tags: ['v1'] })], 'alice', now)).toMatchObject({ code: 'invalid' });
  });

  it('never finds Object.prototype keys: "constructor", "toString", "__proto__" are unknown subsets', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(checkChange(change({ [name]: 100 }), policy, [blue('b1'), green('g1')])).toEqual([{ code: 'invalid', message: `weights.${name}: unknown subset (known: blue, green)` }]);
    }
    const proto = JSON.parse('{"__proto__": 100}') as Record<string, number>;
    expect(checkChange(change(proto), policy, [])[0]).toMatchObject({ code: 'invalid', message: 'weights.__proto__: unknown subset (known: blue, green)' });
    // A subset really named "constructor" is an ordinary subset, looked up as an own property.
    const own = { ...policy, subsets: { constructor: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { constructor: 100, green: 0 } };
    expect(checkChange(change({ constructor: 0, green: 100 }), own, [blue('b1'), green('g1')])).toEqual([]);
    expect(applyChange(change({ green: 100 }), own, 'bob', now).weights).toEqual({ constructor: 0, green: 100 });
    expect(flipWeights({ ...policy, subsets: { constructor: { tags: ['a'] }, green: { tags: ['b'] } }, weights: { green: 100 } as Record<string, number> })).toEqual({ constructor: 100, green: 0 });
  });

  it('the policy schema holds every reader to integer weights over exactly the real subsets, summing to 100', () => {
    const text = (p: object) => JSON.stringify({ ...policy, ...p });
    expect(decodePolicyJson(text({})).ok).toBe(true);
    expect(decodePolicyJson(text({ weights: { constructor: 100 } }))).toEqual({ ok: false, why: 'weights.constructor: unknown subset (known: blue, green)' });
    expect(decodePolicyJson(text({ weights: { blue: 100 } }))).toEqual({ ok: false, why: 'weights.green: every subset needs a weight' });
    expect(decodePolicyJson(text({ weights: { blue: 50, green: 40 } }))).toEqual({ ok: false, why: 'weights: must sum to 100, got 90' });
    expect(decodePolicyJson(text({ subsets: { _grpc: { tags: ['_grpc'] } }, weights: { _grpc: 100 } })).ok).toBe(false);
    expect(policyProblem({ ...policy, weights: { blue: 100, green: 0, red: 0 } })?.message).toContain('weights.red: unknown subset');
    expect(policyProblem(policy)).toBeNull();
    expect(PolicySchema.safeParse({ ...policy, subsets: {}, weights: {} }).success).toBe(false);
  });

  it('turns tags into subset names the schema accepts ("_grpc" is not a name, "grpc" is)', () => {
    expect(subsetNameFor('_grpc')).toBe('grpc');
    expect(subsetNameFor('Version=1.2')).toBe('version-1-2');
    expect(subsetNameFor('app.kubernetes.io/name=web')).toBe('app-kubernetes-io-name-web');
    expect(subsetNameFor('__')).toBe('subset');
    expect(subsetNameFor('x'.repeat(200))).toHaveLength(55);
    const p = policyFromTags([instance('a', { tags: ['_grpc'] }), instance('b', { tags: ['-grpc'] }), instance('c', { tags: ['__'] }), instance('d', { tags: ['HTTP'] })], 'alice', now);
    expect(p).toMatchObject({ subsets: { 'grpc': { tags: ['-grpc'] }, 'grpc-2': { tags: ['_grpc'] }, subset: { tags: ['__'] }, http: { tags: ['HTTP'] } } });
    expect(policyProblem(p as TrafficPolicy)).toBeNull();
  });
});
