import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';

const testDir = 'e2e';
/**
 * Specs that run the demo fleet (a zero-config start, or `embedded.demo` in their config): fifteen
 * Node processes and their traffic beside the server and a browser. Two of them at once starve each
 * other on two cores (the fleet misses its registration deadline, keystrokes land late), so they
 * run one at a time, while a second worker runs the other specs (Consul, Kubernetes, sign-in).
 * Every server a spec starts takes free ports (e2e/support/switchboardProcess.ts).
 */
const demoSpecs = readdirSync(testDir)
  .filter((f) => f.endsWith('.spec.ts') && /startSwitchboard\(null|demo: true/.test(readFileSync(join(testDir, f), 'utf8')))
  .map((f) => `**/${f}`);

// Debian's chromium: `npx playwright install` cannot download browsers on this machine.
export default defineConfig({
  testDir,
  testMatch: '**/*.spec.ts',
  timeout: 120_000,
  expect: { timeout: 10_000 },
  // The tests of one file stay in order, in one worker; files run two at a time (see the projects).
  fullyParallel: false,
  workers: 2,
  retries: 0,
  reporter: [['list'], ['json', { outputFile: '.cache/results/e2e.json' }]],
  projects: [
    { name: 'demo-fleet', testMatch: demoSpecs, workers: 1 },
    { name: 'registries', testIgnore: demoSpecs },
  ],
  use: {
    browserName: 'chromium',
    headless: true,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    },
  },
});
