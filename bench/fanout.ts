/**
 * `npm run bench:fanout [-- --clients 1000,5000,10000 --services 200 --instances 5]`: WebSocket
 * fan-out, measured from outside. A real Consul 1.8.7 dev agent with a synthetic fleet, Switchboard
 * in its own process (as `npm start` runs it), and N WebSocket clients on the service list
 * (`subscribe` only, no watches) spread over worker processes (each holds ≤ `--per-worker`
 * sockets, so no process needs more file descriptors than `ulimit -n` allows). Each of `--flips`
 * check flips (300–700 ms apart, on instance 0 of a different service each time, alternating
 * critical/passing) is timed from its `/v1/txn` returning to the last client receiving the
 * summary delta that carries it; clocks are `performance.timeOrigin + performance.now()` in every
 * process (same machine). Every child is stopped on exit, errors and signals.
 *
 * Worker mode (internal): `fanout.ts --worker --port P --count K`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';

const { values: opt } = parseArgs({
  options: {
    worker: { type: 'boolean', default: false },
    port: { type: 'string' },
    count: { type: 'string' },
    clients: { type: 'string', default: '1000,5000,10000' },
    services: { type: 'string', default: '200' },
    instances: { type: 'string', default: '5' },
    nodes: { type: 'string' },
    flips: { type: 'string', default: '20' },
    'per-worker': { type: 'string', default: '2500' },
    'no-report': { type: 'boolean', default: false },
  },
});

const now = () => performance.timeOrigin + performance.now();

type ToWorker = { type: 'arm'; flip: number; serviceId: string; critical: number };
type FromWorker =
  | { type: 'ready'; clients: number }
  | { type: 'armed'; flip: number }
  | { type: 'done'; flip: number; got: number; first: number; last: number };

if (opt.worker) await worker(Number(opt.port), Number(opt.count));
else await main();

// ---------------------------------------------------------------- worker: K clients on the list

async function worker(port: number, count: number): Promise<void> {
  const send = (m: FromWorker) => process.send!(m);
  process.on('disconnect', () => process.exit(0));
  interface Client { ws: WebSocket; snapshot: boolean; at: number }
  const clients: Client[] = [];
  let armed: ToWorker | null = null;
  let got = 0;
  let first = Infinity;
  let last = 0;
  let timer: NodeJS.Timeout | null = null;
  const finish = () => {
    if (!armed) return;
    if (timer) clearTimeout(timer);
    send({ type: 'done', flip: armed.flip, got, first, last });
    armed = null;
  };
  const open = (): Promise<void> =>
    new Promise((ok, fail) => {
      const c: Client = { ws: new WebSocket(`ws://127.0.0.1:${port}/api/ws`), snapshot: false, at: 0 };
      c.ws.on('message', (data: Buffer) => {
        const t = now();
        if (!c.snapshot) {
          if (data.includes('"type":"snapshot"')) {
            c.snapshot = true;
            ok();
          }
          return;
        }
        const a = armed;
        if (!a || c.at !== 0 || !data.includes(a.serviceId)) return;
        const msg = JSON.parse(data.toString()) as { type: string; ops?: { op: string; service?: { id: string; counts: { critical: number } } }[] };
        if (msg.type !== 'delta') return;
        if (!msg.ops?.some((o) => o.op === 'summary.put' && o.service?.id === a.serviceId && o.service.counts.critical === a.critical)) return;
        c.at = t;
        got += 1;
        if (t < first) first = t;
        if (t > last) last = t;
        if (got === clients.length) finish();
      });
      c.ws.once('open', () => c.ws.send(JSON.stringify({ type: 'subscribe' })));
      c.ws.once('error', fail);
      c.ws.on('close', () => {
        if (!c.snapshot) fail(new Error('closed before the snapshot'));
      });
      clients.push(c);
    });
  // Connect 50 at a time (the server's accept backlog is finite).
  for (let k = 0; k < count; k += 50) await Promise.all(Array.from({ length: Math.min(50, count - k) }, open));
  send({ type: 'ready', clients: clients.length });
  process.on('message', (m: ToWorker) => {
    if (m.type !== 'arm') return;
    for (const c of clients) c.at = 0;
    got = 0;
    first = Infinity;
    last = 0;
    armed = m;
    timer = setTimeout(finish, 20_000);
    send({ type: 'armed', flip: m.flip });
  });
  await new Promise(() => {});
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { freePorts, startConsulAgent } = await import('../test/support/consulAgent');
  const { loadConsulFleet } = await import('./support/consulFleet');
  const { ensureProductionBuild, startSwitchboardProcess, cpuSeconds, memory } = await import('./support/browserProbe');
  const { percentile, report } = await import('./benchReport');

  const SERVICES = Number(opt.services);
  const INSTANCES = Number(opt.instances);
  const NODES = Number(opt.nodes ?? Math.min(500, Math.max(1, Math.round(SERVICES / 20))));
  const FLIPS = Number(opt.flips);
  const PER_WORKER = Number(opt['per-worker']);
  const COUNTS = opt.clients.split(',').map(Number);
  const ROOT = resolve(import.meta.dirname, '..');
  const log = (msg: string) => process.stderr.write(`[bench:fanout ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

  let workers: ChildProcess[] = [];
  const killWorkers = () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    workers = [];
  };
  process.once('exit', killWorkers);
  let agent: Awaited<ReturnType<typeof startConsulAgent>> | null = null;
  let server: Awaited<ReturnType<typeof startSwitchboardProcess>> | null = null;
  let cleaning: Promise<void> | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      killWorkers();
      await server?.stop().catch(() => {});
      await agent?.stop().catch(() => {});
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));

  const rows: string[] = [];
  try {
    agent = await startConsulAgent({ datacenter: 'dc1' });
    const fleet = await loadConsulFleet(agent.httpAddr, { services: SERVICES, instances: INSTANCES, nodes: NODES });
    log(`${SERVICES} × ${INSTANCES} loaded in ${(fleet.loadMs / 1000).toFixed(1)} s`);
    ensureProductionBuild(ROOT);
    const [port] = (await freePorts(1)) as [number];
    server = await startSwitchboardProcess(ROOT, { port, sources: [{ kind: 'consul', name: 'bench', address: agent.httpAddr }] });
    for (const deadline = Date.now() + 300_000; ;) {
      const state = await fetch(`${server.baseUrl}/api/sources`).then(
        async (r) => ((await r.json()) as { sources: { state: string }[] }).sources[0]?.state,
        () => undefined,
      );
      if (state === 'ok') break;
      if (server.exited()) throw new Error(`switchboard ${server.exited()} during start`);
      if (Date.now() > deadline) throw new Error('source not ok within 300 s');
      await sleep(100);
    }
    const pid = server.pid;
    const critical = new Map<number, number>();
    let flipNo = 0;

    for (const clients of COUNTS) {
      const n = Math.ceil(clients / PER_WORKER);
      log(`${clients} clients in ${n} worker processes`);
      const inbox: FromWorker[][] = [];
      workers = Array.from({ length: n }, (_, k) => {
        const count = Math.floor(clients / n) + (k < clients % n ? 1 : 0);
        const w = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, 'fanout.ts'), '--worker', '--port', String(port), '--count', String(count)], {
          cwd: ROOT,
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        inbox[k] = [];
        w.on('message', (m: FromWorker) => inbox[k]!.push(m));
        return w;
      });
      const take = async <T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>[]> => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          if (workers.some((w) => w.exitCode !== null)) throw new Error('a fan-out worker exited');
          if (inbox.every((q) => q.some((m) => m.type === type))) {
            return inbox.map((q) => q.splice(q.findIndex((m) => m.type === type), 1)[0] as Extract<FromWorker, { type: T }>);
          }
          if (Date.now() > deadline) throw new Error(`workers did not all send "${type}" within ${timeoutMs} ms`);
          await sleep(5);
        }
      };
      const t0 = performance.now();
      const ready = await take('ready', 600_000);
      log(`${ready.reduce((a, r) => a + r.clients, 0)} clients have the snapshot (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      await sleep(2000);
      const rss = memory(pid).rss;

      const last: number[] = [];
      const first: number[] = [];
      let missing = 0;
      const cpu0 = cpuSeconds(pid);
      for (let f = 0; f < FLIPS; f++) {
        const s = flipNo++ % SERVICES;
        const ref = fleet.instance(s, 0);
        const next = critical.get(s) === 1 ? 0 : 1;
        critical.set(s, next);
        const serviceId = `bench/dc1/svc-${s}`;
        for (const w of workers) w.send({ type: 'arm', flip: f, serviceId, critical: next } satisfies ToWorker);
        await take('armed', 10_000);
        await fleet.flipCheck(ref.node, ref.checkId, next ? 'critical' : 'passing');
        const tFlip = now();
        const done = await take('done', 30_000);
        const got = done.reduce((a, d) => a + d.got, 0);
        missing += clients - got;
        last.push(Math.max(...done.map((d) => d.last)) - tFlip);
        first.push(Math.min(...done.map((d) => d.first)) - tFlip);
        await sleep(300 + Math.random() * 400);
      }
      const cpuPerFlip = ((cpuSeconds(pid) - cpu0) / FLIPS) * 1000;
      killWorkers();
      await sleep(2000);
      last.sort((a, b) => a - b);
      first.sort((a, b) => a - b);
      const f1 = (x: number) => x.toFixed(0);
      const baseline = ({ 1000: '45 ms max', 5000: '122 ms max', 10000: '194 ms max' } as Record<number, string>)[clients] ?? '—';
      const row = `| ${clients.toLocaleString('en')} | ${baseline} | p50 ${f1(percentile(last, 50))} ms, p99 ${f1(percentile(last, 99))} ms, max ${f1(last.at(-1)!)} ms | ${f1(percentile(first, 50))} ms | ${missing ? `**${missing} deliveries missing**` : 'all'} | ${cpuPerFlip.toFixed(0)} ms | ${(rss / 2 ** 20).toFixed(0)} MiB | ${clients === 10000 ? 'p99 ≤ 500 ms' : '—'} |`;
      log(row);
      rows.push(row);
    }

    const body = `
Consul 1.8.7 dev agent with ${SERVICES.toLocaleString('en')} services × ${INSTANCES} instances on ${NODES} nodes; Switchboard in its own process (production build);
N WebSocket clients subscribed to the summary (no watches), ≤ ${PER_WORKER} per worker process. ${FLIPS} check flips per N, 300–700 ms apart,
each timed from its \`/v1/txn\` returning to the last (and the first) client receiving the summary delta carrying it.

| clients | before (last client) | now: last client | first client, p50 | delivered | server CPU per flip | server RSS with them | target |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
    const command = `npm run bench:fanout -- --clients ${COUNTS.join(',')} --services ${SERVICES} --instances ${INSTANCES}`;
    if (opt['no-report']) process.stdout.write(body);
    else report(`WebSocket fan-out from outside: ${SERVICES.toLocaleString('en')} × ${INSTANCES} (bench/fanout.ts)`, command, body);
  } catch (err) {
    process.stderr.write(`bench:fanout failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    if (server) process.stderr.write(`--- switchboard output (tail) ---\n${server.logs().slice(-4000)}\n`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
  process.exit(process.exitCode ?? 0);
}
