import { describe, expect, it } from 'vitest';
import { summaryDigest } from './datacenterWatch';

describe('summaryDigest', () => {
  it('ignores order and duplicates of nodes and tags (ui/services vs a normalized service)', () => {
    expect(summaryDigest(3, ['n2', 'n1', 'n2'], ['v1', 'blue'])).toBe(summaryDigest(3, ['n1', 'n2'], ['blue', 'v1', 'blue']));
  });
  it('differs when the instance count, the nodes or the tags differ', () => {
    const base = summaryDigest(2, ['n1'], ['a']);
    expect(summaryDigest(3, ['n1'], ['a'])).not.toBe(base);
    expect(summaryDigest(2, ['n1', 'n2'], ['a'])).not.toBe(base);
    expect(summaryDigest(2, ['n1'], ['a', 'b'])).not.toBe(base);
    // no ambiguity between node and tag lists
    expect(summaryDigest(1, ['a'], [])).not.toBe(summaryDigest(1, [], ['a']));
  });
});
