/** Starts test/support/registryProcess.ts (the embedded registry alone in a child process) and waits for its address. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface RegistryProcess {
  child: ChildProcess;
  httpAddr: string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
}

export async function spawnRegistryProcess(dataDir = mkdtempSync(join(tmpdir(), 'sb-registry-')), port = 0): Promise<RegistryProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/registryProcess.ts', dataDir, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`registry process exited ${code}`)));
  });
  return {
    child,
    httpAddr: JSON.parse(line).httpAddr,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
