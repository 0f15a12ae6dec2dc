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

  it('skips excluded endpoints on a retry', () => {
    const split = new TrafficSplit(fleet, policy({ blue: 0, green: 100 }));
    expect(split.pick(new Set(['g1']))!.id).toBe('g2');
    expect(split.pick(new Set(['g1', 'g2']))).toBeNull();
  });
});
