/**
 * `npm run bench:flip`: how fast a blue/green flip written to the registry reaches an SDK
 * client, and whether any request fails while it happens. Against the embedded registry and
 * real Consul 1.8.7 in one run: 100 flips each, written as a KV PUT like the control plane
 * does, while 4 callers send requests through ServiceClient to real HTTP instances
 * (2 blue, 2 green) the whole time, once as fast as they can and once paced.
 *
 * Flip latency = KV PUT sent → the moment the client's picks switch (its split is rebuilt
 * from the new policy, synchronously, so every pick after it lands on the new subset — the
 * bench also counts picks that land on the old subset after that moment, which must be 0).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ServiceClient } from '../sdk/serviceClient';
import { startConsulAgent } from '../test/support/consulAgent';
import { LocalServers } from '../test/support/localServers';
import { spawnRegistryProcess } from '../test/support/registryProcessHandle';
import { percentile, report } from './benchReport';

const FLIPS = 100;
const CALLERS = 4;

interface Target {
  name: string;
  httpAddr: string;
  stop(): Promise<void>;
}

async function embedded(): Promise<Target> {
  const r = await spawnRegistryProcess();
  return { name: 'embedded registry', httpAddr: r.httpAddr, stop: r.stop };
}

async function consul(): Promise<Target> {
  const agent = await startConsulAgent({ datacenter: 'dc1' });
  return { name: 'Consul 1.8.7', httpAddr: agent.httpAddr, stop: () => agent.stop() };
}

async function instances(): Promise<{ servers: LocalServers; specs: { id: string; tag: string; port: number }[] }> {
  const servers = new LocalServers();
  const specs: { id: string; tag: string; port: number }[] = [];
  for (const [id, tag] of [['b1', 'blue'], ['b2', 'blue'], ['g1', 'green'], ['g2', 'green']] as const) {
    specs.push({ id, tag, port: (await servers.start((_req, res) => res.end(id))).port });
  }
  return { servers, specs };
}

const policy = (target: 'blue' | 'green', n: number) =>
  JSON.stringify({
    version: 1,
    subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } },
    weights: { blue: target === 'blue' ? 100 : 0, green: target === 'green' ? 100 : 0 },
    drain: [],
    updatedAt: new Date().toISOString(),
    updatedBy: 'bench',
    reason: `flip ${n}`,
  });

async function run(target: Target, pacing: { label: string; gapMs: number }): Promise<string> {
  const { servers, specs } = await instances();
  const put = async (path: string, body: string) => {
    const r = await fetch(`${target.httpAddr}${path}`, { method: 'PUT', body });
    if (!r.ok) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  };
  for (const s of specs) {
    await put('/v1/agent/service/register', JSON.stringify({ Name: 'payment', ID: s.id, Address: '127.0.0.1', Port: s.port, Tags: [s.tag], Check: { CheckID: `${s.id}-ttl`, TTL: '10m', Status: 'passing' } }));
  }
  await put('/v1/kv/switchboard/traffic/payment', policy('blue', 0));

  let switched: { at: number; subset: string } | null = null;
  const client = new ServiceClient({
    registry: target.httpAddr,
    service: 'payment',
    onUpdate: (view) => {
      const subset = view.policy && Object.entries(view.policy.weights).find(([, w]) => w === 100)?.[0];
      if (subset && subset !== switched?.subset) switched = { at: performance.now(), subset };
    },
  });
  await client.ready();

  let requests = 0;
  let errors = 0;
  let wrongSubset = 0;
  let calling = true;
  const callers = Array.from({ length: CALLERS }, async () => {
    while (calling) {
      const pickedAt = performance.now();
      try {
        const { response, endpoint } = await client.request('/');
        await response.arrayBuffer();
        requests++;
        if (!response.ok) errors++;
        // A pick made after the switch must be on the new subset.
        const s = switched as { at: number; subset: string } | null;
        if (s && pickedAt > s.at && endpoint.subset !== s.subset) wrongSubset++;
      } catch {
        requests++;
        errors++;
      }
      if (pacing.gapMs) await sleep(pacing.gapMs);
    }
  });

  const latencies: number[] = [];
  let current: 'blue' | 'green' = 'blue';
  for (let i = 1; i <= FLIPS; i++) {
    current = current === 'blue' ? 'green' : 'blue';
    const sent = performance.now();
    await put('/v1/kv/switchboard/traffic/payment', policy(current, i));
    const deadline = Date.now() + 5_000;
    while (!(switched && (switched as { subset: string }).subset === current && (switched as { at: number }).at >= sent)) {
      if (Date.now() > deadline) throw new Error(`flip ${i} to ${current} not seen within 5 s`);
      await sleep(1);
    }
    latencies.push((switched as { at: number }).at - sent);
    // Flips a fraction of a second apart, like an operator clicking, not a hot loop.
    await sleep(200 + Math.random() * 100);
  }
  calling = false;
  await Promise.all(callers);
  await client.close();
  servers.closeAll();

  const sorted = [...latencies].sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(1);
  return `| ${target.name} | ${pacing.label} | ${f(percentile(sorted, 50))} ms | ${f(percentile(sorted, 90))} ms | ${f(percentile(sorted, 99))} ms | ${f(sorted.at(-1)!)} ms | ${requests} | ${errors} | ${wrongSubset} |`;
}

// Saturating callers show the worst case on a busy 2-core box (the client's event loop and the
// registry compete with ~10k requests/s); paced callers show a service under ordinary load.
const PACINGS = [
  { label: 'saturating (no pause)', gapMs: 0 },
  { label: 'paced (4 ms pause per call)', gapMs: 4 },
];
const rows: string[] = [];
for (const start of [embedded, consul]) {
  const target = await start();
  try {
    for (const pacing of PACINGS) rows.push(await run(target, pacing));
  } finally {
    await target.stop();
  }
}

report(
  'Flip: KV write → every SDK pick on the new subset',
  'npm run bench:flip',
  `${FLIPS} flips per registry, 200–300 ms apart, written as a KV PUT of the policy key; ${CALLERS} callers in the client's process send requests through ServiceClient to 4 real HTTP instances (2 blue, 2 green) throughout — as fast as they can (worst case: client, registry and instances share 2 cores) and paced. Latency = PUT sent → the client's split switched (every later pick on the new subset; "late picks" counts picks made after the switch that still went to the old subset). Target p99 < 250 ms, 0 errors.

| registry | callers | p50 | p90 | p99 | max | requests during the run | failed requests | late picks |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}`,
);
