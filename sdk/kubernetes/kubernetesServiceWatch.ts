/**
 * The SDK's Kubernetes mode: one Service's ready endpoints (EndpointSlices, or Endpoints on old
 * clusters), its pods' labels (for subsets) and its `switchboard.dev/traffic` annotation, kept
 * live through client-node informers. The ServiceClient applies weights, drain and breakers
 * exactly as it does for Consul.
 */
import * as k8s from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Endpoint } from '../trafficSplit';
import { discoverEndpointsApi, endpointsResource } from '../../clients/kubernetes/endpointsApi';
import { loadKubeConfig, type KubeConfigTarget } from '../../clients/kubernetes/kubeConfig';
import { fromEndpoints, fromSlices, SERVICE_NAME_LABEL, TRAFFIC_ANNOTATION, type KubeEndpoints, type KubeEndpointSlice, type KubePod, type KubeService } from '../../clients/kubernetes/kubernetesObjects';

export interface KubernetesTarget extends KubeConfigTarget {
  namespace: string;
}

export interface KubernetesWatchHandlers {
  endpoints(list: Endpoint[]): void;
  /** The raw annotation value, or null when the Service has none. */
  policy(raw: string | null): void;
  error(message: string): void;
}

export class KubernetesServiceWatch {
  private readonly kc: k8s.KubeConfig;
  private informers: k8s.Informer<KubernetesObject>[] = [];
  private stopped = false;
  private readonly retries = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly target: KubernetesTarget,
    private readonly service: string,
    private readonly handlers: KubernetesWatchHandlers,
  ) {
    this.kc = loadKubeConfig(target);
  }

  async start(): Promise<void> {
    const ns = this.target.namespace;
    const api = await discoverEndpointsApi(this.kc);
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const byName = `metadata.name=${this.service}`;
    const services = new k8s.ListWatch(`/api/v1/namespaces/${ns}/services`, new k8s.Watch(this.kc), () => core.listNamespacedService({ namespace: ns, fieldSelector: byName }), false, undefined, byName);
    const endpoints =
      api.kind === 'slices'
        ? endpointsResource(this.kc, api, ns, `${SERVICE_NAME_LABEL}=${this.service}`)
        : { path: `/api/v1/namespaces/${ns}/endpoints`, list: () => core.listNamespacedEndpoints({ namespace: ns, fieldSelector: byName }) };
    const endpointsInformer = new k8s.ListWatch(endpoints.path, new k8s.Watch(this.kc), endpoints.list, false, api.kind === 'slices' ? `${SERVICE_NAME_LABEL}=${this.service}` : undefined, api.kind === 'slices' ? undefined : byName);
    const pods = new k8s.ListWatch(`/api/v1/namespaces/${ns}/pods`, new k8s.Watch(this.kc), () => core.listNamespacedPod({ namespace: ns }), false);
    this.informers = [services, endpointsInformer, pods] as k8s.Informer<KubernetesObject>[];

    let listed = false;
    const recompute = () => {
      // Until every informer has listed, a partial view (a Service without its endpoints yet) must not count as the first answer.
      if (this.stopped || !listed) return;
      const svc = (services.list(ns) as KubeService[]).find((s) => s.metadata.name === this.service);
      this.handlers.policy(svc?.metadata.annotations?.[TRAFFIC_ANNOTATION] ?? null);
      const labels = new Map((pods.list(ns) as KubePod[]).map((p) => [p.metadata.name, p.metadata.labels ?? {}]));
      const infos =
        api.kind === 'slices'
          ? fromSlices((endpointsInformer.list(ns) as KubeEndpointSlice[]).filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === this.service))
          : fromEndpoints((endpointsInformer.list(ns) as KubeEndpoints[]).find((e) => e.metadata.name === this.service));
      const seen = new Set<string>();
      const list: Endpoint[] = [];
      // New requests go to ready endpoints only; terminating ones are draining.
      for (const e of infos) {
        const id = `${e.address}:${e.port}`;
        if (!e.ready || seen.has(id)) continue;
        seen.add(id);
        const podLabels = e.pod ? (labels.get(e.pod) ?? {}) : {};
        list.push({ id, node: e.nodeName ?? '', address: e.address, port: e.port, tags: Object.entries(podLabels).map(([k, v]) => `${k}=${v}`), meta: e.pod ? { pod: e.pod } : {} });
      }
      this.handlers.endpoints(list);
    };
    for (const inf of this.informers) {
      for (const verb of ['add', 'update', 'delete'] as const) inf.on(verb, recompute);
      inf.on('error', (err) => {
        this.handlers.error(`kubernetes watch failed: ${(err as Error)?.message ?? String(err)}`);
        // Keep the cache (last-known-good) and try again shortly; the informer resumes or relists.
        if (this.stopped) return;
        const timer = setTimeout(() => {
          this.retries.delete(timer);
          if (!this.stopped) void inf.start().catch(() => undefined);
        }, 1000);
        this.retries.add(timer);
      });
    }
    await Promise.all(this.informers.map((i) => i.start()));
    listed = true;
    recompute();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retries) clearTimeout(t);
    await Promise.allSettled(this.informers.map((i) => i.stop()));
  }
}
