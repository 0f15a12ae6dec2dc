/**
 * Runs the real Switchboard server (production build, `node --import tsx server/index.ts`)
 * as a child process on a free loopback port, with a config file written for the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePorts } from '../../test/support/consulAgent';

const root = resolve(import.meta.dirname, '..', '..');

export interface SwitchboardProcess {
  url: string;
  logs: () => string;
  /** The admin token a first start prints (no users configured), read from its output. */
  adminToken(): string;
  stop(): Promise<void>;
}

/**
 * `config` null runs the zero-config start (embedded registry + demo fleet) from an empty
 * working directory, so its default data directory is a fresh one.
 */
export async function startSwitchboard(config: unknown, env: Record<string, string> = {}): Promise<SwitchboardProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-e2e-'));
  const file = join(dir, 'switchboard.json');
  if (config !== null) writeFileSync(file, JSON.stringify({ dataDir: join(dir, 'data'), ...(config as object) }));
  const [port] = await freePorts(1);
  let output = '';
  const { SWITCHBOARD_CONFIG: _ignored, CONSUL_HTTP_ADDR: _ignored2, ...inherited } = process.env;
  // Absolute paths: the zero-config start runs in `dir`, not in the repository.
  const child: ChildProcess = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(root, 'server', 'index.ts')], {
    cwd: config === null ? dir : root,
    env: { ...inherited, ...(config === null ? {} : { SWITCHBOARD_CONFIG: file }), PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`switchboard exited with ${child.exitCode}:\n${output}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`switchboard did not start within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    logs: () => output,
    adminToken() {
      const m = /admin token: (\S+)/.exec(output);
      if (!m) throw new Error(`no admin token in the output:\n${output}`);
      return m[1]!;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
