import { describe, expect, it } from 'vitest';
import { check, instance } from '../../test/fixtures';
import { applyChange, checkChange, flipWeights, policyFromTags, type TrafficPolicy } from './trafficPolicy';

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
});
