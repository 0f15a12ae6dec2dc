/**
 * Consul health entries → the normalized model. Key order follows protocol/model.ts because
 * the topology store diffs by JSON.
 */
import { aggregateHealth, serviceId, type Check, type Health, type HealthCounts, type Instance, type Service } from '../../../protocol/model';
import type { HealthCheck, ServiceEntry } from '../../../clients/consul/consulHttp';

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function toService(sourceId: string, dc: string, name: string, entries: readonly ServiceEntry[]): Service {
  const instances = entries.map(toInstance).sort((a, b) => byString(a.id, b.id));
  const tags = [...new Set(instances.flatMap((i) => i.tags))].sort(byString);
  return { id: serviceId(sourceId, dc, name), sourceId, scope: dc, name, tags, instances };
}

/** A service known from the registry's summary only: its counts stand in until its instances are read. */
export function toPendingService(sourceId: string, dc: string, name: string, tags: readonly string[], pending: HealthCounts): Service {
  return { id: serviceId(sourceId, dc, name), sourceId, scope: dc, name, tags: [...new Set(tags)].sort(byString), instances: [], pending };
}

export function toInstance(e: ServiceEntry): Instance {
  const checks = (e.Checks ?? []).map(toCheck).sort((a, b) => Number(b.nodeLevel) - Number(a.nodeLevel) || byString(a.id, b.id));
  const meta: Record<string, string> = {};
  for (const k of Object.keys(e.Service.Meta ?? {}).sort(byString)) meta[k] = e.Service.Meta![k]!;
  return {
    id: `${e.Node.Node}/${e.Service.ID}`,
    address: e.Service.Address || e.Node.Address,
    port: e.Service.Port,
    tags: [...(e.Service.Tags ?? [])].sort(byString),
    meta,
    node: e.Node.Node,
    health: aggregateHealth(checks),
    checks,
  };
}

export function toCheck(c: HealthCheck): Check {
  return {
    id: c.CheckID,
    name: c.Name,
    status: toHealth(c.Status),
    output: c.Output,
    type: c.CheckID === 'serfHealth' ? 'serf' : c.Type,
    nodeLevel: c.ServiceID === '',
  };
}

function toHealth(status: string): Health {
  return status === 'passing' || status === 'warning' || status === 'critical' ? status : 'unknown';
}
