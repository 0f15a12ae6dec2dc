/**
 * The graph's lookups into the topology store. SDK reports name services and instances the way
 * clients know them (a service name, a registry instance id such as `payment-2`); the graph needs
 * service ids and subsets. Answers are cached until the store's revision moves, and only the
 * services that actually appear in reports are ever materialized: O(callees), not O(fleet).
 */
import type { Service } from '../../protocol/model';
import { drainId, inSubset } from '../../protocol/traffic';
import type { TopologyStore } from '../topology/topologyStore';
import type { ServiceDirectory } from './serviceGraph';

interface NameEntry {
  services: Service[];
  /** Registry instance id → service id and subset. */
  instances: Map<string, { serviceId: string; subset: string | null }>;
}

export class StoreDirectory implements ServiceDirectory {
  private rev = -1;
  private readonly names = new Map<string, NameEntry>();
  private readonly callers = new Map<string, string | null>();

  constructor(private readonly store: TopologyStore) {}

  callee(name: string, instanceId: string): { serviceId: string; subset: string | null } | null {
    const entry = this.byName(name);
    if (entry.services.length === 0) return null;
    return entry.instances.get(instanceId) ?? { serviceId: entry.services[0]!.id, subset: null };
  }

  caller(caller: string): string | null {
    this.sync();
    const known = this.callers.get(caller);
    if (known !== undefined) return known;
    let found: string | null = this.byName(caller).services[0]?.id ?? null;
    // Clients often name themselves after their instance ("order-1"): try the names it starts with.
    for (let cut = caller.search(/[-.][^-.]*$/); found === null && cut > 0; cut = caller.slice(0, cut).search(/[-.][^-.]*$/)) {
      found = this.byName(caller.slice(0, cut)).instances.get(caller)?.serviceId ?? null;
    }
    this.callers.set(caller, found);
    return found;
  }

  breakerClients(serviceId: string): number {
    let n = 0;
    for (const i of this.store.service(serviceId)?.instances ?? []) n += i.breaker?.open ?? 0;
    return n;
  }

  private sync(): void {
    if (this.rev === this.store.rev) return;
    this.rev = this.store.rev;
    this.names.clear();
    this.callers.clear();
  }

  private byName(name: string): NameEntry {
    this.sync();
    let entry = this.names.get(name);
    if (entry) return entry;
    const services = this.store.servicesNamed(name).sort((a, b) => (a.id < b.id ? -1 : 1));
    const instances = new Map<string, { serviceId: string; subset: string | null }>();
    for (const svc of services) {
      const subsets = Object.entries(svc.traffic?.subsets ?? {});
      for (const inst of svc.instances) {
        const id = drainId(inst.id);
        if (instances.has(id)) continue;
        const subset = subsets.find(([, s]) => inSubset(inst, s))?.[0] ?? null;
        instances.set(id, { serviceId: svc.id, subset });
      }
    }
    this.names.set(name, (entry = { services, instances }));
    return entry;
  }
}
