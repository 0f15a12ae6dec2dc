/**
 * `npm run bench:rollout`: how fast a failing canary is rolled back by the rollout controller.
 * One control plane (embedded registry, built-in telemetry store) and 4 SDK clients
 * (ServiceClient, each reporting to the control plane once a second like any SDK client) that
 * call payment continuously: 2 blue instances and 1 green, real HTTP servers. Per trial a rollout
 * starts (green 10 %, analysis every 5 s, failureLimit 1); once every client sends 10 % to green,
 * the green instance starts failing a quarter of its requests.
 *
 * Rollback latency = the first failing canary answer → every SDK client's split back on stable
 * (green weight 0 in the policy the client follows). Target: ≤ 2 intervals + 250 ms (10.25 s).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceClient } from '../sdk/serviceClient';
import { fromRaw } from '../server/config/loadConfig';
import { createLogger } from '../server/log';
import { createSwitchboard } from '../server/switchboard';
import { LocalServers } from '../test/support/localServers';
import { percentile, report } from './benchReport';

const TRIALS = Number(process.env.BENCH_ROLLOUT_TRIALS ?? 20);
const INTERVAL_S = 5;
const CLIENTS = 4;

const config = fromRaw(
  {
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: mkdtempSync(join(tmpdir(), 'sb-bench-rollout-')),
    embedded: { enabled: true, demo: false, httpPort: 0, dnsPort: 0 },
    auth: { anonymousRole: null, users: [{ name: 'ops', role: 'operator', token: 'ops-token' }, { name: 'sdk', role: 'client', token: 'sdk-token' }] },
  },
  { file: null, env: {}, cwd: process.cwd() },
);
const sb = createSwitchboard({ config, logger: createLogger({ level: 'silent' }) });
const base = `http://127.0.0.1:${await sb.listen()}`;
const registry = sb.store.source('embedded')!.address!;

let failing = false;
let firstFailure: number | null = null;
const servers = new LocalServers();
const specs: { id: string; tag: string; port: number }[] = [];
for (const [id, tag] of [['b1', 'blue'], ['b2', 'blue'], ['g1', 'green']] as const) {
  const { port } = await servers.start((_req, res) => {
    if (tag === 'green' && failing && Math.random() < 0.25) {
      firstFailure ??= performance.now();
      res.statusCode = 500;
    }
    res.end(id);
  });
  specs.push({ id, tag, port });
}
for (const s of specs) {
  await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'payment', ID: s.id, Address: '127.0.0.1', Port: s.port, Tags: [s.tag], Check: { CheckID: `${s.id}-ttl`, TTL: '1h', Status: 'passing' } }) });
}
while ((sb.store.service('embedded/dc1/payment')?.instances.length ?? 0) < 3) await sleep(50);

/** When each client last saw green's weight change, and to what. */
const seen = Array.from({ length: CLIENTS }, () => ({ green: -1, at: 0 }));
const clients = seen.map(
  (s, n) =>
    new ServiceClient({
      registry,
      service: 'payment',
      breaker: false,
      retries: 0,
      report: { url: base, token: 'sdk-token', caller: `bench-${n}` },
      onUpdate: (view) => {
        const green = view.policy?.weights.green ?? -1;
        if (green !== s.green) Object.assign(s, { green, at: performance.now() });
      },
    }),
);
await Promise.all(clients.map((c) => c.ready()));
let calling = true;
const callers = clients.map(async (c) => {
  while (calling) {
    await c.request('/').then((r) => r.response.arrayBuffer()).catch(() => undefined);
    await sleep(10);
  }
});

const api = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`${base}/api/services/embedded/dc1/payment${path}`, { method, headers: { authorization: 'Bearer ops-token', 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
};
const waitFor = async (what: string, ok: () => boolean, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
};

const latencies: number[] = [];
const messages: string[] = [];
for (let trial = 1; trial <= TRIALS; trial++) {
  failing = false;
  firstFailure = null;
  await api('PUT', '/rollout', { steps: [{ weight: 10, pause: '10m' }, { weight: 100 }], analysis: { interval: `${INTERVAL_S}s`, minRequests: 20, failureLimit: 1, maxErrorRate: 0.01 }, reason: `bench ${trial}` });
  await waitFor('every client on green 10 %', () => seen.every((s) => s.green === 10));
  // Land the fault at a random point within an analysis interval, as a real release would.
  await sleep(Math.random() * INTERVAL_S * 1000);
  failing = true;
  await waitFor('the first failing canary answer', () => firstFailure !== null);
  await waitFor('every client back on stable', () => seen.every((s) => s.green === 0), 120_000);
  const back = Math.max(...seen.map((s) => s.at));
  latencies.push(back - firstFailure!);
  const view = await api('GET', '/rollout');
  messages.push(String((view.rollout as { message: string }).message));
  process.stdout.write(`trial ${trial}: ${(back - firstFailure!).toFixed(0)} ms\n`);
}
calling = false;
await Promise.all(callers);
await Promise.all(clients.map((c) => c.close()));
servers.closeAll();
await sb.close();

const sorted = [...latencies].sort((a, b) => a - b);
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const target = 2 * INTERVAL_S * 1000 + 250;
report(
  'Rollout: failing canary → every SDK client back on stable',
  'npm run bench:rollout',
  `${TRIALS} rollouts on the embedded registry, one control plane (built-in telemetry store, controller pass every 500 ms). ${CLIENTS} SDK clients (ServiceClient, reporting once a second) call payment (2 blue, 1 green real HTTP instances) every 10 ms each; each rollout puts green at 10 % (analysis every ${INTERVAL_S} s, failureLimit 1, max error rate 1 %), then the green instance fails 25 % of its requests from a random point in an interval. Latency = first failing canary answer → the last of the ${CLIENTS} clients' splits back on stable (green 0 %). Target ≤ 2 intervals + 250 ms = ${s(target)}.

| trials | p50 | p99 | max | min | within target |
|---|---|---|---|---|---|
| ${TRIALS} | ${s(percentile(sorted, 50))} | ${s(percentile(sorted, 99))} | ${s(sorted.at(-1)!)} | ${s(sorted[0]!)} | ${sorted.filter((x) => x <= target).length}/${TRIALS} |

Every trial failed on the canary's error rate${messages.some((m) => m.includes('p99')) ? ` (${messages.filter((m) => m.includes('p99')).length} also on p99)` : ''}; e.g. "${messages[0]}".`,
);
process.exit(0);
