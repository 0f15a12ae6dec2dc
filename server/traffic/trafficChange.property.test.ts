/**
 * Property: whatever an operator sends (any weights, any subset names — prototype keys
 * included — any force flag), a written policy always has integer weights over exactly its
 * real subsets summing to 100, and a refused change leaves the stored policy untouched.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { check, instance, service } from '../../test/fixtures';
import { TrafficPolicy } from '../../protocol/traffic';
import { applyChange, checkChange, PolicyChange, type TrafficPolicy as Policy } from './trafficPolicy';
import { AuditEntry, type StoredPolicy, type TrafficStore, type WriteResult } from './trafficStore';
import { TrafficService } from './trafficService';

const names = fc.oneof(
  fc.constantFrom('blue', 'green', 'canary', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '', 'Blue', '_grpc', 'a-1'),
  fc.string({ maxLength: 8 }),
);
const split = fc.tuple(fc.constantFrom('blue', 'green', 'canary', 'constructor'), fc.constantFrom('blue', 'green', 'toString'), fc.integer({ min: 0, max: 100 })).map(([a, b, v]) => ({ [a]: v, [b]: 100 - v }));
const weights = fc.oneof(split, fc.dictionary(names, fc.oneof(fc.integer({ min: -5, max: 105 }), fc.constantFrom(0, 50, 100, 33.5, Number.NaN)), { maxKeys: 4 }));
const subsets = fc.option(fc.oneof(
  fc.constant({ blue: { tags: ['blue'] }, green: { tags: ['green'] } }),
  fc.constant({ constructor: { tags: ['blue'] }, green: { tags: ['green'] }, canary: { tags: ['canary'] } }),
  fc.dictionary(names, fc.record({ tags: fc.array(fc.constantFrom('blue', 'green', 'canary', 'x'), { minLength: 1, maxLength: 2 }) }), { maxKeys: 3 }),
), { nil: undefined });
const body = fc.record({ weights, subsets, force: fc.boolean(), reason: fc.string({ maxLength: 10 }) }, { requiredKeys: ['weights'] });

/** A written policy as every reader needs it. */
function wellFormed(p: Policy): void {
  expect(TrafficPolicy.safeParse(p).success).toBe(true);
  const subsetNames = Object.keys(p.subsets).sort();
  expect(Object.keys(p.weights).sort()).toEqual(subsetNames);
  for (const n of subsetNames) expect(Number.isInteger(Object.getOwnPropertyDescriptor(p.weights, n)?.value)).toBe(true);
  expect(Object.values(p.weights).reduce((a, b) => a + b, 0)).toBe(100);
}

class MemoryStore implements TrafficStore {
  stored: StoredPolicy = { policy: null, modifyIndex: 0 };
  entries: AuditEntry[] = [];
  async get(): Promise<StoredPolicy> {
    return structuredClone(this.stored);
  }
  async put(_s: string, _n: string, policy: Policy, expected: number): Promise<WriteResult> {
    if (expected !== this.stored.modifyIndex) return { ok: false, current: await this.get() };
    this.stored = { policy: JSON.parse(JSON.stringify(policy)) as Policy, modifyIndex: expected + 1 };
    return { ok: true, modifyIndex: expected + 1 };
  }
  async audit(_s: string, _n: string, entry: Parameters<TrafficStore['audit']>[2]): Promise<AuditEntry> {
    const full = AuditEntry.parse({ id: String(this.entries.length), ...entry });
    this.entries.unshift(full);
    return full;
  }
  async history(): Promise<AuditEntry[]> {
    return this.entries;
  }
}

const now = new Date('2026-11-24T12:00:00Z');
const instances = [
  instance('b1', { tags: ['blue'] }),
  instance('g1', { tags: ['green'] }),
  instance('c1', { tags: ['canary'], checks: [check('critical')] }),
];

describe('traffic changes (property)', () => {
  it('checkChange + applyChange: an accepted change always builds a well-formed policy', () => {
    const current: Policy = { version: 1, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue: 100, green: 0 }, drain: [], updatedAt: now.toISOString(), updatedBy: 'a', reason: '' };
    fc.assert(
      fc.property(body, fc.boolean(), (raw, fromNothing) => {
        // What the HTTP layer does first: the request schema. Whatever it lets through must be safe.
        const parsed = PolicyChange.safeParse(JSON.parse(JSON.stringify(raw)));
        if (!parsed.success) return;
        const base = fromNothing ? null : current;
        if (checkChange(parsed.data, base, instances).length) return;
        wellFormed(applyChange(parsed.data, base, 'op', now));
      }),
      { numRuns: 2000 },
    );
  });

  it('through the service: writes are well-formed, refusals leave the stored policy untouched', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 8 }), async (changes) => {
        const store = new MemoryStore();
        const svc = service('embedded', 'dc1', 'payment', instances);
        const traffic = new TrafficService({ storeFor: () => store, service: (id) => (id === svc.id ? svc : undefined), now: () => now });
        let applied = 0;
        for (const raw of changes) {
          const parsed = PolicyChange.safeParse(JSON.parse(JSON.stringify(raw)));
          if (!parsed.success) continue;
          const before = structuredClone(store.stored);
          const r = await traffic.change(svc.id, parsed.data, 'op');
          if (r.ok) {
            applied++;
            wellFormed(store.stored.policy!);
            expect(r.value.policy).toEqual(store.stored.policy);
            expect(store.stored.modifyIndex).toBe(before.modifyIndex + 1);
          } else {
            expect(['invalid', 'guardrail']).toContain(r.error.code);
            expect(store.stored).toEqual(before);
            expect(store.entries[0]).toMatchObject({ outcome: 'rejected' });
          }
        }
        accepted += applied;
      }),
      { numRuns: 300 },
    );
    // The generators reach the interesting side too, not only refusals.
    expect(accepted).toBeGreaterThan(20);
  });
});

describe('traffic changes on a service whose instances are still being read', () => {
  it('are refused with a registry error naming why, and write nothing', async () => {
    const store = new MemoryStore();
    const svc = { ...service('embedded', 'dc1', 'payment', []), pending: { passing: 3, warning: 0, critical: 0, unknown: 0 } };
    const traffic = new TrafficService({ storeFor: () => store, service: async (id) => (id === svc.id ? svc : undefined), now: () => now });
    const before = structuredClone(store.stored);
    for (const r of [await traffic.flip(svc.id, 'op', {}), await traffic.change(svc.id, { weights: { blue: 50, green: 50 }, reason: '', force: false }, 'op'), await traffic.enable(svc.id, 'op')]) {
      expect(r).toEqual({ ok: false, error: { code: 'registry', message: 'the instances of "embedded/dc1/payment" are still being read from the registry; retry shortly' } });
    }
    expect(store.stored).toEqual(before);
  });
});
