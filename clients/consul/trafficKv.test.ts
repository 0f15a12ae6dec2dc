import { describe, expect, it } from 'vitest';
import { auditPrefix, decodeKeySegment, encodeKeySegment, parsePolicies, policyKey, refusedPrefix } from './trafficKv';

const policy = { version: 1, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue: 100, green: 0 }, drain: [], updatedAt: 'now', updatedBy: 'alice', reason: '' };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');

describe('traffic KV keys', () => {
  it('leave ordinary service names as they are (existing keys keep working)', () => {
    expect(policyKey('payment')).toBe('switchboard/traffic/payment');
    expect(policyKey('api_v1.internal-2')).toBe('switchboard/traffic/api_v1.internal-2');
    expect(auditPrefix('payment')).toBe('switchboard/audit/payment/');
    expect(refusedPrefix('payment')).toBe('switchboard/refused/payment/');
  });

  it('encode names that would change the URL or the key: #, ?, /, %, dot segments, spaces, unicode', () => {
    expect(policyKey('payment#')).toBe('switchboard/traffic/payment~23');
    expect(policyKey('a?cas=0')).toBe('switchboard/traffic/a~3Fcas~3D0');
    expect(policyKey('../audit/x')).toBe('switchboard/traffic/..~2Faudit~2Fx');
    expect(policyKey('..')).toBe('switchboard/traffic/~2E~2E');
    expect(policyKey('.')).toBe('switchboard/traffic/~2E');
    for (const name of ['payment#', 'a?b', '../x', '..', '.', '...', 'a b', 'ü', '~', '%2e%2e', '', 'x/y', '__proto__']) {
      const seg = encodeKeySegment(name);
      expect(seg).toMatch(/^[A-Za-z0-9_.~-]+$/);
      expect(seg).not.toMatch(/^\.{1,2}$/);
      // A URL parser leaves the key exactly as it is.
      expect(new URL(`http://h/v1/kv/switchboard/traffic/${seg}?cas=1`).pathname).toBe(`/v1/kv/switchboard/traffic/${seg}`);
      expect(decodeKeySegment(seg)).toBe(name);
    }
    expect(decodeKeySegment('payment%23')).toBeNull();
    expect(decodeKeySegment('~2e')).toBeNull();
    expect(decodeKeySegment('~61')).toBeNull(); // "a" is never escaped, so this is not a key Switchboard wrote
  });

  it('read back by service name, skipping keys Switchboard never writes', () => {
    const invalid: string[] = [];
    const out = parsePolicies(
      [
        { Key: 'switchboard/traffic/payment~23', Value: b64(policy), ModifyIndex: 1 },
        { Key: 'switchboard/traffic/constructor', Value: b64(policy), ModifyIndex: 2 },
        { Key: 'switchboard/traffic/bad%23', Value: b64(policy), ModifyIndex: 3 },
        { Key: 'switchboard/traffic/nested/x', Value: b64(policy), ModifyIndex: 4 },
        { Key: 'switchboard/traffic/ghost', Value: b64({ ...policy, weights: { constructor: 100 } }), ModifyIndex: 5 },
      ],
      (key) => invalid.push(key),
    );
    expect(Object.keys(out).sort()).toEqual(['constructor', 'payment#']);
    expect(out['toString']).toBeUndefined();
    expect(invalid).toEqual(['switchboard/traffic/bad%23', 'switchboard/traffic/ghost']);
  });
});
