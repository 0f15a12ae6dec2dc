import { describe, expect, it } from 'vitest';
import { ConsulSignOuts, SIGNED_OUT_PREFIX } from './sharedSignOuts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const id = (c: string) => c.repeat(43);

describe('ConsulSignOuts', () => {
  it('publishes a sign-out as a KV key holding its expiry, and follows the prefix', async () => {
    const now = 1_800_000_000_000;
    const calls: string[] = [];
    let reads = 0;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      calls.push(`${init?.method ?? 'GET'} ${url.replace('http://consul:8500', '')}${init?.body ? ` ${String(init.body)}` : ''}`);
      if ((init?.method ?? 'GET') !== 'GET') return new Response('true', { status: 200 });
      if (reads++ > 0) {
        // Later reads block until stopped, as a blocking query with nothing new would.
        await new Promise((resolve) => init?.signal?.addEventListener('abort', resolve, { once: true }));
        throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      }
      const entries = [
        { Key: `${SIGNED_OUT_PREFIX}${id('a')}`, Value: b64(String(now + 60_000)), ModifyIndex: 7 },
        // Expired: forgotten (deleted only if unchanged since read).
        { Key: `${SIGNED_OUT_PREFIX}${id('b')}`, Value: b64(String(now - 1)), ModifyIndex: 8 },
        // Not ours to trust: ignored.
        { Key: `${SIGNED_OUT_PREFIX}../x`, Value: b64(String(now + 60_000)), ModifyIndex: 9 },
        { Key: `${SIGNED_OUT_PREFIX}${id('c')}`, Value: b64('soon'), ModifyIndex: 10 },
        { Key: `${SIGNED_OUT_PREFIX}${id('d')}`, Value: null, ModifyIndex: 11 },
      ];
      return new Response(JSON.stringify(entries), { status: 200, headers: { 'content-type': 'application/json', 'x-consul-index': '11' } });
    }) as typeof fetch;
    const shared = new ConsulSignOuts({ sourceName: 'prod', address: 'http://consul:8500', token: 'acl', fetch: fetchFn, now: () => now });
    expect(shared.describe).toBe('Consul KV switchboard/sessions/signed-out/ (source prod)');

    await shared.publish(id('e'), now + 1234.4);
    await expect(shared.publish('../../switchboard/traffic/payment', now)).rejects.toThrow('not a session id');

    const seen = await new Promise<ReadonlyMap<string, number>>((resolve) => shared.start(resolve));
    expect([...seen]).toEqual([[id('a'), now + 60_000]]);
    await shared.close();
    expect(calls).toContain(`PUT /v1/kv/${SIGNED_OUT_PREFIX}${id('e')} ${now + 1234}`);
    expect(calls).toContain(`DELETE /v1/kv/${SIGNED_OUT_PREFIX}${id('b')}?cas=8`);
    expect(calls.filter((c) => c.startsWith('DELETE'))).toHaveLength(1);
    expect(calls.find((c) => c.startsWith('GET'))).toMatch(new RegExp(`^GET /v1/kv/${SIGNED_OUT_PREFIX}\\?recurse=`));
  });
});
