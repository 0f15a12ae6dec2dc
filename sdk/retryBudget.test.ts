import { describe, expect, it } from 'vitest';
import { RetryBudget } from './retryBudget';

describe('RetryBudget', () => {
  it('allows the floor, then retries up to the ratio of recent requests', () => {
    let now = 0;
    const budget = new RetryBudget({ ratio: 0.2, floor: 2, windowMs: 1000, now: () => now });
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([true, true, false]);
    for (let i = 0; i < 10; i++) budget.request();
    // floor 2 + 20% of 10 = 4 retries in the window; 2 are used.
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([true, true, false]);
    now = 1001;
    expect(budget.tryRetry()).toBe(true);
  });
});
