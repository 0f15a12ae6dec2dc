import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InstanceReport, MAX_STATUS_KEYS, STATUS_KEY } from './telemetry';

const base = { id: 'payment-1', breaker: 'closed', requests: 1, errors: 0, latency: [] };

describe('InstanceReport.statuses (the optional per-status-code counts)', () => {
  it('is optional: reports from SDKs before it still parse', () => {
    expect(InstanceReport.safeParse(base).success).toBe(true);
  });

  it('refuses keys that are not a status code or "error", prototype names included, and more than 32 codes', () => {
    for (const key of ['constructor', '999', '20', '2000', '', 'Error', 'toString']) {
      expect(InstanceReport.safeParse({ ...base, statuses: JSON.parse(`{${JSON.stringify(key)}: 1}`) }).success, key).toBe(false);
    }
    // An own "__proto__" key (what JSON.parse makes of it) is dropped by the schema, never kept.
    const proto = InstanceReport.safeParse({ ...base, statuses: JSON.parse('{"__proto__": 1}') });
    expect(proto.success && Object.keys(proto.data.statuses ?? {})).toEqual([]);
    expect(InstanceReport.safeParse({ ...base, statuses: { '200': -1 } }).success).toBe(false);
    expect(InstanceReport.safeParse({ ...base, statuses: { '200': 1.5 } }).success).toBe(false);
    const many = Object.fromEntries(Array.from({ length: MAX_STATUS_KEYS + 1 }, (_, i) => [String(200 + i), 1]));
    expect(InstanceReport.safeParse({ ...base, statuses: many }).success).toBe(false);
  });

  it('any JSON value as statuses: never throws, and what it accepts has only status keys with counts', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (statuses) => {
        const r = InstanceReport.safeParse({ ...base, statuses });
        if (!r.success) return;
        for (const [k, v] of Object.entries(r.data.statuses ?? {})) {
          expect(STATUS_KEY.test(k)).toBe(true);
          expect(Number.isInteger(v) && v >= 0).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
