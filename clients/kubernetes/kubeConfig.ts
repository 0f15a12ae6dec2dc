/** Loads the KubeConfig a client talks through: in-cluster service account, or a kubeconfig file (+ context). Throws if it cannot be loaded. */
import type * as k8s from '@kubernetes/client-node';
import { kubernetesClient } from './kubernetesClient';
import { homedir } from 'node:os';

export interface KubeConfigTarget {
  /** @default ~/.kube/config (ignored with inCluster) */
  kubeconfig?: string | null;
  context?: string | null;
  inCluster?: boolean;
}

export function loadKubeConfig(target: KubeConfigTarget): k8s.KubeConfig {
  const kc = new (kubernetesClient().KubeConfig)();
  if (target.inCluster) kc.loadFromCluster();
  else kc.loadFromFile((target.kubeconfig ?? '~/.kube/config').replace(/^~(?=\/|$)/, homedir()));
  if (target.context) kc.setCurrentContext(target.context);
  return kc;
}
