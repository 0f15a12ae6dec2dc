/**
 * @kubernetes/client-node, loaded on first use. Importing it takes 1–1.5 s (its generated API
 * models), which a Switchboard watching only Consul or DNS should not pay at start.
 * `preloadKubernetesClient()` loads it with import() ahead of need (the boot does so when a
 * Kubernetes source is configured); `kubernetesClient()` is the synchronous accessor for
 * constructors, falling back to require(esm) when nothing preloaded it (tests, the CLI).
 */
import type * as K8s from '@kubernetes/client-node';
import { createRequire } from 'node:module';

const requireFromHere = createRequire(import.meta.url);
let loaded: typeof K8s | undefined;

export function kubernetesClient(): typeof K8s {
  return (loaded ??= requireFromHere('@kubernetes/client-node') as typeof K8s);
}

export async function preloadKubernetesClient(): Promise<void> {
  loaded ??= await import('@kubernetes/client-node');
}

/** Request options that send a PATCH as a JSON merge patch (the client's default is a JSON patch). */
export function mergePatchOptions(): ReturnType<typeof K8s.setHeaderOptions> {
  const k8s = kubernetesClient();
  return k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
}
