/**
 * `npm run bench:sdk`: what the SDK costs a caller, in one run.
 * 1. Pick cost: ServiceClient.pick() (weighted subset + round-robin + breaker check) for a
 *    service with 10, 1,000 and 10,000 instances registered in the embedded registry under a
 *    90/10 blue/green policy. Target < 2 µs at 1,000.
 * 2. Call overhead: the same GET to one real HTTP instance, sequentially, by plain fetch and
 *    through ServiceClient.request (pick, breaker, counters, retry bookkeeping).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceClient } from '../sdk/serviceClient';
import { spawnRegistryProcess } from '../test/support/registryProcessHandle';
import { percentile, report } from './benchReport';

const SIZES = [10, 1_000, 10_000];
const PICKS = 1_000_000;
const CALLS = 5_000;

const registryProcess = await spawnRegistryProcess();
const registry = registryProcess.httpAddr;

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const put = async (path: string, body: unknown) => {
  const r = await fetch(`${registry}${path}`, { method: 'PUT', body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  await r.arrayBuffer();
};

const pickRows: string[] = [];
for (const n of SIZES) {
  const name = `svc-${n}`;
  await pool(Array.from({ length: n }, (_, i) => i), 16, (i) => put('/v1/agent/service/register', { Name: name, ID: `${name}-${i}`, Address: '127.0.0.1', Port: 10_000 + (i % 50_000), Tags: [i % 10 === 0 ? 'green' : 'blue'] }));
  await put(`/v1/kv/switchboard/traffic/${name}`, { version: 1, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, weights: { blue: 90, green: 10 }, drain: [], updatedAt: new Date().toISOString(), updatedBy: 'bench', reason: '' });
  const client = new ServiceClient({ registry, service: name });
  await client.ready();
  while (client.view().endpoints.length < n) await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 100_000; i++) client.pick(); // warm up the JIT
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < PICKS / 5; i++) client.pick();
    rounds.push(Number(process.hrtime.bigint() - t0) / (PICKS / 5));
  }
  await client.close();
  rounds.sort((a, b) => a - b);
  pickRows.push(`| ${n.toLocaleString('en')} | ${(rounds[2]! / 1000).toFixed(3)} µs | ${(rounds[0]! / 1000).toFixed(3)}–${(rounds[4]! / 1000).toFixed(3)} µs |`);
}

// Call overhead against one real instance.
const server = createServer((_req, res) => res.end('ok'));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
await put('/v1/agent/service/register', { Name: 'echo', ID: 'echo-1', Address: '127.0.0.1', Port: port });
const echo = new ServiceClient({ registry, service: 'echo' });
await echo.ready();
while (echo.view().endpoints.length < 1) await new Promise((r) => setTimeout(r, 50));

async function timeCalls(call: () => Promise<Response>): Promise<number[]> {
  for (let i = 0; i < 500; i++) await (await call()).arrayBuffer();
  const out: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await (await call()).arrayBuffer();
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}
const direct = await timeCalls(() => fetch(`http://127.0.0.1:${port}/`));
const viaSdk = await timeCalls(async () => (await echo.request('/')).response);
await echo.close();
server.close();
await registryProcess.stop();

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const row = (label: string, xs: number[]) => `| ${label} | ${(mean(xs) * 1000).toFixed(0)} µs | ${(percentile(xs, 50) * 1000).toFixed(0)} µs | ${(percentile(xs, 99) * 1000).toFixed(0)} µs |`;
report(
  'SDK: pick cost and call overhead',
  'npm run bench:sdk',
  `**Pick cost** — \`ServiceClient.pick()\` on a live client (registry: embedded, policy blue 90 / green 10, every breaker closed), median of 5 rounds of ${(PICKS / 5).toLocaleString('en')} picks after warm-up. Target < 2 µs at 1,000 instances.

| instances | per pick (median round) | range over rounds |
|---|---|---|
${pickRows.join('\n')}

**Call overhead** — ${CALLS.toLocaleString('en')} sequential GETs to one local HTTP instance (keep-alive), plain \`fetch\` vs \`ServiceClient.request\` (pick, per-instance breaker, counters, latency histogram).

| path | mean | p50 | p99 |
|---|---|---|---|
${row('fetch', direct)}
${row('ServiceClient.request', viaSdk)}
| overhead (mean) | ${((mean(viaSdk) - mean(direct)) * 1000).toFixed(0)} µs | | |`,
);
process.exit(0);
