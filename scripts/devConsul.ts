/**
 * `npm run consul:dev`: a local Consul 1.8.7 dev agent on 127.0.0.1:8500 (Consul's defaults,
 * so a no-config `npm start` finds it) with a few example services whose TTL checks change
 * now and then, so the dashboard has something alive to show. Ctrl-C stops it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const api = process.env.CONSUL_HTTP_ADDR ?? 'http://127.0.0.1:8500';
const bin = execFileSync('bash', ['scripts/install-consul.sh'], { encoding: 'utf8' }).trim().split('\n').pop()!;
const agent = spawn(bin, ['agent', '-dev', '-bind', '127.0.0.1', '-client', '127.0.0.1', '-grpc-port', '-1', '-log-level', 'warn'], { stdio: 'inherit' });
const stop = () => {
  agent.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

async function put(path: string, body?: unknown): Promise<void> {
  const r = await fetch(`${api}${path}`, { method: 'PUT', body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
}

for (let i = 0; ; i++) {
  try {
    const r = await fetch(`${api}/v1/status/leader`);
    if (r.ok && (await r.text()).length > 2) break;
  } catch {
    if (i > 100) throw new Error(`consul did not come up at ${api}`);
  }
  await sleep(200);
}

const fleet = [
  ...['1', '2'].map((n) => ({ ID: `order-${n}`, Name: 'order', Port: 9100 + Number(n), Tags: ['v1'] })),
  ...['1', '2'].map((n) => ({ ID: `inventory-${n}`, Name: 'inventory', Port: 9200 + Number(n), Tags: ['v2'] })),
  ...['1', '2', '3'].map((n) => ({ ID: `payment-${n}`, Name: 'payment', Port: 9300 + Number(n), Tags: ['blue'], Meta: { color: 'blue' } })),
  ...['4', '5'].map((n) => ({ ID: `payment-${n}`, Name: 'payment', Port: 9300 + Number(n), Tags: ['green'], Meta: { color: 'green' } })),
];
for (const svc of fleet) {
  await put('/v1/agent/service/register', { ...svc, Address: '127.0.0.1', Check: { CheckID: `${svc.ID}-ttl`, Name: 'heartbeat', TTL: '30s', Status: 'passing' } });
}
process.stdout.write(`consul dev agent at ${api} with ${fleet.length} example instances; Ctrl-C to stop\n`);

// Every few seconds one instance reports a different state, like a real fleet on a bad day.
const states = ['pass', 'pass', 'pass', 'warn', 'fail'] as const;
const current = new Map(fleet.map((s) => [s.ID, 'pass' as (typeof states)[number]]));
for (;;) {
  const changed = fleet[Math.floor(Math.random() * fleet.length)]!;
  current.set(changed.ID, states[Math.floor(Math.random() * states.length)]!);
  // TTL checks need refreshing within their 30 s TTL, so every instance reports every round.
  for (const svc of fleet) {
    const state = current.get(svc.ID)!;
    await put(`/v1/agent/check/${state}/${svc.ID}-ttl?note=${encodeURIComponent(`${state} at ${new Date().toISOString()}`)}`).catch(() => undefined);
  }
  await sleep(5000);
}
