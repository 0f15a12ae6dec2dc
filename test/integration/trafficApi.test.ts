/**
 * Traffic control over REST, through the whole control plane and a real registry (the
 * embedded one, which the contract suite holds to Consul's behaviour): roles, validation,
 * guardrail, compare-and-set conflicts, flip, history, rollback, and the policy in KV where
 * every client following the registry can read it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Switchboard } from '../../server/switchboard';
import { startControlPlane } from '../support/controlPlane';

let sb: Switchboard;
let base: string;
let registry: string;
const SVC = '/api/services/embedded/dc1/payment';
const alice = { authorization: 'Bearer alice-token', 'content-type': 'application/json' };
const vic = { authorization: 'Bearer vic-token', 'content-type': 'application/json' };

beforeAll(async () => {
  ({ sb, base, registry } = await startControlPlane({ anonymousRole: null, users: [{ name: 'alice', role: 'operator', token: 'alice-token' }, { name: 'vic', role: 'viewer', token: 'vic-token' }] }));
  for (const [id, tag] of [['p1', 'blue'], ['p2', 'blue'], ['p3', 'green'], ['p4', 'green']]) {
    await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'payment', ID: id, Port: 9000, Tags: [tag], Check: { CheckID: `${id}-ttl`, TTL: '10m', Status: 'passing' } }) });
  }
  await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances.filter((i) => i.health === 'passing')).toHaveLength(4), { timeout: 15_000 });
});

afterAll(async () => {
  await sb?.close();
});

const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
  const r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> & { error?: string } };
};
const subsets = { blue: { tags: ['blue'] }, green: { tags: ['green'] } };

describe('traffic API', () => {
  it('lets a viewer read but not change traffic', async () => {
    expect(await call('GET', `${SVC}/traffic`, vic)).toMatchObject({ status: 200, body: { policy: null, modifyIndex: 0 } });
    const put = await call('PUT', `${SVC}/traffic`, vic, { weights: { blue: 100 }, subsets });
    expect(put.status).toBe(403);
    expect(put.body.error).toContain('role operator required');
  });

  it('creates a canary split, stored in the registry KV for every client to follow', async () => {
    const r = await call('PUT', `${SVC}/traffic`, alice, { weights: { blue: 90, green: 10 }, subsets, reason: 'canary 10%' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ policy: { weights: { blue: 90, green: 10 }, updatedBy: 'alice', reason: 'canary 10%' }, subsets: { blue: { instances: 2, passing: 2 }, green: { instances: 2, passing: 2 } } });
    const kv = await (await fetch(`${registry}/v1/kv/switchboard/traffic/payment?raw`)).json();
    expect(kv).toMatchObject({ version: 1, weights: { blue: 90, green: 10 }, subsets });
  });

  it('enables traffic control from the instances’ tags, once', async () => {
    for (const [id, tag] of [['l1', 'blue'], ['l2', 'green']]) {
      await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'ledger', ID: id, Port: 9100, Tags: [tag, 'v1'], Check: { CheckID: `${id}-ttl`, TTL: '10m', Status: 'passing' } }) });
    }
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/ledger')?.instances).toHaveLength(2), { timeout: 15_000 });
    const LEDGER = '/api/services/embedded/dc1/ledger/traffic';
    const enabled = await call('POST', `${LEDGER}/enable`, alice);
    expect(enabled).toMatchObject({ status: 200, body: { policy: { subsets, weights: { blue: 100, green: 0 }, reason: 'traffic control enabled', updatedBy: 'alice' } } });
    const again = await call('POST', `${LEDGER}/enable`, alice);
    expect(again).toMatchObject({ status: 409, body: { error: 'this service already has a traffic policy' } });
    expect((await call('POST', `${LEDGER}/enable`, vic)).status).toBe(403);
  });

  it('rejects invalid weights with 400 naming the problem', async () => {
    expect(await call('PUT', `${SVC}/traffic`, alice, { weights: { blue: 50, green: 40 } })).toMatchObject({ status: 400, body: { error: 'weights: must sum to 100, got 90' } });
    expect((await call('PUT', `${SVC}/traffic`, alice, { weights: { blue: 50, red: 50 } })).body.error).toContain('weights.red: unknown subset');
    expect((await call('PUT', `${SVC}/traffic`, alice, { weights: { blue: 50.5, green: 49.5 } })).body.error).toContain('integers');
    expect((await call('PUT', '/api/services/embedded/dc1/nope/traffic', alice, { weights: { a: 100 } })).status).toBe(404);
  });

  it('answers 409 with the current policy when the operator’s version is stale', async () => {
    const current = (await call('GET', `${SVC}/traffic`, alice)).body as { modifyIndex: number };
    const stale = await call('PUT', `${SVC}/traffic`, { ...alice, 'if-match': String(current.modifyIndex - 1) }, { weights: { blue: 50, green: 50 } });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ current: { policy: { weights: { blue: 90, green: 10 } }, modifyIndex: current.modifyIndex } });
    const fresh = await call('PUT', `${SVC}/traffic`, { ...alice, 'if-match': String(current.modifyIndex) }, { weights: { blue: 80, green: 20 }, reason: 'canary 20%' });
    expect(fresh.status).toBe(200);
  });

  it('guards against sending traffic to a subset with no passing instance unless forced', async () => {
    for (const id of ['p3', 'p4']) await fetch(`${registry}/v1/agent/check/fail/${id}-ttl`, { method: 'PUT' });
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances.filter((i) => i.health === 'critical')).toHaveLength(2), { timeout: 15_000 });
    const refused = await call('POST', `${SVC}/traffic/flip`, alice);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toContain('subset "green" has no passing instance');
    // Forcing past the guardrail works, and the audit says it was forced.
    const forced = await call('PUT', `${SVC}/traffic`, alice, { weights: { blue: 70, green: 30 }, reason: 'forced canary', force: true });
    expect(forced.status).toBe(200);
    expect((forced.body as { policy: { reason: string } }).policy.reason).toContain('forced past the no-passing-instances guardrail');
    const back = await call('PUT', `${SVC}/traffic`, alice, { weights: { blue: 80, green: 20 }, reason: 'canary 20%' });
    expect(back.status).toBe(200);
    for (const id of ['p3', 'p4']) await fetch(`${registry}/v1/agent/check/pass/${id}-ttl`, { method: 'PUT' });
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances.filter((i) => i.health === 'passing')).toHaveLength(4), { timeout: 15_000 });
  });

  it('flips all weight to the subset without the majority, then rolls back from history', async () => {
    const flipped = await call('POST', `${SVC}/traffic/flip`, alice);
    expect(flipped).toMatchObject({ status: 200, body: { policy: { weights: { blue: 0, green: 100 }, reason: 'flip to green' } } });
    type Entry = { id: string; reason: string; by: string; outcome: string; forced: boolean; error?: string; after: { weights: object } | null };
    const all = (await call('GET', `${SVC}/traffic/history`, vic)).body as unknown as Entry[];
    const history = all.filter((h) => h.outcome === 'applied');
    expect(history.map((h) => h.reason)).toEqual(['flip to green', 'canary 20%', expect.stringContaining('forced canary'), 'canary 20%', 'canary 10%']);
    expect(history.filter((h) => h.forced).map((h) => h.reason)).toEqual([expect.stringContaining('forced canary')]);
    expect(all.every((h) => h.by === 'alice')).toBe(true);
    // Refused attempts are in the trail with the reason they were refused.
    const rejected = all.filter((h) => h.outcome === 'rejected').map((h) => h.error);
    expect(rejected).toEqual(expect.arrayContaining([
      'weights: must sum to 100, got 90',
      'the policy changed since you loaded it',
      expect.stringContaining('subset "green" has no passing instance'),
    ]));
    const refusedEntry = all.find((h) => h.outcome === 'rejected')!;
    expect((await call('POST', `${SVC}/traffic/rollback`, alice, { id: refusedEntry.id })).body.error).toContain('rejected change');

    const canary = history.find((h) => h.reason === 'canary 10%')!;
    const rolled = await call('POST', `${SVC}/traffic/rollback`, alice, { id: canary.id });
    expect(rolled).toMatchObject({ status: 200, body: { policy: { weights: { blue: 90, green: 10 } } } });
    expect((await call('POST', `${SVC}/traffic/rollback`, alice, { id: 'nope' })).status).toBe(404);
    expect((await call('POST', `${SVC}/traffic/rollback`, alice, {})).body.error).toContain('id');
  });

  it('refuses a browser session’s change coming from another site', async () => {
    const signIn = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":"alice-token"}' });
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const { csrfToken } = (await signIn.json()) as { csrfToken: string };
    const host = new URL(base).host;
    const crossSite = await call('POST', `${SVC}/traffic/flip`, { cookie, origin: 'http://evil.example', host, 'content-type': 'application/json', 'x-csrf-token': csrfToken }, {});
    expect(crossSite).toMatchObject({ status: 403, body: { error: 'cross-origin request refused' } });
    const noCsrf = await call('POST', `${SVC}/traffic/flip`, { cookie, origin: base, 'content-type': 'application/json' }, {});
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error).toContain('x-csrf-token');
    // The page learns the token from its own session.
    const session = await call('GET', '/api/session', { cookie });
    expect(session.body).toMatchObject({ user: { name: 'alice', role: 'operator' }, csrfToken });
    const sameSite = await call('POST', `${SVC}/traffic/flip`, { cookie, origin: base, 'content-type': 'application/json', 'x-csrf-token': csrfToken }, {});
    expect(sameSite.status).toBe(200);
  });

  it('carries the policy live in the topology, including changes written straight to KV', async () => {
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.traffic?.updatedBy).toBe('alice'), { timeout: 15_000 });
    const direct = { version: 1, subsets, weights: { blue: 30, green: 70 }, drain: [], updatedAt: new Date().toISOString(), updatedBy: 'cli', reason: 'consul kv put' };
    await fetch(`${registry}/v1/kv/switchboard/traffic/payment`, { method: 'PUT', body: JSON.stringify(direct) });
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.traffic).toMatchObject({ updatedBy: 'cli', weights: { blue: 30, green: 70 } }), { timeout: 15_000 });
    const api = (await call('GET', SVC, vic)).body as { service: { traffic: { weights: object } } };
    expect(api.service.traffic.weights).toEqual({ blue: 30, green: 70 });
    // Something that is not a policy is ignored, never shown or fatal.
    await fetch(`${registry}/v1/kv/switchboard/traffic/payment`, { method: 'PUT', body: '{"oops":true}' });
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.traffic ?? null).toBeNull(), { timeout: 15_000 });
    expect(sb.store.source('embedded')?.state).toBe('ok');
  });

  it('reports an invalid policy in the registry instead of failing every call, and lets an operator overwrite it', async () => {
    // The previous test left `{"oops":true}` at switchboard/traffic/payment.
    const view = await call('GET', `${SVC}/traffic`, vic);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ policy: null, invalid: expect.stringContaining('switchboard/traffic/payment in dc1 is not a valid traffic policy') });
    expect((await call('GET', `${SVC}/traffic/history`, vic)).status).toBe(200);
    const flip = await call('POST', `${SVC}/traffic/flip`, alice, {});
    expect(flip.status).toBe(400);
    expect(flip.body.error).toContain('not a valid traffic policy');
    const noSubsets = await call('PUT', `${SVC}/traffic`, alice, { weights: { blue: 100 } });
    expect(noSubsets).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^subsets: .*send subsets/) } });
    const overwrite = await call('PUT', `${SVC}/traffic`, { ...alice, 'if-match': String(view.body.modifyIndex) }, { weights: { blue: 100 }, subsets, reason: 'repair' });
    expect(overwrite).toMatchObject({ status: 200, body: { policy: { weights: { blue: 100, green: 0 }, reason: 'repair' } } });
    expect((await call('GET', `${SVC}/traffic`, vic)).body.invalid).toBeUndefined();
  });

  it('never lets a prototype key through: {"constructor":100} is refused naming the field, nothing is written', async () => {
    const before = await (await fetch(`${registry}/v1/kv/switchboard/traffic/payment?raw`)).text();
    for (const weights of [{ constructor: 100 }, { toString: 100 }, JSON.parse('{"__proto__":100}') as object, { blue: 0, hasOwnProperty: 100 }]) {
      const r = await call('PUT', `${SVC}/traffic`, alice, { weights, force: true });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(/^weights\.(constructor|toString|__proto__|hasOwnProperty): unknown subset \(known: blue, green\)|^weights: must sum to 100, got 0$/);
    }
    expect((await call('PUT', `${SVC}/traffic`, alice, { weights: { constructor: 100 }, force: true })).body.error).toBe('weights.constructor: unknown subset (known: blue, green)');
    // Subsets an operator sends are validated by the same rules.
    const badSubset = await call('PUT', `${SVC}/traffic`, alice, { weights: { constructor: 100 }, subsets: { blue: { tags: ['blue'] } }, force: true });
    expect(badSubset).toMatchObject({ status: 400, body: { error: 'weights.constructor: unknown subset (known: blue)' } });
    expect(await (await fetch(`${registry}/v1/kv/switchboard/traffic/payment?raw`)).text()).toBe(before);
  });

  it('keeps refused attempts apart from applied changes: a flood of invalid PUTs never flushes a rollback target', async () => {
    const good = await call('PUT', `${SVC}/traffic`, alice, { weights: { blue: 60, green: 40 }, reason: 'keep me' });
    expect(good.status).toBe(200);
    for (let i = 0; i < 55; i++) expect((await call('PUT', `${SVC}/traffic`, alice, { weights: { blue: 1, green: 1 }, reason: `junk ${i}` })).status).toBe(400);
    type Entry = { id: string; outcome: string; reason: string };
    const all = (await call('GET', `${SVC}/traffic/history`, vic)).body as unknown as Entry[];
    const applied = all.filter((h) => h.outcome === 'applied');
    const refused = all.filter((h) => h.outcome === 'rejected');
    // Refusals are bounded on their own (50); every applied change made in this file is still there.
    expect(refused).toHaveLength(50);
    expect(refused[0]!.reason).toBe('junk 54');
    expect(applied.map((h) => h.reason)).toContain('canary 10%');
    expect(applied[0]!.reason).toBe('keep me');
    // Newest first across both kinds.
    expect(all.map((h) => h.id)).toEqual([...all.map((h) => h.id)].sort().reverse());
    const target = applied.find((h) => h.reason === 'canary 10%')!;
    expect(await call('POST', `${SVC}/traffic/rollback`, alice, { id: target.id })).toMatchObject({ status: 200, body: { policy: { weights: { blue: 90, green: 10 } } } });
    // Refusals live under their own prefix, next to the applied trail.
    const keys = (await (await fetch(`${registry}/v1/kv/switchboard/refused/payment/?keys`)).json()) as string[];
    expect(keys).toHaveLength(50);
  });

  it('encodes service names in KV keys: "payment#" and "a?cas=0" keep their compare-and-set and their own key', async () => {
    // (Dot-segment names such as ".." are covered against the store in consulTrafficStore.test.ts:
    // the Consul source itself cannot read such a service over HTTP.)
    const names = ['payment#', 'a?cas=0'];
    for (const [i, name] of names.entries()) {
      for (const [id, tag] of [[`w${i}b`, 'blue'], [`w${i}g`, 'green']]) {
        const r = await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: name, ID: id, Port: 9300, Tags: [tag], Check: { CheckID: `${id}-ttl`, TTL: '10m', Status: 'passing' } }) });
        expect(r.status).toBe(200);
      }
    }
    for (const name of names) await vi.waitFor(() => expect(sb.store.service(`embedded/dc1/${name}`)?.instances).toHaveLength(2), { timeout: 15_000 });
    for (const name of names) {
      const api = `/api/services/embedded/dc1/${encodeURIComponent(name)}/traffic`;
      const created = await call('PUT', api, alice, { weights: { blue: 100 }, subsets, reason: `create ${name}` });
      expect(created.status).toBe(200);
      const index = (created.body as { modifyIndex: number }).modifyIndex;
      // A stale compare-and-set loses: the CAS parameter reached the registry.
      const stale = await call('PUT', api, { ...alice, 'if-match': String(index - 1) }, { weights: { green: 100 } });
      expect(stale.status).toBe(409);
      expect((await call('PUT', api, { ...alice, 'if-match': String(index) }, { weights: { blue: 50, green: 50 }, reason: `canary ${name}` })).status).toBe(200);
      expect((await call('GET', api, vic)).body).toMatchObject({ policy: { weights: { blue: 50, green: 50 }, reason: `canary ${name}` } });
      // The policy reaches the topology (the watch decodes the key back to the name).
      await vi.waitFor(() => expect(sb.store.service(`embedded/dc1/${name}`)?.traffic?.reason).toBe(`canary ${name}`), { timeout: 15_000 });
    }
    const keys = (await (await fetch(`${registry}/v1/kv/switchboard/traffic/?keys`)).json()) as string[];
    expect(keys).toEqual(expect.arrayContaining(['switchboard/traffic/payment~23', 'switchboard/traffic/a~3Fcas~3D0']));
    expect(keys.filter((k) => !k.startsWith('switchboard/traffic/'))).toEqual([]);
    // Nothing landed on the bare prefix, on `a` (the query string) or on another service's key.
    expect(keys).not.toContain('switchboard/traffic/');
    expect(keys).not.toContain('switchboard/traffic/a');
    expect((await call('GET', `${SVC}/traffic`, vic)).body).toMatchObject({ policy: { weights: { blue: 90, green: 10 } } });
  });

  it('enables traffic control for tags that are not subset names ("_grpc"): sanitized names, every call still answers', async () => {
    for (const [id, tag] of [['r1', '_grpc'], ['r2', '_http']]) {
      await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'router', ID: id, Port: 9400, Tags: [tag], Check: { CheckID: `${id}-ttl`, TTL: '10m', Status: 'passing' } }) });
    }
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/router')?.instances).toHaveLength(2), { timeout: 15_000 });
    const api = '/api/services/embedded/dc1/router/traffic';
    const enabled = await call('POST', `${api}/enable`, alice);
    expect(enabled).toMatchObject({ status: 200, body: { policy: { subsets: { grpc: { tags: ['_grpc'] }, http: { tags: ['_http'] } }, weights: { grpc: 100, http: 0 } } } });
    expect((await call('GET', api, vic)).status).toBe(200);
    expect((await call('POST', `${api}/flip`, alice, {})).body).toMatchObject({ policy: { weights: { grpc: 0, http: 100 } } });
    expect((await call('GET', `${api}/history`, vic)).status).toBe(200);
  });
});
