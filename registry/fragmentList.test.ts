import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FragmentList, type FilteredBlocks } from './fragmentList';

const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');

describe('FragmentList', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), key: fc.integer({ min: 0, max: 15 }) }),
    fc.record({ kind: fc.constant('remove' as const), key: fc.integer({ min: 0, max: 15 }) }),
    // The key's record changes (a new value), so its fragment and whether a filter keeps it change.
    fc.record({ kind: fc.constant('change' as const), key: fc.integer({ min: 0, max: 15 }), value: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('encode' as const) }),
  );

  it('encodes, and encodes filtered, exactly what a from-scratch join gives after any sequence (incremental = recomputed)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.array(op, { maxLength: 80 }), (blockSize, continues, ops) => {
        const list = new FragmentList(blockSize);
        const order: string[] = []; // the keys in list order, maintained naively
        const value = new Map<string, number>();
        const render = (k: string) => JSON.stringify({ k, v: value.get(k) ?? 0, pad: 'é'.repeat(value.get(k) ?? 0) });
        const keep = (k: string) => (value.get(k) ?? 0) % 2 === 0;
        const cache: FilteredBlocks = new WeakMap();
        const check = () => {
          const open = continues ? '[0' : '[';
          const join = (keys: string[]) => (keys.length ? `${continues ? ',' : ''}${keys.map(render).join(',')}` : '');
          expect(text(list.encode(open, ']', render, continues))).toBe(`${open}${join(order)}]`);
          expect(text(list.encodeFiltered(open, ']', cache, keep, render, continues))).toBe(`${open}${join(order.filter(keep))}]`);
          expect(list.size).toBe(order.length);
        };
        for (const o of ops) {
          const key = 'key' in o ? `k${o.key}` : '';
          if (o.kind === 'add') {
            list.add(key);
            if (!order.includes(key)) order.push(key);
          } else if (o.kind === 'remove') {
            list.remove(key);
            if (order.includes(key)) order.splice(order.indexOf(key), 1);
            value.delete(key);
          } else if (o.kind === 'change') {
            value.set(key, o.value);
            list.delete(key);
          } else check();
        }
        check();
      }),
      { numRuns: 500 },
    );
  });

  it('filters again only the block that changed (O(change), not O(list))', () => {
    const list = new FragmentList(128);
    for (let i = 0; i < 10_000; i++) list.add(`k${i}`);
    const cache: FilteredBlocks = new WeakMap();
    let evaluated = 0;
    const keep = (k: string) => {
      evaluated++;
      return k.endsWith('7');
    };
    const render = (k: string) => JSON.stringify(k);
    list.encodeFiltered('[', ']', cache, keep, render);
    expect(evaluated).toBe(10_000);
    evaluated = 0;
    list.delete('k5000');
    const body = JSON.parse(text(list.encodeFiltered('[', ']', cache, keep, render))) as string[];
    expect(evaluated).toBeLessThanOrEqual(128);
    expect(body).toHaveLength(1000);
    evaluated = 0;
    list.encodeFiltered('[', ']', cache, keep, render);
    expect(evaluated).toBe(0);
  });

  it('keeps every chunk below 128 KiB (no large-object allocations per re-encode), even with large fragments', () => {
    const list = new FragmentList(128);
    const big = (k: string) => JSON.stringify({ k, pad: 'x'.repeat(40_000) });
    for (let i = 0; i < 20; i++) list.add(`k${i}`);
    const chunks = list.encode('[', ']', big);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThan(128 * 1024);
    expect(JSON.parse(text(chunks))).toHaveLength(20);
    const small = new FragmentList(128);
    for (let i = 0; i < 1000; i++) small.add(`k${i}`);
    // 1000 fragments of ~540 bytes (a ui/services summary): one chunk per block of 128, no separator chunks.
    const summaries = small.encode('[', ']', (k) => JSON.stringify({ k, pad: 'y'.repeat(520) }));
    expect(summaries).toHaveLength(2 + Math.ceil(1000 / 128));
    expect(Math.max(...summaries.map((c) => c.length))).toBeLessThan(128 * 1024);
  });
});
