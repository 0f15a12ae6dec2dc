import { describe, expect, it } from 'vitest';
import type { Instance } from '../../protocol/model';
import { InstanceInterner, SharingTable, sameInstance } from './instanceInterner';

/** A Kubernetes-shaped instance: meta names its pod (unique) and zone (shared); one conditions check. */
function podInstance(n: number, ready = true): Instance {
  return {
    id: `10.0.${n >> 8}.${n & 255}:8080`,
    address: `10.0.${n >> 8}.${n & 255}`,
    port: 8080,
    tags: ['app=payment'],
    meta: { pod: `payment-7d9f-${n}`, zone: `zone-${n % 3}` },
    node: `node-${n % 20}`,
    health: ready ? 'passing' : 'critical',
    checks: [{ id: 'endpoint-conditions', name: 'endpoint ready', status: ready ? 'passing' : 'critical', output: `ready=${ready}`, type: 'kubernetes', nodeLevel: false }],
  };
}

describe('SharingTable', () => {
  it('keeps sharing what repeats and stops growing on values that never do', () => {
    const repeating = new SharingTable<string>(10);
    for (let i = 0; i < 1000; i++) repeating.get(`v${i % 5}`, () => `v${i % 5}`);
    expect(repeating.size).toBe(5);
    const unique = new SharingTable<string>(10);
    for (let i = 0; i < 1000; i++) unique.get(`u${i}`, () => `u${i}`);
    expect(unique.size).toBe(10);
  });
});

describe('InstanceInterner', () => {
  it('shares check lists and zone values across pods, and does not fill a table with pod names', () => {
    const interner = new InstanceInterner();
    const stored = Array.from({ length: 20_000 }, (_, n) => interner.instance(podInstance(n, n % 2 === 0)));
    expect(stored[0]!.checks).toBe(stored[2]!.checks);
    expect(stored[1]!.checks).toBe(stored[3]!.checks);
    expect(stored[0]!.checks).not.toBe(stored[1]!.checks);
    expect(stored[0]!.meta.zone).toBe(stored[3]!.meta.zone);
    // 20,000 unique pods: the tables hold a trial's worth of metas, not one per pod.
    expect(interner.size).toBeLessThan(5_000);
    for (let n = 0; n < 200; n++) expect(sameInstance(stored[n]!, podInstance(n, n % 2 === 0))).toBe(true);
  });

  it('hands out frozen values: a reader that mutates one throws instead of changing other instances', () => {
    const interner = new InstanceInterner();
    const a = interner.instance(podInstance(1));
    expect(Object.isFrozen(a.checks)).toBe(true);
    expect(Object.isFrozen(a.checks[0])).toBe(true);
    expect(Object.isFrozen(a.meta)).toBe(true);
    expect(() => (a.checks as unknown as unknown[]).push({})).toThrow(TypeError);
    expect(() => ((a.checks[0] as { status: string }).status = 'critical')).toThrow(TypeError);
  });

  it('keeps unique check lists (a Consul check id names its instance) out of the table', () => {
    const interner = new InstanceInterner();
    for (let n = 0; n < 20_000; n++) {
      const i = podInstance(n);
      interner.instance({ ...i, meta: {}, checks: [{ ...i.checks[0]!, id: `service:payment-${n}` }] });
    }
    expect(interner.size).toBeLessThan(5_000);
  });
});
