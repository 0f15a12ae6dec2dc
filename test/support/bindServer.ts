/**
 * A real bind9 `named` on a loopback port for tests, serving one zone that accepts dynamic
 * updates from 127.0.0.1 (so `nsupdate` can add and remove records while a source watches).
 * Debian's bind9 is installed by scripts/install-bind9.sh.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './consulAgent';

export interface BindServer {
  port: number;
  zone: string;
  /** Runs nsupdate with these update lines (e.g. `update add … SRV …`), then `send`. */
  update(lines: string[]): Promise<void>;
  stop(): Promise<void>;
  logs(): string;
}

export async function startBind(options: { zone: string; records: string[]; ttl?: number }): Promise<BindServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bind-'));
  const [port] = await freePorts(1);
  const ttl = options.ttl ?? 2;
  const zoneFile = join(dir, `${options.zone}.zone`);
  writeFileSync(
    zoneFile,
    [
      `$TTL ${ttl}`,
      `@ IN SOA ns.${options.zone}. hostmaster.${options.zone}. ( 1 60 60 600 ${ttl} )`,
      `@ IN NS ns.${options.zone}.`,
      `ns IN A 127.0.0.1`,
      ...options.records,
      '',
    ].join('\n'),
  );
  const conf = join(dir, 'named.conf');
  writeFileSync(
    conf,
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  allow-query { any; };
};
controls { };
zone "${options.zone}" { type primary; file "${zoneFile}"; allow-update { 127.0.0.1; }; };
`,
  );
  let output = '';
  let child: ChildProcess | null = null;
  const start = async () => {
    // -g: foreground, log to stderr; -u is not given, so no privilege drop is attempted.
    child = spawn('named', ['-g', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const deadline = Date.now() + 15_000;
    while (!/running|loaded serial/.test(output)) {
      if (child.exitCode !== null) throw new Error(`named exited (${child.exitCode}):\n${output}`);
      if (Date.now() > deadline) throw new Error(`named did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await start();

  return {
    port: port!,
    zone: options.zone,
    update: (lines) =>
      new Promise((resolve, reject) => {
        const p = execFile('nsupdate', [], (err, _out, stderr) => (err ? reject(new Error(`nsupdate failed: ${stderr}`)) : resolve()));
        p.stdin!.end([`server 127.0.0.1 ${port}`, `zone ${options.zone}`, ...lines, 'send', ''].join('\n'));
      }),
    async stop() {
      const c = child as ChildProcess | null;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    },
    logs: () => output,
  };
}
