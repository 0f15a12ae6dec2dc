/**
 * The Kubernetes objects Switchboard reads, and endpoints read into one shape from whichever
 * API the cluster serves (EndpointSlice v1 or v1beta1, or core Endpoints). Readiness follows
 * registry-semantics.md C2: `ready` nil means ready, `serving` nil means `ready`, `terminating`
 * nil means not terminating. Shared by the server's source and the SDK's Kubernetes mode.
 */

export interface KubeMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
}

export interface KubeService {
  metadata: KubeMeta;
  spec?: { clusterIP?: string; selector?: Record<string, string>; type?: string; ports?: { name?: string; port: number }[] };
}

export interface KubePod {
  metadata: KubeMeta;
  spec?: { nodeName?: string };
}

interface SliceEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  nodeName?: string;
  zone?: string;
  /** v1beta1 keeps node and zone here. */
  topology?: Record<string, string>;
  targetRef?: { kind?: string; name?: string; namespace?: string };
}

export interface KubeEndpointSlice {
  metadata: KubeMeta;
  endpoints?: SliceEndpoint[] | null;
  ports?: { name?: string; port?: number }[] | null;
}

export interface KubeEndpoints {
  metadata: KubeMeta;
  subsets?: { addresses?: { ip: string; nodeName?: string; targetRef?: { name?: string } }[]; notReadyAddresses?: { ip: string; nodeName?: string; targetRef?: { name?: string } }[]; ports?: { name?: string; port: number }[] }[];
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The traffic policy's home on Kubernetes (DESIGN.md). */
export const TRAFFIC_ANNOTATION = 'switchboard.dev/traffic';

/** One endpoint address, whatever API it came from. */
export interface EndpointInfo {
  address: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName: string | null;
  zone: string | null;
  pod: string | null;
}

export function fromSlices(slices: readonly KubeEndpointSlice[]): EndpointInfo[] {
  const out: EndpointInfo[] = [];
  for (const slice of slices) {
    const port = (slice.ports ?? []).find((p) => p.port !== undefined)?.port;
    if (port === undefined) continue;
    for (const e of slice.endpoints ?? []) {
      const ready = e.conditions?.ready ?? true;
      const terminating = e.conditions?.terminating ?? false;
      const serving = e.conditions?.serving ?? ready;
      for (const address of e.addresses ?? []) {
        out.push({
          address,
          port,
          ready,
          serving,
          terminating,
          nodeName: e.nodeName ?? e.topology?.['kubernetes.io/hostname'] ?? null,
          zone: e.zone ?? e.topology?.['topology.kubernetes.io/zone'] ?? null,
          pod: e.targetRef?.kind === 'Pod' || e.targetRef?.kind === undefined ? (e.targetRef?.name ?? null) : null,
        });
      }
    }
  }
  return out;
}

export function fromEndpoints(endpoints: KubeEndpoints | undefined): EndpointInfo[] {
  const out: EndpointInfo[] = [];
  for (const subset of endpoints?.subsets ?? []) {
    const port = subset.ports?.[0]?.port;
    if (port === undefined) continue;
    for (const [list, ready] of [[subset.addresses ?? [], true], [subset.notReadyAddresses ?? [], false]] as const) {
      for (const a of list) out.push({ address: a.ip, port, ready, serving: ready, terminating: false, nodeName: a.nodeName ?? null, zone: null, pod: a.targetRef?.name ?? null });
    }
  }
  return out;
}

