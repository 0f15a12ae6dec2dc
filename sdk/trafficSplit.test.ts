import { describe, expect, it } from 'vitest';
import type { TrafficPolicy } from '../protocol/traffic';
import { TrafficSplit, type Endpoint } from './trafficSplit';

const ep = (id: string, tags: string[]): Endpoint => ({ id, node: 'n1', address: '127.0.0.1', port: 1, tags, meta: {} });
const fleet = [ep('b1', ['blue']), ep('b2', ['blue']), ep('b3', ['blue']), ep('g1', ['green']), ep('g2', ['green'])];
const policy = (weights: Record<string, number>, drain: string[] = []): TrafficPolicy => ({
  version: 1,
  subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } },
  weights,
  drain,
  updatedAt: '2026-11-24T00:00:00Z',
  updatedBy: 'test',
  reason: '',
});

function counts(split: TrafficSplit, n: number) {
  const bySubset: Record<string, number> = {};
  const byId: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const p = split.pick()!;
    bySubset[p.subset ?? 'none'] = (bySubset[p.subset ?? 'none'] ?? 0) + 1;
    byId[p.id] = (byId[p.id] ?? 0) + 1;
  }
  return { bySubset, byId };
}

describe('TrafficSplit', () => {
  it('gives each subset exactly its weight over every hundred picks, interleaved', () => {
    const split = new TrafficSplit(fleet, policy({ blue: 80, green: 20 }));
    expect(counts(split, 100).bySubset).toEqual({ blue: 80, green: 20 });
    // Interleaved, not 80 blue then 20 green: every run of 5 picks has exactly one green.
    const window = Array.from({ length: 5 }, () => split.pick()!.subset);
    expect(window.filter((s) => s === 'green')).toHaveLength(1);
  });

  it('round-robins within a subset', () => {
    const split = new TrafficSplit(fleet, policy({ blue: 0, green: 100 }));
    expect(counts(split, 10).byId).toEqual({ g1: 5, g2: 5 });
  });

  it('without a policy spreads over every endpoint', () => {
    const split = new TrafficSplit(fleet, null);
    const { byId, bySubset } = counts(split, 50);
    expect(Object.values(byId)).toEqual([10, 10, 10, 10, 10]);
    expect(bySubset).toEqual({ none: 50 });
  });

  it('never sends new requests to a drained instance, in either id spelling', () => {
    const split = new TrafficSplit(fleet, policy({ blue: 100, green: 0 }, ['b1', 'n1/b2']));
    expect(counts(split, 9).byId).toEqual({ b3: 9 });
  });

  it('moves a weighted subset’s share to the others when it has no endpoint left', () => {
    const blueOnly = fleet.filter((e) => e.tags.includes('blue'));
    const split = new TrafficSplit(blueOnly, policy({ blue: 50, green: 50 }));
    expect(counts(split, 10).bySubset).toEqual({ blue: 10 });
  });

  it('returns null when no weighted subset can serve', () => {
    const split = new TrafficSplit(fleet.filter((e) => e.tags.includes('blue')), policy({ blue: 0, green: 100 }));
    expect(split.pick()).toBeNull();
    expect(new TrafficSplit([], null).pick()).toBeNull();
  });

  it('skips endpoints it is told to (tried already, breaker open)', () => {
    const split = new TrafficSplit(fleet, policy({ blue: 0, green: 100 }));
    expect(split.pick({ skip: (id) => id === 'g1' })!.id).toBe('g2');
    expect(split.pick({ skip: (id) => id.startsWith('g') })).toBeNull();
  });

  it('gives a subset with every endpoint skipped no share, the rest keep their proportions', () => {
    const three = [...fleet, ep('r1', ['red'])];
    const p: TrafficPolicy = { ...policy({ blue: 50, green: 25, red: 25 }), subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] }, red: { tags: ['red'] } } };
    const split = new TrafficSplit(three, p);
    const bySubset: Record<string, number> = {};
    for (let i = 0; i < 75; i++) {
      const s = split.pick({ skip: (id) => id === 'r1' })!.subset!;
      bySubset[s] = (bySubset[s] ?? 0) + 1;
    }
    expect(bySubset).toEqual({ blue: 50, green: 25 });
  });

  it('least-outstanding sends to the idlest instance, ties in turn', () => {
    const split = new TrafficSplit(fleet, policy({ blue: 100, green: 0 }), 'least-outstanding');
    const inflight: Record<string, number> = { b1: 3, b2: 0, b3: 1 };
    expect(split.pick({ outstanding: (id) => inflight[id] ?? 0 })!.id).toBe('b2');
    inflight.b2 = 5;
    expect(split.pick({ outstanding: (id) => inflight[id] ?? 0 })!.id).toBe('b3');
    const idle = new TrafficSplit(fleet, policy({ blue: 100, green: 0 }), 'least-outstanding');
    expect([1, 2, 3].map(() => idle.pick({ outstanding: () => 0 })!.id)).toEqual(['b1', 'b2', 'b3']);
  });

  it('power-of-two picks the less loaded of two random instances', () => {
    const rolls = [0.0, 0.9]; // first candidate b1, second the last other one (b3)
    const split = new TrafficSplit(fleet, policy({ blue: 100, green: 0 }), 'power-of-two', () => rolls.shift() ?? 0);
    expect(split.pick({ outstanding: (id) => (id === 'b1' ? 4 : 1) })!.id).toBe('b3');
  });

  it('random stays within the chosen subset and its usable endpoints', () => {
    const split = new TrafficSplit(fleet, policy({ blue: 0, green: 100 }), 'random');
    for (let i = 0; i < 20; i++) expect(split.pick({ skip: (id) => id === 'g2' })!.id).toBe('g1');
  });
});
