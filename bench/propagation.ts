/**
 * `npm run bench:propagation`: how long from a change in real Consul (a registration or a
 * check flip, the HTTP write returning) until a WebSocket client of Switchboard has the delta.
 * 200 changes, one at a time, 500 ms apart: under faster sustained churn the adapter's
 * rate limit (burst 2, then one re-fetch per 500 ms per watch) coalesces changes on purpose.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fromRaw } from '../server/config/loadConfig';
import { createLogger } from '../server/log';
import { createSwitchboard } from '../server/switchboard';
import { startConsulAgent } from '../test/support/consulAgent';
import { percentile, report } from './benchReport';
import { watchDeltas } from './deltaWatcher';

const CHANGES = 200;

const agent = await startConsulAgent({ datacenter: 'dc1' });
const config = fromRaw(
  { listen: { host: '127.0.0.1', port: 0 }, sources: [{ kind: 'consul', name: 'bench', address: agent.httpAddr }] },
  { file: null, env: {}, cwd: process.cwd() },
);
const switchboard = createSwitchboard({ config, logger: createLogger({ level: 'silent' }) });
const port = await switchboard.listen();

const put = (path: string, body?: unknown) => agent.put(path, body);

// The changes land in svc-0 … svc-9: watch their detail as a service page would.
const deltas = await watchDeltas(port, { watch: Array.from({ length: 10 }, (_, i) => `bench/dc1/svc-${i}`) });
while (switchboard.store.source('bench')?.state !== 'ok') await sleep(50);
const waitFor = (match: (json: string) => boolean) => deltas.waitFor(match);

const registerMs: number[] = [];
const flipMs: number[] = [];
for (let i = 0; i < CHANGES; i++) {
  const id = `bench-${i >> 1}`;
  if (i % 2 === 0) {
    const seen = waitFor((j) => j.includes(`/${id}"`) && j.includes('"instance.put"'));
    const t0 = performance.now();
    await put('/v1/agent/service/register', { ID: id, Name: `svc-${i % 10}`, Port: 10000 + i, Check: { CheckID: `${id}-ttl`, TTL: '10m', Status: 'passing' } });
    registerMs.push((await seen) - t0);
  } else {
    const seen = waitFor((j) => j.includes(`/${id}"`) && j.includes('"status":"critical"'));
    const t0 = performance.now();
    await put(`/v1/agent/check/fail/${id}-ttl`);
    flipMs.push((await seen) - t0);
  }
  await sleep(500);
}

const row = (name: string, xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `| ${name} | ${s.length} | ${percentile(s, 50).toFixed(1)} | ${percentile(s, 99).toFixed(1)} | ${s.at(-1)!.toFixed(1)} |`;
};
report(
  'Propagation: Consul change → WebSocket delta',
  'npm run bench:propagation',
  [
    'Real Consul 1.8.7 dev agent and Switchboard (control plane without Next) on loopback; latency from the Consul HTTP write returning to the WebSocket client receiving the delta. Target: p99 < 100 ms.',
    '',
    '| change | n | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    row('register instance', registerMs),
    row('TTL check → critical', flipMs),
    row('all', [...registerMs, ...flipMs]),
  ].join('\n'),
);

deltas.close();
await switchboard.close();
await agent.stop();
process.exit(0);
