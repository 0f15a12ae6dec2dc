/**
 * `npm run bench:k8s [-- --services 10000 --endpoints 15 --namespaces 20 --flips 1000 --churn 200]`:
 * the Kubernetes adapter + TopologyStore in this process, against the fake API server
 * (EndpointSlice v1 wire protocol: paginated list + chunked watch) in a child process, so this
 * process's CPU and RSS are the adapter's and the store's alone; that process runs with `npm start`'s
 * memory settings (`--node-defaults`: Node's) and loads the Kubernetes client as the boot does.
 * One EndpointSlice per Service, one Pod (with labels) per endpoint. Measures:
 * - start → source ok with every Service in the store;
 * - RSS after sync, after the flips, after the churn (growth);
 * - CPU per endpoint readiness flip (whole process, and the store's share), flip → store delta p50/p99;
 * - with `--churn R`: R slice updates/s for `--churn-seconds` (default 20): cores used, and flip
 *   → store delta p50/p99 meanwhile.
 * Prints a report; `--write` also appends it to BENCHMARKS.md. Defaults: 2,000 Services × 10
 * endpoints in one namespace, 1,000 flips, no churn.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { DeltaOp } from '../protocol/delta';
import type { Service } from '../protocol/model';
import { machine, percentile, report } from './benchReport';
import { SERVER_ENV, SERVER_NODE_ARGS } from './support/serverRuntime';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '2000' },
    endpoints: { type: 'string', default: '10' },
    namespaces: { type: 'string', default: '1' },
    flips: { type: 'string', default: '1000' },
    churn: { type: 'string', default: '0' },
    'churn-seconds': { type: 'string', default: '20' },
    pods: { type: 'boolean', default: true },
    'no-pods': { type: 'boolean', default: false },
    /** Measure the adapter alone: its events are counted, not applied to a TopologyStore. */
    'no-store': { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    'fake-server': { type: 'boolean', default: false },
    /** Run the measured process with Node's default memory settings instead of `npm start`'s. */
    'node-defaults': { type: 'boolean', default: false },
    /** Set on the relaunched (measured) process. */
    measured: { type: 'boolean', default: false },
  },
});
const SERVICES = Number(args.services);
const PER_SERVICE = Number(args.endpoints);
const NAMESPACES = Number(args.namespaces);
const FLIPS = Number(args.flips);
const CHURN = Number(args.churn);
const CHURN_SECONDS = Number(args['churn-seconds']);
const PODS = args.pods && !args['no-pods'];
const NO_STORE = args['no-store'];

const nsOf = (s: number) => (NAMESPACES === 1 ? 'shop' : `ns-${s % NAMESPACES}`);
const ip = (s: number, e: number) => `10.${(s >> 8) & 255}.${s & 255}.${e + 1}`;

type Command = { op: 'flip'; s: number; e: number; ready: boolean } | { op: 'churn'; rate: number } | { op: 'rss' };

if (args['fake-server']) await fakeServerProcess();
else if (!args.measured) await relaunch();
else await main();

/**
 * The process `npm run bench:k8s` starts only relaunches the bench with the memory settings
 * `npm start` gives the control plane (bench/support/serverRuntime.ts: a 16 MiB semi-space,
 * MALLOC_ARENA_MAX=2), so the RSS measured is what a user's control plane would have. Node's
 * defaults (`--node-defaults`) let V8's young generation grow to 128 MiB during the first sync.
 */
async function relaunch(): Promise<void> {
  const defaults = args['node-defaults'];
  const child = spawn(process.execPath, [...(defaults ? [] : SERVER_NODE_ARGS), '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2), '--measured'], { stdio: 'inherit', env: defaults ? process.env : { ...SERVER_ENV, ...process.env } });
  process.exit(await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1))));
}

/** The child: the fake API server holding every object, taking flips and churn over IPC. */
async function fakeServerProcess(): Promise<void> {
  const { startFakeKubeApiServer } = await import('../test/support/fakeKubeApiServer');
  type KubeObject = import('../test/support/fakeKubeApiServer').KubeObject;
  const fake = await startFakeKubeApiServer({ historySize: 20_000 });
  const notReady = new Map<number, number>();
  const slice = (s: number): KubeObject => ({
    metadata: { name: `svc-${s}-a`, namespace: nsOf(s), labels: { 'kubernetes.io/service-name': `svc-${s}`, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: PER_SERVICE }, (_, e) => {
      const ready = notReady.get(s) !== e;
      return { addresses: [ip(s, e)], conditions: { ready, serving: ready, terminating: false }, nodeName: `node-${(s + e) % 500}`, zone: `zone-${e % 3}`, targetRef: { kind: 'Pod', name: `svc-${s}-${e}`, namespace: nsOf(s) } };
    }),
  });
  for (let s = 0; s < SERVICES; s++) {
    fake.put('services', { metadata: { name: `svc-${s}`, namespace: nsOf(s), labels: { app: `svc-${s}` } }, spec: { selector: { app: `svc-${s}` }, clusterIP: `10.96.${(s >> 8) & 255}.${s & 255}`, ports: [{ name: 'http', port: 80, targetPort: 8080 }], type: 'ClusterIP' } });
    if (PODS) for (let e = 0; e < PER_SERVICE; e++) fake.put('pods', { metadata: { name: `svc-${s}-${e}`, namespace: nsOf(s), labels: { app: `svc-${s}`, color: e % 2 ? 'green' : 'blue', 'pod-template-hash': '5d8f7c9b4' } }, spec: { nodeName: `node-${(s + e) % 500}`, containers: [{ name: 'app', image: 'registry.example/app:1.2.3', ports: [{ containerPort: 8080 }] }] }, status: { phase: 'Running', podIP: ip(s, e) } });
    fake.put('endpointslices', slice(s));
  }
  let churn: ReturnType<typeof setInterval> | null = null;
  process.on('message', (m: Command) => {
    if (m.op === 'flip') {
      if (m.ready) notReady.delete(m.s);
      else notReady.set(m.s, m.e);
      fake.put('endpointslices', slice(m.s));
    } else if (m.op === 'churn') {
      if (churn) clearInterval(churn);
      churn = null;
      if (m.rate > 0) {
        // Every 10 ms, rate/100 updates of random slices (readiness of a random endpoint toggled).
        let carry = 0;
        churn = setInterval(() => {
          carry += m.rate / 100;
          for (; carry >= 1; carry--) {
            const s = Math.floor(Math.random() * Math.floor(SERVICES / 2)) * 2 + 1;
            if (notReady.has(s)) notReady.delete(s);
            else notReady.set(s, Math.floor(Math.random() * PER_SERVICE));
            fake.put('endpointslices', slice(s));
          }
        }, 10);
      }
    } else if (m.op === 'rss') process.send!({ rss: process.memoryUsage().rss });
  });
  process.send!({ url: fake.url, token: fake.token });
}

async function main(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heaps: string[] = [];
  /** V8 heap committed, and memory outside the V8 heap (Buffers, malloc'd), at the same points. */
  const committed: string[] = [];
  const rssMiB = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    heaps.push((m.heapUsed / 2 ** 20).toFixed(0));
    committed.push(`${(m.heapTotal / 2 ** 20).toFixed(0)} + ${(m.external / 2 ** 20).toFixed(0)}`);
    return m.rss / 2 ** 20;
  };
  // As the boot does when a Kubernetes source is configured (server/index.ts): import(), not the
  // require(esm) fallback, which costs ~20 MiB more heap under tsx.
  const { preloadKubernetesClient } = await import('../clients/kubernetes/kubernetesClient');
  await preloadKubernetesClient();
  const { KubernetesSource } = await import('../server/sources/kubernetes/kubernetesSource');
  const { TopologyStore } = await import('../server/topology/topologyStore');

  const loadStart = performance.now();
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), '--fake-server'], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const fake = await new Promise<{ url: string; token: string }>((resolve) => child.once('message', (m) => resolve(m as { url: string; token: string })));
  process.stdout.write(`fake API server loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s\n`);
  const send = (c: Command) => child.send(c);
  const childRss = () => new Promise<number>((resolve) => {
    child.once('message', (m) => resolve((m as { rss: number }).rss / 2 ** 20));
    send({ op: 'rss' });
  });

  // Written here, not with the test suite's helper: that module pulls in the whole control plane.
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'sb-bench-k8s-')), 'kubeconfig');
  writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: ${fake.url}\n    insecure-skip-tls-verify: true\nusers:\n- name: bench\n  user:\n    token: ${fake.token}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: bench\ncurrent-context: fake\n`);
  const namespaces = Array.from({ length: NAMESPACES }, (_, i) => (NAMESPACES === 1 ? 'shop' : `ns-${i}`));
  const source = new KubernetesSource({ name: 'k8s', kubeconfig, context: null, inCluster: false, namespaces });
  const store = new TopologyStore();
  store.addSource({ id: source.id, kind: source.kind, name: source.name, address: source.address });
  let storeMs = 0;
  let changedEvents = 0;
  let listed = 0;
  let listedInstances = 0;
  let churnChanged = 0;
  const rssBase = rssMiB();
  const started = performance.now();
  const startCpu = process.cpuUsage();
  source.start((e) => {
    if (e.type === 'service.changed') changedEvents++;
    if (e.type === 'scope.synced') {
      listed += e.services.length;
      for (const svc of e.services) listedInstances += svc.instances.length;
    }
    if (e.type === 'service.changed') churnChanged++;
    const t = performance.now();
    if (!NO_STORE || e.type === 'status' || e.type === 'scopes.changed') store.apply(source.id, e);
    else if (e.type === 'service.changed') deliver(e.service);
    storeMs += performance.now() - t;
  });
  while (store.source('k8s')?.state !== 'ok' || listed < SERVICES) await sleep(5);
  const syncMs = performance.now() - started;
  const syncCpu = process.cpuUsage(startCpu);
  // A large cluster is listed from Services and endpoints first; instances follow with the pods' labels.
  while (listedInstances < SERVICES * PER_SERVICE) await sleep(5);
  const allReadMs = performance.now() - started;
  const allReadCpu = process.cpuUsage(startCpu);
  const instances = listedInstances;
  await sleep(500);
  const rssSync = rssMiB();

  // One flip: endpoint e of Service s not-ready (or ready again) → the store's delta carrying it.
  let waiting: { id: string; serviceId: string; health: string; resolve: (t: number) => void } | null = null;
  // With --no-store, the adapter's service.changed stands for the store's delta.
  function deliver(service: Service) {
    if (!waiting || service.id !== waiting.serviceId) return;
    if (service.instances.some((i) => i.id === waiting!.id && i.health === waiting!.health)) {
      const w = waiting;
      waiting = null;
      w.resolve(performance.now());
    }
  }
  store.subscribe((delta) => {
    if (!waiting) return;
    // The store's Delta: `ops` (one list), or per-service ops by service id.
    const d = delta as unknown as { ops?: DeltaOp[]; services?: Map<string, DeltaOp[]> };
    for (const op of d.ops ?? d.services?.get(waiting.serviceId) ?? []) {
      if (op.op === 'instance.put' && op.serviceId === waiting.serviceId && op.instance.id === waiting.id && op.instance.health === waiting.health) {
        const w = waiting;
        waiting = null;
        w.resolve(performance.now());
        return;
      }
    }
  });
  let flipNo = 0;
  const flip = async (): Promise<number> => {
    const i = flipNo++;
    // Flips use even Services, churn odd ones, so churn never undoes a flip before it is seen.
    const s = (((i >> 1) * 7919) % Math.floor(SERVICES / 2)) * 2;
    const e = (i >> 1) % PER_SERVICE;
    const ready = i % 2 === 1;
    const seen = new Promise<number>((resolve) => (waiting = { id: `${ip(s, e)}:8080`, serviceId: `k8s/${nsOf(s)}/svc-${s}`, health: ready ? 'passing' : 'critical', resolve }));
    const t0 = performance.now();
    send({ op: 'flip', s, e, ready });
    const timeout = sleep(10_000).then(() => NaN);
    return (await Promise.race([seen, timeout])) - t0;
  };

  const flipLatencies: number[] = [];
  storeMs = 0;
  changedEvents = 0;
  let cpu = process.cpuUsage();
  let busyMs = 0;
  for (let i = 0; i < FLIPS; i++) {
    const t = performance.now();
    flipLatencies.push(await flip());
    busyMs += performance.now() - t;
    await sleep(2);
  }
  let used = process.cpuUsage(cpu);
  const cpuPerFlip = (used.user + used.system) / 1000 / FLIPS;
  const storePerFlip = storeMs / FLIPS;
  const changedPerFlip = changedEvents / FLIPS;
  const rssFlips = rssMiB();

  let churnLine = '';
  if (CHURN > 0) {
    send({ op: 'churn', rate: CHURN });
    await sleep(2000);
    const under: number[] = [];
    storeMs = 0;
    cpu = process.cpuUsage();
    churnChanged = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < CHURN_SECONDS * 1000) {
      under.push(await flip());
      await sleep(200);
    }
    used = process.cpuUsage(cpu);
    const wall = performance.now() - t0;
    send({ op: 'churn', rate: 0 });
    await sleep(1000);
    const rssChurn = rssMiB();
    const sortedUnder = under.sort((a, b) => a - b);
    churnLine = `
| With ${CHURN} slice updates/s for ${CHURN_SECONDS} s (${(churnChanged / (wall / 1000)).toFixed(0)} service.changed/s seen): CPU (whole process; store's share) | ${((used.user + used.system) / 1000 / wall).toFixed(2)} cores; ${(storeMs / wall).toFixed(2)} cores |
| … flip → store delta meanwhile, p50 / p99 / max over ${under.length} | ${percentile(sortedUnder, 50).toFixed(1)} / ${percentile(sortedUnder, 99).toFixed(1)} / ${sortedUnder.at(-1)!.toFixed(1)} ms |
| RSS after the churn | ${rssChurn.toFixed(0)} MiB |`;
  }
  const fakeRss = await childRss();
  await source.stop();
  child.kill();

  const sorted = flipLatencies.sort((a, b) => a - b);
  const title = `Kubernetes: ${SERVICES.toLocaleString('en')} Services / ${(SERVICES * PER_SERVICE).toLocaleString('en')} endpoints, ${NAMESPACES} namespace${NAMESPACES > 1 ? 's' : ''}`;
  const settings = args['node-defaults'] ? "Node's default memory settings" : `\`npm start\`'s memory settings (${SERVER_NODE_ARGS.join(' ')}, ${Object.entries(SERVER_ENV).map(([k, v]) => `${k}=${v}`).join(' ')})`;
  const body = `Adapter (KubernetesSource)${NO_STORE ? ' alone (events not applied to a store)' : ' + TopologyStore'} in one process, run with ${settings}; the fake API server (EndpointSlice v1 wire protocol: paginated list + chunked watch) in a child process (RSS ${fakeRss.toFixed(0)} MiB, not counted). One EndpointSlice of ${PER_SERVICE} endpoints per Service${PODS ? ', one Pod per endpoint' : ''}.

| measure | value |
|---|---|
| Start → source ok (every one of ${SERVICES.toLocaleString('en')} Services listed with its health counts): wall / CPU of this process | ${(syncMs / 1000).toFixed(2)} s / ${((syncCpu.user + syncCpu.system) / 1e6).toFixed(2)} s |
| Start → all ${instances.toLocaleString('en')} instances in the store (with their pods' labels): wall / CPU | ${(allReadMs / 1000).toFixed(2)} s / ${((allReadCpu.user + allReadCpu.system) / 1e6).toFixed(2)} s |
| RSS before start / after sync / after ${FLIPS} flips (peak during the run) | ${rssBase.toFixed(0)} / ${rssSync.toFixed(0)} / ${rssFlips.toFixed(0)} MiB (${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB) |
| JS heap used at the same points${CHURN > 0 ? ' and after the churn' : ''} | ${heaps.join(' / ')} MiB |
| JS heap committed + external (Buffers) at the same points; RSS − both is native memory (malloc, code) | ${committed.join(' / ')} MiB |
| CPU per readiness flip: whole process / in TopologyStore.apply / adapter + watch (the rest) | ${cpuPerFlip.toFixed(2)} / ${storePerFlip.toFixed(2)} / ${(cpuPerFlip - storePerFlip).toFixed(2)} ms |
| service.changed events per flip | ${changedPerFlip.toFixed(2)} |
| Flip → store delta, p50 / p99 / max over ${FLIPS} | ${percentile(sorted, 50).toFixed(1)} / ${percentile(sorted, 99).toFixed(1)} / ${(sorted.at(-1) ?? NaN).toFixed(1)} ms |${churnLine}

The adapter coalesces watch events for 20 ms and then recomputes only the Services they touch; latency includes that window. Busy time per flip ${(busyMs / FLIPS).toFixed(1)} ms.`;
  const command = `npm run bench:k8s -- ${process.argv.slice(2).filter((a) => a !== '--measured').join(' ')}`.trim();
  if (args.write) report(title, command, body);
  else process.stdout.write(`\n## ${title}\n\n\`${command}\` — ${new Date().toISOString()} — ${machine()}\n\n${body}\n`);
  process.exit(0);
}
