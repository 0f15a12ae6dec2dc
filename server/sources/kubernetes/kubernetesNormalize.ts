/**
 * Kubernetes objects → the normalized model: a terminating endpoint that still serves is
 * draining (warning), anything else not ready is critical. Subset membership on Kubernetes
 * comes from pod labels, carried as `key=value` tags.
 */
import type { Check, Health, Instance, Service } from '../../../protocol/model';
import { serviceId } from '../../../protocol/model';
import type { EndpointInfo, KubeService } from '../../../clients/kubernetes/kubernetesObjects';

/** The 8 outputs of boolean conditions, one string each: the store keeps an instance's check output as it gets it. */
const OUTPUTS = Array.from({ length: 8 }, (_, i) => `ready=${(i & 1) !== 0} serving=${(i & 2) !== 0} terminating=${(i & 4) !== 0}`);

function conditionsOutput(ready: unknown, serving: unknown, terminating: unknown): string {
  if (typeof ready === 'boolean' && typeof serving === 'boolean' && typeof terminating === 'boolean') return OUTPUTS[(ready ? 1 : 0) | (serving ? 2 : 0) | (terminating ? 4 : 0)]!;
  return `ready=${ready} serving=${serving} terminating=${terminating}`;
}

export function toService(sourceId: string, svc: KubeService, endpoints: readonly EndpointInfo[], podLabels: (namespace: string, pod: string) => Record<string, string> | undefined): Service {
  const namespace = svc.metadata.namespace ?? 'default';
  // Slices may briefly repeat an address during updates: one instance per address:port.
  const byId = new Map<string, Instance>();
  for (const e of endpoints) {
    const id = `${e.address}:${e.port}`;
    if (byId.has(id)) continue;
    const labels = (e.pod ? podLabels(namespace, e.pod) : undefined) ?? {};
    const health: Health = e.ready ? 'passing' : e.terminating && e.serving ? 'warning' : 'critical';
    const check: Check = {
      id: 'endpoint-conditions',
      name: e.terminating ? 'terminating (draining)' : 'endpoint ready',
      status: health,
      output: conditionsOutput(e.ready, e.serving, e.terminating),
      type: 'kubernetes',
      nodeLevel: false,
    };
    const meta: Record<string, string> = {};
    if (e.pod) meta.pod = e.pod;
    if (e.zone) meta.zone = e.zone;
    if (e.terminating) meta.terminating = 'true';
    byId.set(id, {
      id,
      address: e.address,
      port: e.port,
      tags: Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort(),
      meta,
      node: e.nodeName,
      health,
      checks: [check],
    });
  }
  const instances = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const headless = svc.spec?.clusterIP === 'None';
  const tags = [...new Set([...(headless ? ['headless'] : []), ...instances.flatMap((i) => i.tags)])].sort();
  return { id: serviceId(sourceId, namespace, svc.metadata.name), sourceId, scope: namespace, name: svc.metadata.name, tags, instances };
}
