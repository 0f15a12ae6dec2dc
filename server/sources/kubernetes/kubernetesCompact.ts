/**
 * What the source keeps of each Kubernetes object: only the fields the normalized model reads.
 * Applied before an object enters the informer cache (list items and watch events alike), so a
 * Pod costs its name and labels, not its spec and status, and nothing else holds a second copy.
 * The resourceVersion stays: the informer uses it to skip unchanged objects on relist.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { SERVICE_NAME_LABEL, TRAFFIC_ANNOTATION, type KubeEndpoints, type KubeEndpointSlice, type KubeMeta, type KubePod, type KubeService } from '../../../clients/kubernetes/kubernetesObjects';

function meta(m: KubeMeta, labels?: Record<string, string>, annotations?: Record<string, string>): KubeMeta {
  const out: KubeMeta = { name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion };
  if (labels) out.labels = labels;
  if (annotations) out.annotations = annotations;
  return out;
}

export function compactService(o: KubernetesObject): KubernetesObject {
  const s = o as unknown as KubeService;
  const policy = s.metadata.annotations?.[TRAFFIC_ANNOTATION];
  const out: KubeService = { metadata: meta(s.metadata, undefined, policy !== undefined ? { [TRAFFIC_ANNOTATION]: policy } : undefined) };
  if (s.spec?.clusterIP !== undefined) out.spec = { clusterIP: s.spec.clusterIP };
  return out as unknown as KubernetesObject;
}

export function compactPod(o: KubernetesObject): KubernetesObject {
  const p = o as unknown as KubePod;
  return { metadata: meta(p.metadata, p.metadata.labels ?? {}) } as unknown as KubernetesObject;
}

export function compactSlice(o: KubernetesObject): KubernetesObject {
  const s = o as unknown as KubeEndpointSlice;
  const owner = s.metadata.labels?.[SERVICE_NAME_LABEL];
  const port = (Array.isArray(s.ports) ? s.ports : []).find((p) => p?.port !== undefined);
  const out: KubeEndpointSlice = {
    metadata: meta(s.metadata, owner !== undefined ? { [SERVICE_NAME_LABEL]: owner } : undefined),
    ports: port ? [{ port: port.port }] : [],
    endpoints: (Array.isArray(s.endpoints) ? s.endpoints : []).map((e) => {
      const c = e?.conditions;
      const t = e?.topology;
      return {
        addresses: Array.isArray(e?.addresses) ? e.addresses : [],
        conditions: { ready: c?.ready, serving: c?.serving, terminating: c?.terminating },
        nodeName: e?.nodeName,
        zone: e?.zone,
        topology: t ? { 'kubernetes.io/hostname': t['kubernetes.io/hostname']!, 'topology.kubernetes.io/zone': t['topology.kubernetes.io/zone']! } : undefined,
        targetRef: e?.targetRef ? { kind: e.targetRef.kind, name: e.targetRef.name } : undefined,
      };
    }),
  };
  return out as unknown as KubernetesObject;
}

export function compactEndpoints(o: KubernetesObject): KubernetesObject {
  const e = o as unknown as KubeEndpoints;
  const address = (a: { ip: string; nodeName?: string; targetRef?: { name?: string } }) => ({ ip: a.ip, nodeName: a.nodeName, targetRef: a.targetRef ? { name: a.targetRef.name } : undefined });
  const out: KubeEndpoints = {
    metadata: meta(e.metadata),
    subsets: (Array.isArray(e.subsets) ? e.subsets : []).map((s) => ({
      addresses: (s.addresses ?? []).map(address),
      notReadyAddresses: (s.notReadyAddresses ?? []).map(address),
      ports: (s.ports ?? []).slice(0, 1).map((p) => ({ name: p.name, port: p.port })),
    })),
  };
  return out as unknown as KubernetesObject;
}
