import { describe, expect, it } from 'vitest';
import { ConsulHttp, Datacenters } from './consulHttp';

const TOKEN = 'tok-very-secret';

function client(respond: (url: string, init?: RequestInit) => Response | Promise<Response>) {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const http = new ConsulHttp({
    sourceName: 'prod',
    address: 'http://127.0.0.1:8500',
    token: TOKEN,
    fetch: async (input, init) => {
      calls.push({ url: String(input), headers: (init?.headers ?? {}) as Record<string, string> });
      return respond(String(input), init);
    },
  });
  return { http, calls };
}

describe('ConsulHttp', () => {
  it('sends the token as a header, dc and blocking params in the query, and parses the index', async () => {
    const { http, calls } = client(() => new Response('["dc1"]', { headers: { 'x-consul-index': '42' } }));
    const res = await http.get('/v1/catalog/services', Datacenters, { dc: 'dc1', index: 7, waitMs: 300_000 });
    expect(res).toEqual({ ok: true, value: ['dc1'], index: 42, bytes: 7 });
    expect(calls[0]!.url).toBe('http://127.0.0.1:8500/v1/catalog/services?dc=dc1&index=7&wait=300000ms');
    expect(calls[0]!.headers['x-consul-token']).toBe(TOKEN);
  });

  it('turns a non-2xx answer into an error value with Consul’s text body and context', async () => {
    const { http } = client(() => new Response('No path to datacenter', { status: 500 }));
    const res = await http.get('/v1/health/state/any', Datacenters, { dc: 'dc9' });
    expect(res).toEqual({
      ok: false,
      error: {
        code: 'http', status: 500, body: 'No path to datacenter', source: 'prod', dc: 'dc9', path: '/v1/health/state/any',
        message: 'GET /v1/health/state/any?dc=dc9: HTTP 500: No path to datacenter',
      },
    });
  });

  it('reports a malformed body naming the endpoint instead of throwing', async () => {
    const { http } = client(() => new Response('{"not":"a list"}'));
    const res = await http.get('/v1/catalog/datacenters', Datacenters);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error).toMatchObject({ code: 'invalid_body', message: expect.stringMatching(/^GET \/v1\/catalog\/datacenters: unexpected response body/) });
    const { http: h2 } = client(() => new Response('<html>'));
    const res2 = await h2.get('/v1/catalog/datacenters', Datacenters);
    expect(!res2.ok && res2.error.message).toBe('GET /v1/catalog/datacenters: response is not JSON');
  });

  it('names the network cause and never the token', async () => {
    const cause = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:8500`), { code: 'ECONNREFUSED' });
    const { http } = client(() => {
      throw new TypeError('fetch failed', { cause });
    });
    const res = await http.get('/v1/health/state/any', Datacenters, { dc: 'dc1' });
    expect(!res.ok && res.error).toMatchObject({ code: 'network', message: 'GET /v1/health/state/any?dc=dc1: connect ECONNREFUSED 127.0.0.1:8500' });
    expect(JSON.stringify(res)).not.toContain(TOKEN);
  });

  it('strips credentials from the shown address', () => {
    const http = new ConsulHttp({ sourceName: 'p', address: 'http://user:pw@consul.internal:8500/', fetch: async () => new Response('[]') });
    expect(http.address).toBe('http://consul.internal:8500');
  });
});

describe('ConsulHttp body cap', () => {
  const huge = () => new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array(64 * 1024).fill(0x20));
    },
  });

  it('stops reading a chunked body past the cap and says so', async () => {
    let seen = 0;
    const http = new ConsulHttp({ sourceName: 'p', address: 'http://127.0.0.1:8500', maxBodyBytes: 1 << 20, fetch: async () => new Response(huge()), onResponse: (r) => (seen = r.bytes) });
    const res = await http.get('/v1/health/state/critical', Datacenters, { dc: 'dc1' });
    expect(!res.ok && res.error).toMatchObject({ code: 'too_large', message: expect.stringMatching(/^GET \/v1\/health\/state\/critical\?dc=dc1: response body larger than the 1048576-byte limit/) });
    expect(seen).toBeGreaterThan(1 << 20);
    expect(seen).toBeLessThan((1 << 20) + 128 * 1024);
  });

  it('refuses a declared Content-Length over the per-request cap without reading', async () => {
    const http = new ConsulHttp({ sourceName: 'p', address: 'http://127.0.0.1:8500', fetch: async () => new Response('["dc1"]', { headers: { 'content-length': '999999999' } }) });
    const res = await http.get('/v1/catalog/datacenters', Datacenters, { maxBytes: 1000 });
    expect(!res.ok && res.error.code).toBe('too_large');
  });

  it('reports the body size of a good answer', async () => {
    let bytes = -1;
    const http = new ConsulHttp({ sourceName: 'p', address: 'http://127.0.0.1:8500', fetch: async () => new Response('["dc1","dc2"]'), onResponse: (r) => (bytes = r.bytes) });
    expect(await http.get('/v1/catalog/datacenters', Datacenters)).toEqual({ ok: true, value: ['dc1', 'dc2'], index: null, bytes: 13 });
    expect(bytes).toBe(13);
  });
});
