/**
 * A child process a test support starts (Consul, Prometheus …): killed if the test run exits
 * first — a crashed or interrupted run must not leave servers behind — with the last of its
 * output kept for failure messages.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export interface TestProcess {
  child: ChildProcess;
  /** The last 200 chunks it wrote (stdout and stderr). */
  logs(): string;
}

export function spawnTestProcess(bin: string, args: readonly string[], options: Pick<SpawnOptions, 'cwd' | 'env'> = {}): TestProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  const output: string[] = [];
  const child = spawn(bin, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, logs: () => output.join('') };
}
