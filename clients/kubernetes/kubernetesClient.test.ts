import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { kubernetesClient, mergePatchOptions, preloadKubernetesClient } from './kubernetesClient';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Imports `entry` in a fresh Node process and says whether @kubernetes/client-node was resolved meanwhile. */
function loadsKubernetesClient(entry: string): boolean {
  const script = `
    import { registerHooks } from 'node:module';
    let seen = false;
    registerHooks({ resolve(specifier, context, next) { if (specifier.startsWith('@kubernetes/client-node')) seen = true; return next(specifier, context); } });
    await import(${JSON.stringify(entry)});
    process.stdout.write(JSON.stringify({ seen }));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return (JSON.parse(out) as { seen: boolean }).seen;
}

describe('the Kubernetes client is loaded on first use', () => {
  it('is not loaded by the server (a Consul-only control plane does not pay for it)', () => {
    expect(loadsKubernetesClient('./server/switchboard.ts')).toBe(false);
  }, 60_000);

  it('is seen by the check when a module does import it (the check can fail)', () => {
    expect(loadsKubernetesClient('./sdk/kubernetes/kubernetesServiceWatch.ts')).toBe(true);
  }, 60_000);

  it('gives the same module through the synchronous accessor and after a preload', async () => {
    const viaRequire = kubernetesClient();
    await preloadKubernetesClient();
    expect(kubernetesClient()).toBe(viaRequire);
    expect(typeof viaRequire.KubeConfig).toBe('function');
    expect(mergePatchOptions()).toBeTruthy();
  });
});
