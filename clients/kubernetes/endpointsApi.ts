/** Which endpoints API a cluster serves: EndpointSlice v1 (1.21+), else v1beta1, else core Endpoints. */
import type * as k8s from '@kubernetes/client-node';
import { kubernetesClient } from './kubernetesClient';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';

export type EndpointsApi = { kind: 'slices'; version: 'v1' | 'v1beta1' } | { kind: 'endpoints' };

export async function discoverEndpointsApi(kc: k8s.KubeConfig): Promise<EndpointsApi> {
  const groups = await kc.makeApiClient(kubernetesClient().ApisApi).getAPIVersions();
  const versions = new Set((groups.groups.find((g) => g.name === 'discovery.k8s.io')?.versions ?? []).map((v) => v.version));
  if (versions.has('v1')) return { kind: 'slices', version: 'v1' };
  if (versions.has('v1beta1')) return { kind: 'slices', version: 'v1beta1' };
  return { kind: 'endpoints' };
}

export function describeEndpointsApi(api: EndpointsApi): string {
  return api.kind === 'slices' ? `EndpointSlices discovery.k8s.io/${api.version}` : 'core v1 Endpoints (no EndpointSlice API served)';
}

/** Watch path and list call for the endpoints of a namespace (or all namespaces) under `api`. */
export function endpointsResource(kc: k8s.KubeConfig, api: EndpointsApi, namespace: string | null, labelSelector?: string): { path: string; list: () => Promise<KubernetesListObject<KubernetesObject>> } {
  if (api.kind === 'slices') {
    const custom = kc.makeApiClient(kubernetesClient().CustomObjectsApi);
    const { version } = api;
    return {
      path: namespace ? `/apis/discovery.k8s.io/${version}/namespaces/${namespace}/endpointslices` : `/apis/discovery.k8s.io/${version}/endpointslices`,
      list: () =>
        (namespace
          ? custom.listNamespacedCustomObject({ group: 'discovery.k8s.io', version, namespace, plural: 'endpointslices', labelSelector })
          : custom.listClusterCustomObject({ group: 'discovery.k8s.io', version, plural: 'endpointslices', labelSelector })) as Promise<KubernetesListObject<KubernetesObject>>,
    };
  }
  const core = kc.makeApiClient(kubernetesClient().CoreV1Api);
  return {
    path: namespace ? `/api/v1/namespaces/${namespace}/endpoints` : '/api/v1/endpoints',
    list: () => (namespace ? core.listNamespacedEndpoints({ namespace, labelSelector }) : core.listEndpointsForAllNamespaces({ labelSelector })) as Promise<KubernetesListObject<KubernetesObject>>,
  };
}
