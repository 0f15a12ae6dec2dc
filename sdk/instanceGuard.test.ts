import { describe, expect, it } from 'vitest';
import { InstanceGuard } from './instanceGuard';

describe('InstanceGuard', () => {
  it('holds a sudden drop to zero until it persists for the confirmation window', () => {
    const guard = new InstanceGuard<string>({ confirmMs: 10_000 });
    expect(guard.decide(['a', 'b', 'c'], [], 0)).toEqual({ use: ['a', 'b', 'c'], holding: true, recheckInMs: 10_000 });
    expect(guard.decide(['a', 'b', 'c'], [], 4_000)).toEqual({ use: ['a', 'b', 'c'], holding: true, recheckInMs: 6_000 });
    expect(guard.decide(['a', 'b', 'c'], [], 10_000)).toEqual({ use: [], holding: false });
    expect(guard.holds).toBe(1);
  });

  it('holds a drop by more than the fraction, applies smaller changes at once', () => {
    const guard = new InstanceGuard<string>({ maxDropFraction: 0.5 });
    expect(guard.decide(['a', 'b', 'c', 'd'], ['a', 'b'], 0).holding).toBe(false);
    expect(guard.decide(['a', 'b', 'c', 'd'], ['a'], 0).holding).toBe(true);
    expect(guard.decide(['a'], ['a', 'b'], 0)).toEqual({ use: ['a', 'b'], holding: false });
  });

  it('forgets a hold when the list recovers, and counts the next one anew', () => {
    const guard = new InstanceGuard<string>();
    guard.decide(['a', 'b'], [], 0);
    expect(guard.decide(['a', 'b'], ['a', 'b'], 1_000)).toEqual({ use: ['a', 'b'], holding: false });
    guard.decide(['a', 'b'], [], 2_000);
    expect(guard.holds).toBe(2);
  });
});
