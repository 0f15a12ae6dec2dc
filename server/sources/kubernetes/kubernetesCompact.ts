/**
 * What the source keeps of each Kubernetes object: only the fields the normalized model reads.
 * Applied before an object enters the informer cache (list items and watch events alike), so a
 * Pod costs its name and labels, not its spec and status, and nothing else holds a second copy.
 * The resourceVersion stays: the informer uses it to skip unchanged objects on relist.
 *
 * At 150,000 pods the shape matters as much as the fields (measured with bench/k8s.ts's objects,
 * cache maps included: 257 → 214 bytes per pod, 313 → 243 per slice endpoint, 84 → 67 MiB in
 * all at 10,000 Services × 15 endpoints): each object is built in one literal (no property
 * added later, which would allocate a separate property store); what repeats is shared
 * (kubernetesIntern.ts: frozen label sets, conditions and ports, interned namespaces, node names,
 * zones and label values); an endpoint keeps `nodeName` and `zone` (v1beta1's `topology` folded
 * in), its pod as `targetRef: { name }`, and nothing whose absence its readers cannot tell apart.
 * `fromSlices` (and so the normalized model) reads the same values from a compacted slice as from
 * the original.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { SERVICE_NAME_LABEL, TRAFFIC_ANNOTATION, type KubeEndpoints, type KubeEndpointSlice, type KubeMeta, type KubePod, type KubeService } from '../../../clients/kubernetes/kubernetesObjects';
import { EMPTY_ARRAY, EMPTY_LABELS, LabelSetInterner, sharedConditions, sharedPorts, StringInterner } from './kubernetesIntern';

/** Interning tables shared by every Kubernetes source of the process. */
export const strings = new StringInterner();
export const labelSets = new LabelSetInterner(strings);

type SliceEndpoint = NonNullable<KubeEndpointSlice['endpoints']>[number];

export function compactService(o: KubernetesObject): KubernetesObject {
  const s = o as unknown as KubeService;
  const m = s.metadata;
  const policy = m.annotations?.[TRAFFIC_ANNOTATION];
  const metadata: KubeMeta = policy !== undefined ? { name: m.name, namespace: strings.intern(m.namespace), resourceVersion: m.resourceVersion, annotations: { [TRAFFIC_ANNOTATION]: policy } } : { name: m.name, namespace: strings.intern(m.namespace), resourceVersion: m.resourceVersion };
  const out: KubeService = s.spec?.clusterIP !== undefined ? { metadata, spec: { clusterIP: s.spec.clusterIP } } : { metadata };
  return out as unknown as KubernetesObject;
}

export function compactPod(o: KubernetesObject): KubernetesObject {
  const m = (o as unknown as KubePod).metadata;
  const labels = (m.labels === undefined || m.labels === null ? EMPTY_LABELS : labelSets.intern(m.labels)) as Record<string, string>;
  return { metadata: { name: m.name, namespace: strings.intern(m.namespace), resourceVersion: m.resourceVersion, labels } } as unknown as KubernetesObject;
}

export function compactSlice(o: KubernetesObject): KubernetesObject {
  const s = o as unknown as KubeEndpointSlice;
  const m = s.metadata;
  const owner = m.labels?.[SERVICE_NAME_LABEL];
  const metadata: KubeMeta = owner !== undefined ? { name: m.name, namespace: strings.intern(m.namespace), resourceVersion: m.resourceVersion, labels: { [SERVICE_NAME_LABEL]: owner } } : { name: m.name, namespace: strings.intern(m.namespace), resourceVersion: m.resourceVersion };
  const port = (Array.isArray(s.ports) ? s.ports : []).find((p) => p?.port !== undefined);
  const ports = port ? ((sharedPorts(port.port!) as KubeEndpointSlice['ports']) ?? [{ port: port.port }]) : (EMPTY_ARRAY as []);
  const endpoints: SliceEndpoint[] = [];
  for (const e of Array.isArray(s.endpoints) ? s.endpoints : []) {
    // An endpoint without addresses contributes nothing to what is read from the slice.
    if (!Array.isArray(e?.addresses) || e.addresses.length === 0) continue;
    endpoints.push(compactEndpoint(e));
  }
  return { metadata, ports, endpoints } as unknown as KubernetesObject;
}

function compactEndpoint(e: SliceEndpoint): SliceEndpoint {
  const c = e.conditions;
  const conditions = sharedConditions(c) ?? { ready: c?.ready, serving: c?.serving, terminating: c?.terminating };
  // What fromSlices reads: nodeName and zone, else v1beta1's topology; the pod a Pod (or kind-less) ref names.
  const t = e.topology;
  const nodeName = strings.intern(e.nodeName ?? t?.['kubernetes.io/hostname']);
  const zone = strings.intern(e.zone ?? t?.['topology.kubernetes.io/zone']);
  const ref = e.targetRef;
  const pod = ref?.kind === 'Pod' || ref?.kind === undefined ? (ref?.name ?? null) : null;
  return { addresses: e.addresses, conditions, nodeName, zone, targetRef: pod === null ? undefined : { name: pod } };
}

export function compactEndpoints(o: KubernetesObject): KubernetesObject {
  const e = o as unknown as KubeEndpoints;
  const address = (a: { ip: string; nodeName?: string; targetRef?: { name?: string } }) => ({ ip: a.ip, nodeName: strings.intern(a.nodeName), targetRef: a.targetRef ? { name: a.targetRef.name } : undefined });
  const m = e.metadata;
  const out: KubeEndpoints = {
    metadata: { name: m.name, namespace: strings.intern(m.namespace), resourceVersion: m.resourceVersion },
    subsets: (Array.isArray(e.subsets) ? e.subsets : []).map((s) => ({
      addresses: (s.addresses ?? []).map(address),
      notReadyAddresses: (s.notReadyAddresses ?? []).map(address),
      ports: (s.ports ?? []).slice(0, 1).map((p) => ({ name: p.name, port: p.port })),
    })),
  };
  return out as unknown as KubernetesObject;
}
