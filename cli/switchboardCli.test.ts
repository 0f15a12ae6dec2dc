/**
 * The CLI against a real HTTP server on 127.0.0.1 that answers like the control plane's REST
 * API (server/http/apiRouter.ts): what it sends (method, path, headers, body), what it prints
 * and which exit code a pipeline gets for each answer.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT, runCli, USAGE } from './switchboardCli';

interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
/** `raw` is sent as it is (not JSON); `hang` never answers. */
type Reply = { status: number; body?: unknown; raw?: string } | 'hang';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Routes are keyed `METHOD /path`; anything else answers 500 so a wrong request cannot pass. */
async function fakeApi(routes: Record<string, Reply>) {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(rec);
      const reply = routes[`${rec.method} ${rec.path}`] ?? { status: 500, body: { error: `test server: unexpected ${rec.method} ${rec.path}` } };
      if (reply === 'hang') return;
      res.writeHead(reply.status, { 'content-type': reply.raw === undefined ? 'application/json' : 'text/plain' });
      res.end(reply.raw ?? JSON.stringify(reply.body));
    });
  });
  const url = await listen(server);
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { url, requests };
}

async function run(argv: string[], env: Record<string, string | undefined>, fetchFn?: typeof fetch) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { env, stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), fetch: fetchFn });
  return { code, stdout, stderr };
}

const TRAFFIC = '/api/services/embedded/dc1/payment/traffic';
const policy = {
  version: 1,
  subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } },
  weights: { blue: 90, green: 10 },
  drain: [],
  updatedAt: '2026-11-24T06:00:00.000Z',
  updatedBy: 'alice',
  reason: 'canary 10%',
};
const view = { policy, modifyIndex: 42, subsets: { blue: { instances: 3, passing: 2 }, green: { instances: 2, passing: 2 } } };
const flipped = { ...view, policy: { ...policy, weights: { blue: 0, green: 100 }, updatedBy: 'ci', reason: 'flip to green' }, modifyIndex: 43 };
const svc = (id: string) => {
  const [sourceId, scope, name] = id.split('/');
  return { id, sourceId, scope, name, tags: [], instances: [] };
};
const topology = (...ids: string[]) => ({ rev: 7, sources: [], services: ids.map(svc) });

describe('switchboard CLI: usage', () => {
  it('prints the usage with every exit code on --help (exit 0) and on no arguments (exit 2)', async () => {
    const help = await run(['--help'], {});
    expect(help).toEqual({ code: 0, stdout: USAGE, stderr: '' });
    for (const [code, meaning] of [[1, 'unreachable'], [2, 'usage error'], [3, '401/403'], [4, '409'], [5, '422'], [6, '404']] as const) {
      expect(USAGE).toMatch(new RegExp(`${code} [^·]*${meaning}`));
    }
    expect(await run(['traffic', 'get', 'payment', '-h'], {})).toMatchObject({ code: 0, stdout: USAGE });
    expect(await run([], {})).toEqual({ code: 2, stdout: '', stderr: USAGE });
  });

  it.each([
    [['deploy', 'payment'], 'unknown command "deploy"'],
    [['traffic'], 'traffic: which command?'],
    [['traffic', 'explode', 'payment'], 'unknown traffic command "explode"'],
    [['traffic', 'toString', 'payment'], 'unknown traffic command "toString"'],
    [['traffic', 'get'], 'traffic get: which service?'],
    [['traffic', 'get', 'payment', 'extra'], 'traffic get: unexpected argument "extra"'],
    [['traffic', 'set', 'payment'], 'traffic set: give weights as <subset>=<weight>'],
    [['traffic', 'set', 'payment', 'blue=abc'], 'weights: "blue=abc" is not <subset>=<integer 0-100>'],
    [['traffic', 'set', 'payment', 'blue=101', 'green=0'], 'weights: "blue=101" is not <subset>=<integer 0-100>'],
    [['traffic', 'set', 'payment', 'blue=-5'], 'weights: "blue=-5" is not <subset>=<integer 0-100>'],
    [['traffic', 'set', 'payment', 'blue'], 'weights: "blue" is not <subset>=<integer 0-100>'],
    [['traffic', 'set', 'payment', 'Blue=100'], 'weights: "Blue" in "Blue=100" is not a subset name'],
    [['traffic', 'set', 'payment', 'blue=50', 'blue=50'], 'weights: subset "blue" is given twice'],
    [['traffic', 'set', 'payment', 'blue=100', '--if-match', 'abc'], '--if-match: "abc" is not a modifyIndex'],
    [['traffic', 'set', 'payment', 'blue=100', '--if-match=-1'], '--if-match: "-1" is not a modifyIndex'],
    [['traffic', 'rollback', 'payment'], 'traffic rollback: which history entry?'],
    [['traffic', 'rollback', 'payment', 'a', 'b'], 'traffic rollback: unexpected argument "b"'],
    [['traffic', 'rollback', 'payment', 'a', '--reason', 'x'], '--reason does not apply to traffic rollback'],
    [['traffic', 'get', 'payment', '--force'], '--force does not apply to traffic get'],
    [['traffic', 'history', 'payment', '--if-match', '3'], '--if-match does not apply to traffic history'],
    [['traffic', 'get', 'payment', '--bogus'], "Unknown option '--bogus'"],
    [['traffic', 'get', 'payment', '--timeout', '0'], '--timeout: "0" is not a positive number of seconds'],
    [['traffic', 'get', 'payment', '--server', 'not a url'], 'server: "not a url" is not a URL'],
    [['traffic', 'get', 'payment', '--server', 'ftp://127.0.0.1'], 'must be an http:// or https:// URL'],
    [['traffic', 'get', 'dc1/payment'], 'service: "dc1/payment" is neither a name (payment) nor a full id'],
    [['traffic', 'get', 'embedded//payment'], 'service: "embedded//payment" is neither a name'],
  ])('%j is a usage error (exit 2) naming the problem, before any request', async (argv, message) => {
    const api = await fakeApi({});
    const r = await run(argv, { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain(message);
    expect(r.stderr.startsWith('switchboard: ')).toBe(true);
    expect(r.stdout).toBe('');
    expect(api.requests).toEqual([]);
  });
});

describe('switchboard CLI: commands', () => {
  it('get <full id>: one GET with the token, prints split, subset health and the last change', async () => {
    const api = await fakeApi({ [`GET ${TRAFFIC}`]: { status: 200, body: view } });
    const r = await run(['traffic', 'get', 'embedded/dc1/payment'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 'ops-token' });
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'embedded/dc1/payment: blue 90% / green 10%',
        '  blue          90%  tags blue  2/3 passing',
        '  green         10%  tags green  2/2 passing',
        '  last change: 2026-11-24T06:00:00.000Z by alice — canary 10% (modifyIndex 42)',
        '',
      ].join('\n'),
    });
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]).toMatchObject({ method: 'GET', path: TRAFFIC, body: '' });
    expect(api.requests[0]!.headers.authorization).toBe('Bearer ops-token');
    expect(api.requests[0]!.headers['if-match']).toBeUndefined();
  });

  it('get shows draining instances and a service without a policy', async () => {
    const api = await fakeApi({
      [`GET ${TRAFFIC}`]: { status: 200, body: { ...view, policy: { ...policy, drain: ['payment-7'] } } },
      'GET /api/services/embedded/dc1/cart/traffic': { status: 200, body: { policy: null, modifyIndex: 0, subsets: {} } },
    });
    const env = { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' };
    expect((await run(['traffic', 'get', 'embedded/dc1/payment'], env)).stdout.split('\n')[0]).toBe('embedded/dc1/payment: blue 90% / green 10%, draining payment-7');
    expect(await run(['traffic', 'get', 'embedded/dc1/cart'], env)).toMatchObject({ code: 0, stdout: 'embedded/dc1/cart: no traffic policy (clients spread over every passing instance)\n' });
  });

  it('get --json prints the API answer as it came, unknown fields included', async () => {
    const body = { ...view, somethingNew: { x: 1 } };
    const api = await fakeApi({ [`GET ${TRAFFIC}`]: { status: 200, body } });
    const r = await run(['traffic', 'get', 'embedded/dc1/payment', '--json'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(body);
  });

  it('--server and --token win over the environment; a trailing slash is dropped; no token sends no header', async () => {
    const api = await fakeApi({ [`GET ${TRAFFIC}`]: { status: 200, body: view } });
    const r = await run(['traffic', 'get', 'embedded/dc1/payment', '--server', `${api.url}/`, '--token', 'flag-token'], { SWITCHBOARD_URL: 'http://127.0.0.1:1', SWITCHBOARD_TOKEN: 'env-token' });
    expect(r.code).toBe(0);
    expect(api.requests.map((q) => [q.path, q.headers.authorization])).toEqual([[TRAFFIC, 'Bearer flag-token']]);

    expect((await run(['traffic', 'get', 'embedded/dc1/payment'], { SWITCHBOARD_URL: api.url })).code).toBe(0);
    expect(api.requests[1]!.headers.authorization).toBeUndefined();
  });

  it('uses the fetch it is given and percent-encodes the id parts', async () => {
    const api = await fakeApi({ 'GET /api/services/k8s/team%20a/pay%23ment/traffic': { status: 200, body: view } });
    const seen: string[] = [];
    const spy: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    const r = await run(['traffic', 'get', 'k8s/team a/pay#ment'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' }, spy);
    expect(r.code).toBe(0);
    expect(seen).toEqual([`${api.url}/api/services/k8s/team%20a/pay%23ment/traffic`]);
  });

  it('resolves a bare name through GET /api/topology', async () => {
    const api = await fakeApi({
      'GET /api/topology?view=summary': { status: 200, body: topology('embedded/dc1/cart', 'embedded/dc1/payment') },
      [`GET ${TRAFFIC}`]: { status: 200, body: view },
    });
    const r = await run(['traffic', 'get', 'payment'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('embedded/dc1/payment: blue 90% / green 10%');
    expect(api.requests.map((q) => `${q.method} ${q.path} ${q.headers.authorization}`)).toEqual(['GET /api/topology?view=summary Bearer t', `GET ${TRAFFIC} Bearer t`]);
  });

  it('an ambiguous name is a usage error listing the candidates; an unknown one is not found (6) with near names', async () => {
    const api = await fakeApi({ 'GET /api/topology?view=summary': { status: 200, body: topology('prod/dc2/payment', 'embedded/dc1/payment', 'embedded/dc1/payment-v2', 'embedded/dc1/cart') } });
    const env = { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' };
    const ambiguous = await run(['traffic', 'flip', 'payment'], env);
    expect(ambiguous).toEqual({ code: EXIT.usage, stdout: '', stderr: 'switchboard: service: "payment" is ambiguous; use one of: embedded/dc1/payment, prod/dc2/payment\n' });
    const unknown = await run(['traffic', 'get', 'paymen'], env);
    expect(unknown).toEqual({ code: EXIT.notFound, stdout: '', stderr: 'switchboard: service: no service named "paymen" (did you mean: payment, payment-v2?)\n' });
    expect((await run(['traffic', 'get', 'zzz'], env)).stderr).toBe('switchboard: service: no service named "zzz"\n');
    // Only the topology was read: nothing was changed on an ambiguous name.
    expect(api.requests.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /api/topology?view=summary', 'GET /api/topology?view=summary', 'GET /api/topology?view=summary']);
  });

  it('set: PUT with JSON weights, reason, force and If-Match', async () => {
    const api = await fakeApi({ [`PUT ${TRAFFIC}`]: { status: 200, body: { ...view, policy: { ...policy, weights: { blue: 80, green: 20 } } } } });
    const env = { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 'ops' };
    const r = await run(['traffic', 'set', 'embedded/dc1/payment', 'blue=80', 'green=20', '--reason', 'canary 20%', '--if-match', '42'], env);
    expect(r).toEqual({ code: 0, stdout: 'embedded/dc1/payment: blue 80% / green 20%\n', stderr: '' });
    const q = api.requests[0]!;
    expect(q).toMatchObject({ method: 'PUT', path: TRAFFIC });
    expect(q.headers['content-type']).toBe('application/json');
    expect(q.headers['if-match']).toBe('42');
    expect(q.headers.authorization).toBe('Bearer ops');
    expect(JSON.parse(q.body)).toEqual({ weights: { blue: 80, green: 20 }, reason: 'canary 20%', force: false });

    expect((await run(['traffic', 'set', 'embedded/dc1/payment', 'blue=0', 'green=100', '--force'], env)).code).toBe(0);
    expect(JSON.parse(api.requests[1]!.body)).toEqual({ weights: { blue: 0, green: 100 }, reason: '', force: true });
    expect(api.requests[1]!.headers['if-match']).toBeUndefined();
  });

  it('set --json prints the new view', async () => {
    const api = await fakeApi({ [`PUT ${TRAFFIC}`]: { status: 200, body: flipped } });
    const r = await run(['traffic', 'set', 'embedded/dc1/payment', 'blue=0', 'green=100', '--json'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(flipped);
  });

  it('flip: POST …/flip with the reason, force and If-Match when given', async () => {
    const api = await fakeApi({ [`POST ${TRAFFIC}/flip`]: { status: 200, body: flipped } });
    const env = { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' };
    const r = await run(['traffic', 'flip', 'embedded/dc1/payment', '--reason', 'release 1.4', '--force', '--if-match', '42'], env);
    expect(r).toEqual({ code: 0, stdout: 'embedded/dc1/payment: flipped — blue 0% / green 100%\n', stderr: '' });
    expect(api.requests[0]!.headers['content-type']).toBe('application/json');
    expect(api.requests[0]!.headers['if-match']).toBe('42');
    expect(JSON.parse(api.requests[0]!.body)).toEqual({ reason: 'release 1.4', force: true });

    expect((await run(['traffic', 'flip', 'embedded/dc1/payment'], env)).code).toBe(0);
    // No reason: the server writes its own ("flip to green").
    expect(JSON.parse(api.requests[1]!.body)).toEqual({ force: false });
  });

  it('history: one line per entry, newest first, refused and forced changes marked', async () => {
    const entries = [
      { id: '003', at: '2026-11-24T08:00:00Z', by: 'bob', reason: 'oops', outcome: 'rejected', forced: false, error: 'weights.blue: subset "blue" has no passing instance', before: flipped.policy, after: policy },
      { id: '002', at: '2026-11-24T07:00:00Z', by: 'ci', reason: 'flip to green', outcome: 'applied', forced: true, before: policy, after: flipped.policy },
      { id: '001', at: '2026-11-24T06:00:00Z', by: 'alice', reason: 'canary 10%', outcome: 'applied', forced: false, before: null, after: policy },
    ];
    const api = await fakeApi({ [`GET ${TRAFFIC}/history`]: { status: 200, body: entries } });
    const r = await run(['traffic', 'history', 'embedded/dc1/payment'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      '003  2026-11-24T08:00:00Z  bob          REFUSED blue 0% / green 100% → blue 90% / green 10%  weights.blue: subset "blue" has no passing instance',
      '002  2026-11-24T07:00:00Z  ci           FORCED blue 90% / green 10% → blue 0% / green 100%  flip to green',
      '001  2026-11-24T06:00:00Z  alice        no policy → blue 90% / green 10%  canary 10%',
      '',
    ]);
    expect(api.requests[0]).toMatchObject({ method: 'GET', path: `${TRAFFIC}/history` });
    const json = await run(['traffic', 'history', 'embedded/dc1/payment', '--json'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(JSON.parse(json.stdout)).toEqual(entries);
  });

  it('history of a service without changes says so', async () => {
    const api = await fakeApi({ [`GET ${TRAFFIC}/history`]: { status: 200, body: [] } });
    expect(await run(['traffic', 'history', 'embedded/dc1/payment'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' })).toEqual({ code: 0, stdout: 'no changes recorded\n', stderr: '' });
  });

  it('rollback: POST …/rollback with the entry id and force', async () => {
    const api = await fakeApi({ [`POST ${TRAFFIC}/rollback`]: { status: 200, body: view } });
    const env = { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' };
    const r = await run(['traffic', 'rollback', 'embedded/dc1/payment', '001', '--force'], env);
    expect(r).toEqual({ code: 0, stdout: 'embedded/dc1/payment: rolled back — blue 90% / green 10%\n', stderr: '' });
    expect(api.requests[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(api.requests[0]!.body)).toEqual({ id: '001', force: true });
  });
});

describe('switchboard CLI: exit codes for API answers', () => {
  const set = ['traffic', 'set', 'embedded/dc1/payment', 'blue=50', 'green=50'];

  it.each([
    [400, 'weights: must sum to 100, got 90', EXIT.usage],
    [403, 'role operator required (you are vic, viewer)', EXIT.unauthorized],
    [404, 'service "embedded/dc1/payment" not found', EXIT.notFound],
    [422, 'weights.green: subset "green" has no passing instance; set force to move traffic onto it anyway', EXIT.guardrail],
  ])('HTTP %i → stderr carries the API error, exit code per the usage text', async (status, error, code) => {
    const api = await fakeApi({ [`PUT ${TRAFFIC}`]: { status, body: { error } } });
    const r = await run(set, { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(r).toEqual({ code, stdout: '', stderr: `switchboard: ${error}\n` });
  });

  it('401 → 3, with a hint when no token was given', async () => {
    const api = await fakeApi({ [`GET ${TRAFFIC}`]: { status: 401, body: { error: 'sign in required' } } });
    const without = await run(['traffic', 'get', 'embedded/dc1/payment'], { SWITCHBOARD_URL: api.url });
    expect(without).toEqual({ code: EXIT.unauthorized, stdout: '', stderr: 'switchboard: sign in required (set SWITCHBOARD_TOKEN or pass --token)\n' });
    const withToken = await run(['traffic', 'get', 'embedded/dc1/payment'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 'stale' });
    expect(withToken).toMatchObject({ code: EXIT.unauthorized, stderr: 'switchboard: sign in required\n' });
  });

  it('401 while resolving a bare name is still 3', async () => {
    const api = await fakeApi({ 'GET /api/topology?view=summary': { status: 401, body: { error: 'invalid token' } } });
    expect(await run(['traffic', 'get', 'payment'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 'bad' })).toMatchObject({ code: EXIT.unauthorized, stderr: 'switchboard: invalid token\n' });
  });

  it('409 → 4 and prints the current policy (as JSON on stdout with --json)', async () => {
    const body = { error: 'the policy changed since you loaded it', current: { policy: flipped.policy, modifyIndex: 43 } };
    const api = await fakeApi({ [`PUT ${TRAFFIC}`]: { status: 409, body } });
    const env = { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' };
    const r = await run([...set, '--if-match', '42'], env);
    expect(r).toEqual({ code: EXIT.conflict, stdout: '', stderr: 'switchboard: the policy changed since you loaded it; current policy: blue 0% / green 100% (by ci, modifyIndex 43)\n' });
    const json = await run([...set, '--if-match', '42', '--json'], env);
    expect(json.code).toBe(EXIT.conflict);
    expect(JSON.parse(json.stdout)).toEqual(body);
    expect(json.stderr).toContain('current policy: blue 0% / green 100%');
  });

  it('409 with no policy yet still names the modifyIndex', async () => {
    const api = await fakeApi({ [`POST ${TRAFFIC}/flip`]: { status: 409, body: { error: 'another change landed first', current: { policy: null, modifyIndex: 5 } } } });
    const r = await run(['traffic', 'flip', 'embedded/dc1/payment'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(r).toMatchObject({ code: EXIT.conflict, stderr: 'switchboard: another change landed first; current policy: no policy (modifyIndex 5)\n' });
  });

  it.each([
    ['502 from the registry', { status: 502, body: { error: 'the registry refused: ACL not found' } }, `PUT ${TRAFFIC}: HTTP 502: the registry refused: ACL not found`],
    ['500 without a JSON error', { status: 500, body: { oops: true } }, `PUT ${TRAFFIC}: HTTP 500: HTTP 500`],
    ['a non-JSON answer (a proxy page)', { status: 200, raw: '<html>bad gateway</html>' }, `PUT ${TRAFFIC}: HTTP 200, not JSON: <html>bad gateway</html>`],
    ['a 200 of the wrong shape', { status: 200, body: { policy: { weights: 'all' }, modifyIndex: 1, subsets: {} } }, `PUT ${TRAFFIC}: unexpected answer: policy.version:`],
  ])('%s → 1 (unexpected)', async (_what, reply, message) => {
    const api = await fakeApi({ [`PUT ${TRAFFIC}`]: reply });
    const r = await run(set, { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(r.code).toBe(EXIT.failed);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
  });

  it('unreachable control plane → 1, naming the URL', async () => {
    // A port that was just free: nothing listens there any more.
    const gone = createServer();
    const url = await listen(gone);
    await new Promise((r) => gone.close(r));
    const r = await run(['traffic', 'get', 'payment'], { SWITCHBOARD_URL: url, SWITCHBOARD_TOKEN: 't' });
    expect(r.code).toBe(EXIT.failed);
    expect(r.stderr).toContain(`switchboard: cannot reach ${url}: `);
    expect(r.stderr).toContain('ECONNREFUSED');
  });

  it('a control plane that never answers → 1 after --timeout', async () => {
    const api = await fakeApi({ [`GET ${TRAFFIC}`]: 'hang' });
    const r = await run(['traffic', 'get', 'embedded/dc1/payment', '--timeout', '0.2'], { SWITCHBOARD_URL: api.url, SWITCHBOARD_TOKEN: 't' });
    expect(r).toEqual({ code: EXIT.failed, stdout: '', stderr: `switchboard: no answer from ${api.url} within 0.2s (GET ${TRAFFIC})\n` });
    expect(api.requests).toHaveLength(1);
  });
});

describe('switchboard CLI: rollout', () => {
  const ROLLOUT = '/api/services/embedded/dc1/payment/rollout';
  const rollout = {
    version: 1,
    stable: 'blue',
    canary: 'green',
    steps: [{ weight: 5, pause: '2m' }, { weight: 25, pause: '2m' }, { weight: 50 }, { weight: 100 }],
    analysis: { interval: '30s', minRequests: 50, failureLimit: 2, maxErrorRate: 0.01, maxErrorRateVsStable: 2, maxP99Ms: 500, maxP99VsStable: 1.5 },
    state: 'Progressing',
    step: 2,
    since: '2026-12-01T10:00:00.000Z',
    measurements: [{ at: '2026-12-01T10:00:30.000Z', step: 2, canary: { requests: 812, errorRate: 0, p99Ms: 41 }, stable: { requests: 15220, errorRate: 0.001, p99Ms: 38 }, ok: true }],
    startedBy: 'alice',
    reason: 'release 1.4',
    failures: 0,
    applied: 25,
    message: 'step 1 passed analysis',
    updatedAt: '2026-12-01T10:00:30.000Z',
    updatedBy: 'rollout',
  };
  const rview = { rollout, modifyIndex: 77, canaryWeight: 25, controller: { mode: 'leader', holder: 'replica-a', detail: '' } };
  const env = (url: string) => ({ SWITCHBOARD_URL: url, SWITCHBOARD_TOKEN: 'ops' });

  it.each([
    [['rollout'], 'rollout: which command?'],
    [['rollout', 'deploy', 'payment'], 'unknown rollout command "deploy"'],
    [['rollout', 'start'], 'rollout start: which service?'],
    [['rollout', 'start', 'payment'], 'rollout start: give the steps'],
    [['rollout', 'start', 'payment', '--steps', '5,x,100'], '--steps: "x" is not a weight 1-100'],
    [['rollout', 'start', 'payment', '--steps', '5,100', '--pause', 'soon'], '--pause: "soon" is not a duration'],
    [['rollout', 'start', 'payment', '--steps', '5,100', '--max-error-rate', '3'], 'analysis.maxErrorRate'],
    [['rollout', 'status', 'payment', '--steps', '5,100'], '--steps does not apply to rollout status'],
    [['rollout', 'abort', 'payment', '--watch'], '--watch does not apply to rollout abort'],
    [['traffic', 'get', 'payment', '--steps', '5'], '--steps applies to rollout commands only'],
  ])('%j is a usage error (exit 2) before any request', async (argv, message) => {
    const api = await fakeApi({});
    const r = await run(argv, env(api.url));
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain(message);
    expect(api.requests).toEqual([]);
  });

  it('start: PUT with steps, pause on every step but the last, and analysis; prints the rollout', async () => {
    const api = await fakeApi({ [`PUT ${ROLLOUT}`]: { status: 200, body: rview } });
    const r = await run(['rollout', 'start', 'embedded/dc1/payment', '--steps', '5,25,50,100', '--pause', '2m', '--interval', '30s', '--max-error-rate', '0.01', '--reason', 'release 1.4'], env(api.url));
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(api.requests[0]!.body)).toEqual({
      steps: [{ weight: 5, pause: '2m' }, { weight: 25, pause: '2m' }, { weight: 50, pause: '2m' }, { weight: 100 }],
      analysis: { interval: '30s', maxErrorRate: 0.01 },
      reason: 'release 1.4',
    });
    expect(r.stdout).toContain('embedded/dc1/payment: Progressing step 2/4, green 25%');
    expect(r.stdout).toContain('blue (stable) → green (canary): 5% 2m → [25% 2m] → 50% (waits for promote) → 100%');
    expect(r.stdout).toContain('last interval: canary 812 req, 0 % errors, p99 41 ms · stable 15220 req, 0.1 % errors, p99 38 ms — ok');
    expect(r.stdout).toContain('controller: leader (replica-a)');
  });

  it('promote|pause|resume|abort: POST with the reason; --json prints the answer', async () => {
    const api = await fakeApi({ [`POST ${ROLLOUT}/abort`]: { status: 200, body: { ...rview, rollout: { ...rollout, state: 'Aborted', message: 'aborted by ops: bad' } } } });
    const r = await run(['rollout', 'abort', 'embedded/dc1/payment', '--reason', 'bad', '--json'], env(api.url));
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(api.requests[0]!.body)).toEqual({ reason: 'bad' });
    expect(JSON.parse(r.stdout)).toMatchObject({ rollout: { state: 'Aborted' } });
  });

  it('a second rollout or a lost race: exit 4 naming the rollout in the registry', async () => {
    const api = await fakeApi({ [`PUT ${ROLLOUT}`]: { status: 409, body: { error: 'a rollout is already Progressing on payment', current: { rollout, modifyIndex: 77 } } } });
    const r = await run(['rollout', 'start', 'embedded/dc1/payment', '--steps', '10,100'], env(api.url));
    expect(r.code).toBe(EXIT.conflict);
    expect(r.stderr).toContain('current rollout: Progressing, step 2/4, started by alice (modifyIndex 77)');
  });

  it('status --watch follows until the rollout ends: exit 1 when it failed', async () => {
    const api = await fakeApi({ [`GET ${ROLLOUT}`]: { status: 200, body: { ...rview, canaryWeight: 0, rollout: { ...rollout, state: 'Failed', message: 'canary error rate 21.4 % > 1 % for 2 intervals' } } } });
    const r = await run(['rollout', 'status', 'embedded/dc1/payment', '--watch'], env(api.url));
    expect(r).toMatchObject({ code: EXIT.failed, stdout: 'embedded/dc1/payment: Failed step 2/4, green 0% — canary error rate 21.4 % > 1 % for 2 intervals\n' });
  });
});
