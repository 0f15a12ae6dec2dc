/**
 * `npm run bench:first-start`: the README's first command after `npm ci`, measured. Removes the
 * production build and the data directory, runs `npm start` (which builds first), and times
 * until the dashboard's API shows all 9 demo instances passing, and until the page answers.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../test/support/consulAgent';
import { report } from './benchReport';

const root = resolve(import.meta.dirname, '..');
rmSync(resolve(root, '.next'), { recursive: true, force: true });
rmSync(resolve(root, '.switchboard'), { recursive: true, force: true });
const [port] = await freePorts(1);
const { SWITCHBOARD_CONFIG: _c, CONSUL_HTTP_ADDR: _a, ...env } = process.env;
const t0 = performance.now();
const child = spawn('npm', ['start'], { cwd: root, env: { ...env, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: 'ignore', detached: true });
const base = `http://127.0.0.1:${port}`;

let pageAt = NaN;
let fleetAt = NaN;
while (performance.now() - t0 < 180_000 && Number.isNaN(fleetAt)) {
  await sleep(100);
  try {
    if (Number.isNaN(pageAt) && (await fetch(`${base}/`)).ok) pageAt = performance.now() - t0;
    const t = (await (await fetch(`${base}/api/topology`)).json()) as { services: { instances: { health: string }[] }[] };
    const passing = t.services.flatMap((s) => s.instances).filter((i) => i.health === 'passing').length;
    if (passing >= 9) fleetAt = performance.now() - t0;
  } catch {
    // still building or starting
  }
}
process.kill(-child.pid!, 'SIGTERM');
await sleep(3000);

report(
  'First start: README command to a living dashboard',
  'npm run bench:first-start',
  [
    '`npm start` with no build and no data directory (after `npm ci`): it runs `next build`, starts the server, the embedded registry and the demo fleet.',
    '',
    '| milestone | seconds after `npm start` |',
    '|---|---|',
    `| dashboard page answers | ${(pageAt / 1000).toFixed(1)} |`,
    `| all 9 demo instances passing in /api/topology | ${(fleetAt / 1000).toFixed(1)} |`,
    '',
    'Target: the demo fleet live within 30 s of the install finishing.',
  ].join('\n'),
);
process.exit(Number.isNaN(fleetAt) ? 1 : 0);
