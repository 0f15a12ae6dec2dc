#!/usr/bin/env node
// `npx switchboard traffic …`: loads the TypeScript CLI through tsx.
//
// The project brings its own Node 24 (the `node` devDependency, first on the PATH of `npx` and
// `npm run`), which is why package.json declares no `engines` range for npm to warn about on the
// machine's own Node. Started some other way on an older Node (`node bin/switchboard.mjs`,
// a global link), hand over to that bundled Node rather than fail on a newer API.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const MIN_MAJOR = 24;
if (Number(process.versions.node.split('.')[0]) < MIN_MAJOR) {
  const bundled = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url));
  if (!existsSync(bundled)) {
    process.stderr.write(`switchboard: needs Node ${MIN_MAJOR} or newer (this is ${process.version}); run \`npm ci\` to install the bundled one\n`);
    process.exit(1);
  }
  const r = spawnSync(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const { register } = await import('tsx/esm/api');
register();
await import('../cli/switchboard.ts');
