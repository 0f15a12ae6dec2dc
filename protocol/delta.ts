/**
 * Topology deltas and the one pure reducer that applies them. The server's store and the
 * browser's query cache both change only through `applyOps`, so they cannot disagree.
 */
import { z } from 'zod';
import { Instance, ServiceHeader, SourceStatus, type Service, type Topology } from './model';

export const DeltaOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('source.put'), source: SourceStatus }),
  z.object({ op: z.literal('source.delete'), sourceId: z.string() }),
  z.object({ op: z.literal('service.put'), service: ServiceHeader }),
  z.object({ op: z.literal('service.delete'), serviceId: z.string() }),
  z.object({ op: z.literal('instance.put'), serviceId: z.string(), instance: Instance }),
  z.object({ op: z.literal('instance.delete'), serviceId: z.string(), instanceId: z.string() }),
]);
export type DeltaOp = z.infer<typeof DeltaOp>;

/**
 * Returns a new Topology with `ops` applied (inputs are not mutated; untouched services keep
 * their identity so React can skip them). `service.put` for an unknown id creates it empty;
 * `instance.put` for an unknown service is ignored (a `service.put` always precedes it).
 */
export function applyOps(topology: Topology, ops: readonly DeltaOp[], rev: number): Topology {
  if (ops.length === 0) return { ...topology, rev };
  const services = new Map(topology.services.map((s) => [s.id, s]));
  const sources = new Map(topology.sources.map((s) => [s.id, s]));
  for (const op of ops) {
    switch (op.op) {
      case 'source.put':
        sources.set(op.source.id, op.source);
        break;
      case 'source.delete':
        sources.delete(op.sourceId);
        for (const [id, s] of services) if (s.sourceId === op.sourceId) services.delete(id);
        break;
      case 'service.put': {
        const prev = services.get(op.service.id);
        services.set(op.service.id, { ...op.service, instances: prev?.instances ?? [] });
        break;
      }
      case 'service.delete':
        services.delete(op.serviceId);
        break;
      case 'instance.put': {
        const svc = services.get(op.serviceId);
        if (!svc) break;
        services.set(op.serviceId, upsertInstance(svc, op.instance));
        break;
      }
      case 'instance.delete': {
        const svc = services.get(op.serviceId);
        if (!svc) break;
        services.set(op.serviceId, { ...svc, instances: svc.instances.filter((i) => i.id !== op.instanceId) });
        break;
      }
    }
  }
  return {
    rev,
    sources: [...sources.values()].sort((a, b) => a.id.localeCompare(b.id)),
    services: [...services.values()].sort(compareServices),
  };
}

function upsertInstance(svc: Service, instance: Service['instances'][number]): Service {
  const idx = svc.instances.findIndex((i) => i.id === instance.id);
  const instances = svc.instances.slice();
  if (idx === -1) {
    instances.push(instance);
    instances.sort((a, b) => a.id.localeCompare(b.id));
  } else instances[idx] = instance;
  return { ...svc, instances };
}

export function compareServices(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
