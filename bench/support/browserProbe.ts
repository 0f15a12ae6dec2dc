/**
 * Bench helper: a real Chromium (Debian's /usr/bin/chromium through playwright-core) looking at
 * Switchboard as a user does, with two probes:
 *
 * - `openServicePage` opens `/services/<id>` and installs a MutationObserver that stamps, with
 *   `Date.now()`, every `data-health` an instance row (`[data-testid="instance-row"]`) takes —
 *   attribute changes and rows (re)inserted alike. The bench process stamps its check flips with
 *   `Date.now()` too (same machine, same clock), so `flip → visible` is a subtraction.
 *   "Visible" here is the DOM mutation (what the next frame paints), not the paint itself.
 * - `loadList` opens a URL in a fresh context (no cache) and counts every byte the page receives
 *   (HTTP response bodies as transferred, WebSocket frame payloads) until a selector is visible.
 *
 * @example
 *   const browser = await launchBrowser();
 *   const page = await openServicePage(browser, 'http://127.0.0.1:3000', 'bench/dc1/svc-123');
 *   const t0 = Date.now(); await flip();
 *   const seenAt = await page.waitForHealth('fleet-node-1/svc-123-4', 'critical', t0);
 *   await browser.close();
 *
 * Also here, for the benches that drive that browser: `startSwitchboardProcess` (Switchboard in
 * its own process, as `npm start` runs it, with a temp config) and the outside measures of a
 * process — `cpuSeconds`, `memory` (/proc/<pid>) and `tcpConnections` (`ss`: its connections to
 * a port and the bytes each has received).
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SERVER_ENV, SERVER_NODE_ARGS } from './serverRuntime';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash scripts/install-chromium.sh\``);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface ServicePageProbe {
  readonly page: Page;
  /** Health of every instance row now on the page, by `data-instance-id`. */
  rows(): Promise<Record<string, string>>;
  /**
   * Resolves with the `Date.now()` at which the row of `instanceId` first showed `health` at or
   * after `sinceMs`; null after `timeoutMs`.
   */
  waitForHealth(instanceId: string, health: string, sinceMs: number, timeoutMs?: number): Promise<number | null>;
  close(): Promise<void>;
}

interface ProbeWindow {
  __sbProbe: { events: { id: string; health: string; t: number }[] };
}

const PROBE_SCRIPT = `(() => {
  const probe = { events: [] };
  window.__sbProbe = probe;
  const record = (el) => {
    const id = el.getAttribute('data-instance-id');
    const health = el.getAttribute('data-health');
    if (id && health) probe.events.push({ id, health, t: Date.now() });
  };
  const observer = new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.type === 'attributes') {
        if (m.target.getAttribute('data-testid') === 'instance-row') record(m.target);
      } else {
        for (const n of m.addedNodes) {
          if (!(n instanceof Element)) continue;
          if (n.getAttribute('data-testid') === 'instance-row') record(n);
          for (const el of n.querySelectorAll('[data-testid="instance-row"]')) record(el);
        }
      }
    }
    // Bounded: a long run keeps only the recent stamps.
    if (probe.events.length > 5000) probe.events.splice(0, 2500);
  });
  const start = () => observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-health'] });
  if (document.documentElement) start();
  else document.addEventListener('DOMContentLoaded', start, { once: true });
})();`;

/** Opens the service page in its own context and waits until its instance rows are rendered. */
export async function openServicePage(browser: Browser, baseUrl: string, serviceId: string, timeoutMs = 60_000): Promise<ServicePageProbe> {
  // Tall, so that a virtualized instance list renders as many rows as it can.
  const context = await browser.newContext({ viewport: { width: 1280, height: 2000 } });
  const page = await context.newPage();
  // A string, not a function: tsx (esbuild keepNames) would wrap named inner functions in a
  // `__name` helper that does not exist in the page.
  await page.addInitScript(PROBE_SCRIPT);
  const name = serviceId.split('/').map(encodeURIComponent).join('/');
  await page.goto(`${baseUrl}/services/${name}`, { timeout: timeoutMs });
  await page.locator('[data-testid="instance-row"]').first().waitFor({ state: 'visible', timeout: timeoutMs });

  return {
    page,
    rows: () =>
      page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-testid="instance-row"]')].map((el) => [el.getAttribute('data-instance-id') ?? '', el.getAttribute('data-health') ?? '']))),
    async waitForHealth(instanceId, health, sinceMs, waitMs = 20_000) {
      try {
        const handle = await page.waitForFunction(
          ([id, h, since]) => (window as unknown as ProbeWindow).__sbProbe.events.find((e) => e.id === id && e.health === h && e.t >= since)?.t ?? false,
          [instanceId, health, sinceMs] as const,
          // Polling only decides when we learn of it; the stamp was taken by the observer.
          { polling: 50, timeout: waitMs },
        );
        return (await handle.jsonValue()) as number;
      } catch {
        return null;
      }
    },
    close: () => context.close(),
  };
}

export interface ListLoad {
  /** HTTP response bodies as transferred (encoded) + WebSocket frame payloads, received until the selector showed. */
  bytes: number;
  httpBytes: number;
  wsBytes: number;
  responses: number;
  wsFrames: number;
  /** From `page.goto` being called to the selector being visible. */
  ms: number;
}

/** Opens `url` in a fresh context (cold cache) and measures what it downloads until `selector` is visible. */
export async function loadList(browser: Browser, url: string, selector: string, timeoutMs = 60_000): Promise<ListLoad> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    const responses: Promise<number>[] = [];
    let wsBytes = 0;
    let wsFrames = 0;
    let done = false;
    page.on('response', (r) => {
      if (done) return;
      responses.push(
        r.request().sizes().then(
          (s) => s.responseBodySize,
          // A response whose body never finished (e.g. an aborted prefetch) adds what it has: nothing.
          () => 0,
        ),
      );
    });
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => {
        if (done) return;
        wsFrames += 1;
        wsBytes += typeof f.payload === 'string' ? Buffer.byteLength(f.payload) : f.payload.length;
      });
    });
    const t0 = performance.now();
    await page.goto(url, { waitUntil: 'commit', timeout: timeoutMs });
    await page.locator(selector).first().waitFor({ state: 'visible', timeout: timeoutMs });
    const ms = performance.now() - t0;
    done = true;
    const httpBytes = (await Promise.all(responses)).reduce((a, b) => a + b, 0);
    return { bytes: httpBytes + wsBytes, httpBytes, wsBytes, responses: responses.length, wsFrames, ms };
  } finally {
    await context.close();
  }
}

// ---- the Switchboard the browser (and the benches) look at: its own process, as `npm start` runs it ----

export interface SwitchboardProcess {
  readonly pid: number;
  readonly port: number;
  readonly baseUrl: string;
  /** performance.now() when the process was spawned. */
  readonly spawnedAt: number;
  /** The last lines it wrote (stdout and stderr), for failure messages. */
  logs(): string;
  /** Exit code or signal once it has exited, else null. */
  exited(): string | null;
  /** SIGTERM, then SIGKILL after 10 s; idempotent. */
  stop(): Promise<void>;
}

const liveServers = new Set<import('node:child_process').ChildProcess>();
let serverExitHook = false;

/** Next's production build, made the way scripts/start.mjs (`npm start`) makes it when missing. */
export function ensureProductionBuild(root: string): void {
  if (existsSync(`${root}/.next/BUILD_ID`)) return;
  process.stderr.write('bench: no production build (.next/BUILD_ID), running npx next build…\n');
  const r = spawnSync('npx', ['next', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(`${root}/.next/BUILD_ID`)) throw new Error(`next build failed (exit ${r.status})`);
}

/**
 * Starts `node --import tsx server/index.ts` (what `npm start` execs) with SWITCHBOARD_CONFIG
 * pointing at `config` written to a temp file; resolves once spawned (not once ready).
 */
export async function startSwitchboardProcess(root: string, config: { port: number; sources: unknown[]; extraNodeArgs?: string[] }): Promise<SwitchboardProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  const file = join(dir, 'switchboard.json');
  writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: config.port },
      dataDir: join(dir, 'data'),
      embedded: { enabled: false },
      sources: config.sources,
      auth: { anonymousRole: 'viewer', users: [] },
    }, null, 2),
  );
  const out: string[] = [];
  const keep = (chunk: Buffer) => {
    out.push(chunk.toString());
    if (out.length > 300) out.splice(0, out.length - 300);
  };
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, ...(config.extraNodeArgs ?? []), '--import', 'tsx', 'server/index.ts'], {
    cwd: root,
    // Memory settings as `npm start` has them (package.json).
    env: { ...SERVER_ENV, ...process.env, SWITCHBOARD_CONFIG: file, NODE_ENV: 'production', PORT: '', HOST: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveServers.add(child);
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.once('exit', () => liveServers.delete(child));
  if (!serverExitHook) {
    serverExitHook = true;
    process.once('exit', () => {
      for (const c of liveServers) c.kill('SIGKILL');
    });
  }
  let stopped: Promise<void> | null = null;
  return {
    pid: child.pid!,
    port: config.port,
    baseUrl: `http://127.0.0.1:${config.port}`,
    spawnedAt,
    logs: () => out.join(''),
    exited: () => (child.exitCode !== null ? `exit ${child.exitCode}` : child.signalCode !== null ? child.signalCode : null),
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

// ---- what a process costs, read from /proc (Linux) and ss ----

const CLK_TCK = 100;

/** utime + stime of `pid`, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** VmRSS and VmHWM of `pid`, in bytes. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') * 1024, hwm: kib('VmHWM') * 1024 };
}

/** Established TCP connections of `pid` to 127.0.0.1:`remotePort`, keyed by local port, with the bytes each has received. */
export function tcpConnections(pid: number, remotePort: number): Map<number, number> {
  return parseSs(execFileSync('ss', SS_ARGS, { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 }), pid, remotePort);
}

/** The same without blocking the event loop (for sampling while latencies are being timed). */
export async function tcpConnectionsAsync(pid: number, remotePort: number): Promise<Map<number, number>> {
  const { stdout } = await execFileAsync('ss', SS_ARGS, { encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  return parseSs(stdout, pid, remotePort);
}

const SS_ARGS = ['-tinpH', 'state', 'established'];
const execFileAsync = promisify(execFile);

function parseSs(text: string, pid: number, remotePort: number): Map<number, number> {
  const lines = text.split('\n');
  const conns = new Map<number, number>();
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!;
    if (line.startsWith('\t') || line.startsWith(' ') || !line.includes(`pid=${pid},`)) continue;
    const cols = line.trim().split(/\s+/);
    const local = cols[2] ?? '';
    const peer = cols[3] ?? '';
    if (!peer.endsWith(`:${remotePort}`)) continue;
    const info = lines[k + 1] ?? '';
    const received = Number(/bytes_received:(\d+)/.exec(info)?.[1] ?? 0);
    conns.set(Number(local.slice(local.lastIndexOf(':') + 1)), received);
  }
  return conns;
}
