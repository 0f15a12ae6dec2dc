/**
 * How `npm start` runs the server (package.json "start"), for benches that spawn it themselves:
 * the same memory settings, or their RSS figures would not be what users get.
 * - MALLOC_ARENA_MAX=2: fewer glibc arenas, no native memory creep;
 * - --max-semi-space-size=16 (MiB): V8 otherwise grows the young generation to 128 MiB during
 *   a large registry's first sync and keeps it committed (measured: ~110 MiB of RSS at 150,000
 *   instances, for no speed gained).
 */
export const SERVER_NODE_ARGS = ['--max-semi-space-size=16'] as const;
export const SERVER_ENV = { MALLOC_ARENA_MAX: '2' } as const;
