/**
 * Topology deltas and the pure reducers that apply them. Two streams, one revision counter:
 *
 * - summary ops (`source.*`, `summary.*`) go to every client: what the service list shows;
 * - service ops (`service.*`, `instance.*`) go only to clients that opened that service.
 *
 * Every op carries a whole record (put) or an id (delete), so applying an op twice is
 * harmless and a client can always be brought forward by what it missed.
 */
import { z } from 'zod';
import { Instance, ServiceHeader, ServiceSummary, SourceStatus, type Service, type Topology } from './model';

export const SummaryOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('source.put'), source: SourceStatus }),
  z.object({ op: z.literal('source.delete'), sourceId: z.string() }),
  z.object({ op: z.literal('summary.put'), service: ServiceSummary }),
  z.object({ op: z.literal('summary.delete'), serviceId: z.string() }),
]);
export type SummaryOp = z.infer<typeof SummaryOp>;

export const DeltaOp = z.discriminatedUnion('op', [
  z.object({ op: z.literal('service.put'), service: ServiceHeader }),
  z.object({ op: z.literal('service.delete'), serviceId: z.string() }),
  z.object({ op: z.literal('instance.put'), serviceId: z.string(), instance: Instance }),
  z.object({ op: z.literal('instance.delete'), serviceId: z.string(), instanceId: z.string() }),
]);
export type DeltaOp = z.infer<typeof DeltaOp>;

/**
 * One service's detail after `ops` (all for that service), or null once it is deleted.
 * Inputs are not mutated; instances stay sorted by id. O(ops × instances of the service).
 */
export function applyServiceOps(service: Service | null, ops: readonly DeltaOp[]): Service | null {
  let svc = service;
  for (const op of ops) {
    switch (op.op) {
      case 'service.put':
        svc = { ...op.service, instances: svc?.instances ?? [] };
        break;
      case 'service.delete':
        svc = null;
        break;
      case 'instance.put':
        if (svc) svc = { ...svc, instances: upsertInstance(svc.instances, op.instance) };
        break;
      case 'instance.delete':
        if (svc) svc = { ...svc, instances: svc.instances.filter((i) => i.id !== op.instanceId) };
        break;
    }
  }
  return svc;
}

/**
 * The whole topology after `ops` (tests and tools that hold a full copy; the live paths use
 * the per-service and summary reducers). Untouched services keep their identity.
 */
export function applyOps(topology: Topology, ops: readonly DeltaOp[], rev: number): Topology {
  if (ops.length === 0) return { ...topology, rev };
  const services = new Map(topology.services.map((s) => [s.id, s]));
  for (const op of ops) {
    const id = op.op === 'service.put' ? op.service.id : op.serviceId;
    const next = applyServiceOps(services.get(id) ?? null, [op]);
    if (next) services.set(id, next);
    else services.delete(id);
  }
  return { rev, sources: topology.sources, services: [...services.values()].sort(compareServices) };
}

function upsertInstance(instances: readonly Instance[], instance: Instance): Instance[] {
  const idx = instances.findIndex((i) => i.id === instance.id);
  const next = instances.slice();
  if (idx === -1) {
    next.push(instance);
    next.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  } else next[idx] = instance;
  return next;
}

export function compareServices(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
