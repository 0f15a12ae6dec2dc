import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration';

describe('Go durations', () => {
  it.each([
    ['10s', 10_000], ['1m30s', 90_000], ['250ms', 250], ['1.5s', 1500], ['2h', 7_200_000], ['0', 0], ['100us', 0.1],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it('rejects what Go rejects, with Go’s wording', () => {
    expect(() => parseDuration('2')).toThrow('time: missing unit in duration "2"');
    expect(() => parseDuration('10 seconds')).toThrow('time: unknown unit " seconds" in duration "10 seconds"');
    expect(() => parseDuration('5d')).toThrow('time: unknown unit "d" in duration "5d"');
    expect(() => parseDuration('')).toThrow('invalid duration');
  });

  it('formats like Go', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(10_000)).toBe('10s');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(3_600_000)).toBe('1h0m0s');
  });
});
