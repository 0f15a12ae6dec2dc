import { describe, expect, it } from 'vitest';
import { layoutEdges, NODE_WIDTH, placeNew, THIN_FROM_PAIRS } from './graphLayout';

describe('layoutEdges', () => {
  it('small graphs: every caller → callee pair once, no self-calls or unknown nodes', () => {
    const known = new Set(['a', 'b', 'c']);
    expect(layoutEdges(known, [{ from: 'a', to: 'b' }, { from: 'a', to: 'b' }, { from: 'b', to: 'b' }, { from: 'b', to: 'x' }, { from: 'b', to: 'c' }])).toEqual([
      ['a', 'b'],
      ['b', 'c'],
    ]);
  });

  it('large graphs: adjacent-layer calls only, at most two per callee, every callee keeps one', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `n${i}`);
    const edges = [];
    for (let i = 0; i < 100; i++) for (let j = 100; j < 200; j += 7) edges.push({ from: ids[i]!, to: ids[j]!, rps: i });
    // A long edge, two layers down.
    edges.push({ from: 'n0', to: 'n150' }, { from: 'n150', to: 'n199' });
    expect(new Set(edges.map((e) => `${e.from}>${e.to}`)).size).toBeGreaterThan(THIN_FROM_PAIRS);
    const kept = layoutEdges(new Set(ids), edges);
    const perTarget = new Map<string, number>();
    for (const [, to] of kept) perTarget.set(to, (perTarget.get(to) ?? 0) + 1);
    expect(Math.max(...perTarget.values())).toBeLessThanOrEqual(2);
    expect(kept.length).toBeLessThan(100);
    // The busiest callers are the ones kept.
    expect(kept).toContainEqual(['n99', 'n100']);
  });
});

describe('placeNew', () => {
  it('places a new callee right of its caller, below what is there, without moving anything', () => {
    const placed = new Map([
      ['a', { x: 0, y: 0 }],
      ['b', { x: 320, y: 0 }],
    ]);
    const out = placeNew(placed, ['c', 'd'], [{ from: 'a', to: 'c' }]);
    expect(out.get('a')).toBe(placed.get('a'));
    expect(out.get('b')).toBe(placed.get('b'));
    expect(out.get('c')!.x).toBe(NODE_WIDTH + 120);
    expect(out.get('c')!.y).toBeGreaterThan(0);
    // Connected to nothing placed: under the whole picture.
    expect(out.get('d')!.y).toBeGreaterThan(out.get('b')!.y);
  });
});

describe('fitViewport', () => {
  it('centres every node in the canvas, never past 1.5:1', async () => {
    const { fitViewport } = await import('./graphLayout');
    const vp = fitViewport(new Map([['a', { x: 0, y: 0 }], ['b', { x: 1000, y: 500 }]]), 1200, 700);
    expect(vp.zoom).toBeLessThan(1);
    // The box's centre lands on the canvas' centre.
    expect(vp.x + ((1000 + NODE_WIDTH) / 2) * vp.zoom).toBeCloseTo(600);
    expect(fitViewport(new Map([['a', { x: 0, y: 0 }]]), 1200, 700).zoom).toBe(1.5);
  });
});
