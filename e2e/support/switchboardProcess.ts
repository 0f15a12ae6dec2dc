/**
 * Runs the real Switchboard server (production build, `node --import tsx server/index.ts`)
 * as a child process on a free loopback port, with a config file written for the test.
 *
 * Specs run in two Playwright workers at once, so:
 * - The embedded registry's HTTP and DNS ports and the demo's xDS port get free ports too (the
 *   zero-config start's 18500/18600/18700 are moved with SWITCHBOARD_EMBEDDED_HTTP_PORT,
 *   SWITCHBOARD_EMBEDDED_DNS_PORT and SWITCHBOARD_DEMO_XDS_PORT; a config file's `embedded` gets
 *   the ports it does not name). Only a spec that asks for `defaultPorts` (the README's own first
 *   start) takes the fixed ports, and it is the only one that does.
 * - Starts take turns (a lock file across workers): a start (tsx, Next's prepare and, with the
 *   demo, fifteen more Node processes) is the CPU-heavy part of a spec, and two at once on two
 *   cores starve each other past the demo fleet's registration deadline. A start counts as done
 *   once Next answers and, with the demo, every demo instance has registered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEMO_FLEET, DEMO_GRPC_FLEET } from '../../demo/demoFleet';
import { freePorts } from '../../test/support/consulAgent';

const root = resolve(import.meta.dirname, '..', '..');

export interface SwitchboardProcess {
  url: string;
  /** The embedded registry's HTTP API (Consul's), e.g. `http://127.0.0.1:40123`. */
  registry: string;
  /** The ports this server's embedded registry (HTTP, DNS) and xDS server were given. */
  ports: { registryHttp: number; registryDns: number; xds: number };
  logs: () => string;
  /** The admin token a first start prints (no users configured), read from its output once it is there. */
  adminToken(): Promise<string>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /**
   * Keep the zero-config start's fixed ports (registry 18500, DNS 18600, xDS 18700) instead of
   * free ones. One spec only (defaultStart.spec.ts), so no two servers ever want them at once.
   */
  defaultPorts?: boolean;
}

/** Every id the demo fleet registers: the HTTP services, the gRPC payments and their xDS caller. */
const DEMO_IDS = [...DEMO_FLEET.map((s) => s.id), ...DEMO_GRPC_FLEET.map((g) => g.id), 'order-grpc-1'];
const START_LOCK = join(tmpdir(), 'switchboard-e2e-start.lock');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `config` null runs the zero-config start (embedded registry + demo fleet) from an empty
 * working directory, so its default data directory is a fresh one.
 */
export async function startSwitchboard(config: unknown, env: Record<string, string> = {}, options: StartOptions = {}): Promise<SwitchboardProcess> {
  const release = await startLock();
  try {
    return await start(config, env, options);
  } finally {
    release();
  }
}

async function start(config: unknown, env: Record<string, string>, options: StartOptions): Promise<SwitchboardProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-'));
  const file = join(dir, 'switchboard.json');
  const [port, freeHttp, freeDns, freeXds] = (await freePorts(4)) as [number, number, number, number];
  const ports = options.defaultPorts ? { registryHttp: 18500, registryDns: 18600, xds: 18700 } : { registryHttp: freeHttp, registryDns: freeDns, xds: freeXds };
  let demo = config === null;
  if (config !== null) {
    const c = config as { embedded?: { httpPort?: number; dnsPort?: number; demo?: boolean }; xds?: { port?: number } };
    // A config file's own ports win; the ones it leaves out are free ones, not the defaults.
    if (c.embedded) {
      ports.registryHttp = c.embedded.httpPort ?? ports.registryHttp;
      ports.registryDns = c.embedded.dnsPort ?? ports.registryDns;
      demo = c.embedded.demo === true;
    }
    if (c.xds?.port !== undefined) ports.xds = c.xds.port;
    const embedded = c.embedded ? { embedded: { ...c.embedded, httpPort: ports.registryHttp, dnsPort: ports.registryDns } } : {};
    writeFileSync(file, JSON.stringify({ dataDir: join(dir, 'data'), ...(config as object), ...embedded }));
  }
  let output = '';
  const {
    SWITCHBOARD_CONFIG: _ignored,
    CONSUL_HTTP_ADDR: _ignored2,
    SWITCHBOARD_EMBEDDED_HTTP_PORT: _ignored3,
    SWITCHBOARD_EMBEDDED_DNS_PORT: _ignored4,
    SWITCHBOARD_DEMO_XDS_PORT: _ignored5,
    ...inherited
  } = process.env;
  const portEnv: Record<string, string> = options.defaultPorts
    ? {}
    : { SWITCHBOARD_EMBEDDED_HTTP_PORT: String(ports.registryHttp), SWITCHBOARD_EMBEDDED_DNS_PORT: String(ports.registryDns), SWITCHBOARD_DEMO_XDS_PORT: String(ports.xds) };
  // Absolute paths: the zero-config start runs in `dir`, not in the repository.
  const child: ChildProcess = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'server', 'index.ts')], {
    cwd: config === null ? dir : root,
    env: { ...inherited, ...(config === null ? {} : { SWITCHBOARD_CONFIG: file }), ...portEnv, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const registry = `http://127.0.0.1:${ports.registryHttp}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  /** Polls `ready` until it answers true; fails with the server's output on exit or after `ms`. */
  const waitFor = async (what: string, ms: number, ready: () => Promise<boolean>) => {
    const deadline = Date.now() + ms;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`switchboard exited with ${child.exitCode} (waiting for ${what}):\n${output}`);
      if (output.includes('demo fleet failed to start')) throw new Error(`the demo fleet did not start:\n${output}`);
      try {
        if (await ready()) return;
      } catch {
        // not answering yet
      }
      if (Date.now() > deadline) throw new Error(`switchboard: no ${what} within ${ms / 1000} s:\n${output}`);
      await sleep(200);
    }
  };
  try {
    await waitFor('/healthz', 60_000, async () => (await fetch(`${url}/healthz`)).ok);
    // Pages (and the first start's admin credential, printed right after) wait for Next's prepare.
    await waitFor('page', 60_000, async () => (await fetch(`${url}/signin`)).status < 500);
    if (demo) {
      await waitFor('demo fleet', 90_000, async () => {
        const services = (await (await fetch(`${registry}/v1/agent/services`)).json()) as Record<string, unknown>;
        return DEMO_IDS.every((id) => id in services);
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    registry,
    ports,
    logs: () => output,
    async adminToken() {
      let token = '';
      await waitFor('admin token', 10_000, async () => Boolean((token = /admin token: (\S+)/.exec(output)?.[1] ?? '')));
      return token;
    },
    stop,
  };
}

/** Waits for the cross-worker start lock; returns its release. A lock whose holder died is taken over. */
async function startLock(): Promise<() => void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      writeFileSync(START_LOCK, String(process.pid), { flag: 'wx' });
      return () => {
        try {
          if (readFileSync(START_LOCK, 'utf8') === String(process.pid)) unlinkSync(START_LOCK);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(START_LOCK, 'utf8'));
    } catch {
      continue; // released between the two calls
    }
    if (holder && !alive(holder)) {
      try {
        unlinkSync(START_LOCK);
      } catch {
        // someone else took it over first
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the e2e start lock ${START_LOCK} is held by process ${holder}`);
    await sleep(100);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
