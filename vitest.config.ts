import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const alias = { '@': fileURLToPath(new URL('.', import.meta.url)) };

export default defineConfig({
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['protocol/**/*.test.ts', 'sdk/**/*.test.ts', 'clients/**/*.test.ts', 'cli/**/*.test.ts', 'server/**/*.test.ts', 'registry/**/*.test.ts', 'components/**/*.test.ts', 'lib/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // Real Consul agents, kube-apiservers and Prometheus: two files at a time on a 2-core
          // machine (most of a suite's time is spent waiting on TTLs and watches, not CPU).
          maxWorkers: 2,
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
