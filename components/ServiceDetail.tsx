'use client';
import { useWindowVirtualizer } from '@tanstack/react-virtual';
import Link from 'next/link';
import { useQuery } from '@tanstack/react-query';
import { useLayoutEffect, useMemo, useRef, useState } from 'react';
import { healthCounts, servicePath, type Instance, type SourceKind } from '@/protocol/model';
import { getJson } from '@/lib/api';
import { useServiceDetail, useTopologySelect } from '@/lib/useTopology';
import { sourceLabelOf } from '@/lib/topologySelectors';
import { drainId, isDrained } from '@/protocol/traffic';
import { canOperate, useSession } from '@/lib/useSession';
import { useTrafficMutation, useTrafficView } from '@/lib/useTraffic';
import { HealthCountPills } from './HealthCountPills';
import { DnsInfo } from './DnsInfo';
import { InstanceCard, type DrainControl, type LinkedInstance } from './InstanceCard';
import { ServiceCharts } from './telemetry/ServiceCharts';
import { MeshPanel } from './mesh/MeshPanel';
import { TrafficPanel } from './traffic/TrafficPanel';
import { RolloutPanel } from './rollouts/RolloutPanel';

/** One service: header, then every instance with its checks (virtualized; cards vary in height). */
export function ServiceDetail({ id }: { id: string }) {
  const source = useSourceLabel(id.split('/')[0]!);
  const { data, isPending } = useServiceDetail(id);
  const service = data?.service ?? undefined;
  const listRef = useRef<HTMLDivElement>(null);
  const [offset, setOffset] = useState(0);
  useLayoutEffect(() => setOffset(listRef.current?.offsetTop ?? 0), [service !== undefined]);
  const instances = service?.instances ?? [];
  const virtualizer = useWindowVirtualizer({ count: instances.length, estimateSize: () => 150, overscan: 6, scrollMargin: offset });
  const drainFor = useDrainControl(id);
  const linksFor = useDnsLinks(id, source?.kind === 'dns');

  if (isPending && !data) return <div className="skeleton" aria-busy="true" />;
  const [sourceId, scope, ...rest] = id.split('/');
  if (!service) {
    return (
      <div className="empty">
        <p>
          No service <strong>{rest.join('/')}</strong> in {sourceId} / {scope} right now. It may have been deregistered.
        </p>
        <Link href="/services">Back to all services</Link>
      </div>
    );
  }
  // Listed from the registry's summary, instances still being read: its counts meanwhile.
  const counts = service.pending ?? healthCounts(service.instances);

  return (
    <article aria-labelledby="svc-title">
      <div className="crumbs">
        <Link href="/services">Services</Link> / {service.sourceId} / {service.scope}
      </div>
      <div className="svc-head">
        <h1 id="svc-title">{service.name}</h1>
        <span className="where" data-testid="service-where">{whereLabel(source?.kind, source?.name ?? service.sourceId, service.scope)}</span>
        <HealthCountPills counts={counts} />
        <span className="tags">{service.tags.map((t) => <span className="tag" key={t}>{t}</span>)}</span>
      </div>
      {service.dns && <DnsInfo dns={service.dns} />}
      {source?.kind !== 'dns' && <TrafficPanel service={service} />}
      {source?.kind !== 'dns' && <RolloutPanel service={service} />}
      <ServiceCharts serviceId={service.id} instances={service.instances} />
      <MeshPanel serviceId={service.id} />
      <h2 className="section-title">Instances</h2>
      {service.pending ? (
        <div className="empty" role="status" data-testid="instances-pending">
          Reading this service&apos;s instances from the registry…
        </div>
      ) : (
        instances.length === 0 && <div className="empty">This service has no instances.</div>
      )}
      <div ref={listRef} style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
        {virtualizer.getVirtualItems().map((item) => (
          <div
            key={instances[item.index]!.id}
            data-index={item.index}
            ref={virtualizer.measureElement}
            style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${item.start - virtualizer.options.scrollMargin}px)` }}
          >
            <InstanceCard instance={instances[item.index]!} drain={drainFor(instances[item.index]!.id)} links={linksFor(instances[item.index]!)} />
          </div>
        ))}
      </div>
    </article>
  );
}

/**
 * The kind and name of the service's registry: all this page needs from the fleet's summary,
 * which changes on every frame under churn elsewhere in the fleet — selected so that the page
 * (charts, panels, instance cards) renders again only when its own service changes.
 */
function useSourceLabel(sourceId: string): { kind: SourceKind; name: string } | undefined {
  return useTopologySelect(useMemo(() => sourceLabelOf(sourceId), [sourceId])).data;
}

const KIND_LABEL: Record<SourceKind, string> = { consul: 'Consul', kubernetes: 'Kubernetes', dns: 'DNS', embedded: 'Embedded registry' };

/**
 * "Consul prod · datacenter dc1", "Kubernetes k8s · namespace shop", "DNS legacy": a scope is a
 * datacenter only where the registry has datacenters, and a source named after its kind is not
 * named twice ("Embedded registry · datacenter dc1").
 */
export function whereLabel(kind: SourceKind | undefined, sourceName: string, scope: string): string {
  const registry = !kind ? sourceName : sourceName === kind ? KIND_LABEL[kind] : `${KIND_LABEL[kind]} ${sourceName}`;
  if (kind === 'dns') return registry;
  return `${registry} · ${kind === 'kubernetes' ? 'namespace' : 'datacenter'} ${scope}`;
}

/** Per-instance drain toggles: the policy's `drain` list, changed with compare-and-set like any other traffic change. */
function useDrainControl(serviceId: string): (instanceId: string) => DrainControl {
  const session = useSession();
  const view = useTrafficView(serviceId);
  const mutation = useTrafficMutation(serviceId);
  const policy = view.data?.policy ?? null;
  const allowed = canOperate(session.data);
  return (instanceId) => {
    const drained = policy ? isDrained(policy.drain, instanceId) : false;
    if (!policy) return { drained, why: 'Enable traffic control to drain instances' };
    if (!allowed) return { drained, why: 'Sign in as an operator to drain instances' };
    const toggle = () => {
      const id = drainId(instanceId);
      const drain = drained ? policy.drain.filter((d) => d !== id && d !== instanceId) : [...policy.drain, id];
      mutation.mutate({ kind: 'set', weights: policy.weights, drain, reason: `${drained ? 'undrain' : 'drain'} ${id}` });
    };
    return { drained, toggle };
  };
}

/**
 * A DNS answer has no health: for each instance, where else the same address:port is
 * registered, with that registry's health. The server looks it up (the browser holds only
 * the services it shows), refreshed every few seconds.
 */
function useDnsLinks(id: string, enabled: boolean): (i: Instance) => LinkedInstance[] {
  const { data } = useQuery({
    queryKey: ['links', id],
    queryFn: () => getJson<{ links: Record<string, LinkedInstance[]> }>(`/api/services/${servicePath(id)}`),
    enabled,
    refetchInterval: 5_000,
  });
  return (i) => data?.links[i.id] ?? [];
}
