import { expect, it } from 'vitest';
import { timeAgo } from './timeAgo';

it('formats ages', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  expect(timeAgo(null, now)).toBe('never');
  expect(timeAgo('2026-11-24T11:59:48Z', now)).toBe('12s ago');
  expect(timeAgo('2026-11-24T11:57:00Z', now)).toBe('3m ago');
  expect(timeAgo('2026-11-24T10:00:00Z', now)).toBe('2h ago');
  expect(timeAgo('2026-11-20T12:00:00Z', now)).toBe('4d ago');
  expect(timeAgo('2026-11-24T12:00:05Z', now)).toBe('0s ago');
});
