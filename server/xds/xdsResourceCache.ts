/**
 * Every xDS resource Switchboard serves, encoded once, with a version per resource type.
 * `update(serviceIds)` recomputes only those services (plus the services sharing a name with
 * one that appeared or vanished, since a bare listener name exists only while it is unique) and
 * reports which resource names changed, so pushes cost O(changed services), not O(fleet).
 * A resource whose encoding did not change keeps its version and is not reported.
 */
import type { Service } from '../../protocol/model';
import { XDS_TYPE_URLS, XdsResourceType } from '../../protocol/xds';
import { packAny, type AnyMessage } from './xdsProtos';
import { serviceResources, type ServiceResources } from './xdsResources';

export interface CachedResource {
  type: XdsResourceType;
  name: string;
  serviceId: string;
  any: AnyMessage;
}

export type XdsChanges = Record<XdsResourceType, Set<string>>;

/** What the cache reads of the topology (TopologyStore fits). */
export interface XdsTopology {
  service(id: string): Service | undefined;
}

const TYPES = XdsResourceType.options;

export function emptyChanges(): XdsChanges {
  return { listener: new Set(), route: new Set(), cluster: new Set(), endpoint: new Set() };
}

export class XdsResourceCache {
  private readonly resources: Record<XdsResourceType, Map<string, CachedResource>> = { listener: new Map(), route: new Map(), cluster: new Map(), endpoint: new Map() };
  private readonly versions: Record<XdsResourceType, number> = { listener: 0, route: 0, cluster: 0, endpoint: 0 };
  private readonly byService = new Map<string, { name: string; view: ServiceResources; names: [XdsResourceType, string][] }>();
  private readonly byName = new Map<string, Set<string>>();
  /** Services whose resources could not be encoded, with why (shown, never thrown at a stream). */
  readonly errors = new Map<string, string>();

  constructor(private readonly topology: XdsTopology) {}

  version(type: XdsResourceType): string {
    return String(this.versions[type]);
  }

  versionsView(): Record<XdsResourceType, string> {
    return { listener: this.version('listener'), route: this.version('route'), cluster: this.version('cluster'), endpoint: this.version('endpoint') };
  }

  get(type: XdsResourceType, name: string): CachedResource | undefined {
    return this.resources[type].get(name);
  }

  all(type: XdsResourceType): IterableIterator<CachedResource> {
    return this.resources[type].values();
  }

  count(type: XdsResourceType): number {
    return this.resources[type].size;
  }

  /** What is served for one service (for the Mesh view). */
  serviceView(id: string): ServiceResources | undefined {
    return this.byService.get(id)?.view;
  }

  /** Recomputes `ids` (services that changed, appeared or vanished); returns the changed names per type. */
  update(ids: Iterable<string>): XdsChanges {
    const changes = emptyChanges();
    const todo = new Set<string>();
    for (const id of ids) {
      todo.add(id);
      const before = this.byService.get(id)?.name;
      const after = this.topology.service(id)?.name;
      if (before === after) continue;
      // Appeared, vanished or renamed: the services sharing either name may gain or lose the bare listener.
      if (before !== undefined) this.unindex(before, id);
      if (after !== undefined) this.index(after, id);
      for (const n of [before, after]) if (n !== undefined) for (const other of this.byName.get(n) ?? []) todo.add(other);
    }
    for (const id of todo) this.recompute(id, changes);
    for (const t of TYPES) if (changes[t].size > 0) this.versions[t] += 1;
    return changes;
  }

  /**
   * Services a requested resource name may belong to whose instances are not read yet
   * (see ServiceHeader.pending): the server asks for them, then serves them once read.
   */
  pendingServicesFor(type: XdsResourceType, name: string): string[] {
    if (this.resources[type].has(name)) return [];
    const candidates = new Set<string>();
    if (type === 'listener') {
      for (const id of this.byName.get(name) ?? []) candidates.add(id);
      // `<name>.<scope>.<source>`, any of them possibly dotted: every split.
      const parts = name.split('.');
      for (let i = 1; i < parts.length - 1 && i < 16; i++) {
        for (let j = i + 1; j < parts.length && j < 17; j++) candidates.add(`${parts.slice(j).join('.')}/${parts.slice(i, j).join('.')}/${parts.slice(0, i).join('.')}`);
      }
    } else {
      // Routes and clusters are named by the service id (`#subset` for a subset's cluster).
      const hash = name.indexOf('#');
      candidates.add(hash < 0 ? name : name.slice(0, hash));
    }
    return [...candidates].filter((id) => this.topology.service(id)?.pending !== undefined);
  }

  private recompute(id: string, changes: XdsChanges): void {
    const service = this.topology.service(id);
    // Listed without instances yet: serving it now would send data planes zero endpoints.
    if (service?.pending) return;
    const prev = this.byService.get(id);
    const produced = new Set<string>();
    if (service) {
      const view = serviceResources(service, (this.byName.get(service.name)?.size ?? 0) <= 1);
      const names: [XdsResourceType, string][] = [];
      try {
        const encoded = view.resources.map((r) => ({ r, any: packAny(XDS_TYPE_URLS[r.type], packNested(r.message)) }));
        this.errors.delete(id);
        for (const { r, any } of encoded) {
          names.push([r.type, r.name]);
          produced.add(`${r.type}\0${r.name}`);
          const old = this.resources[r.type].get(r.name);
          if (old && old.serviceId !== id && this.topology.service(old.serviceId)) continue; // first owner keeps a clashing name
          if (old && Buffer.compare(old.any.value, any.value) === 0 && old.serviceId === id) continue;
          this.resources[r.type].set(r.name, { type: r.type, name: r.name, serviceId: id, any });
          changes[r.type].add(r.name);
        }
        this.byService.set(id, { name: service.name, view, names });
      } catch (err) {
        // Keep serving what was last good for this service; the Mesh view shows why.
        this.errors.set(id, (err as Error).message);
        return;
      }
    } else {
      this.byService.delete(id);
      this.errors.delete(id);
    }
    for (const [type, name] of prev?.names ?? []) {
      if (produced.has(`${type}\0${name}`)) continue;
      if (this.resources[type].get(name)?.serviceId !== id) continue;
      this.resources[type].delete(name);
      changes[type].add(name);
    }
  }

  private index(name: string, id: string): void {
    let ids = this.byName.get(name);
    if (!ids) this.byName.set(name, (ids = new Set()));
    ids.add(id);
  }

  private unindex(name: string, id: string): void {
    const ids = this.byName.get(name);
    ids?.delete(id);
    if (ids?.size === 0) this.byName.delete(name);
  }
}

/** `{ '@any': typeUrl, ...fields }` anywhere in a message → an encoded google.protobuf.Any. */
function packNested(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = packValue(v);
  return out;
}

function packValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(packValue);
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  const o = v as Record<string, unknown>;
  if (typeof o['@any'] === 'string') {
    const { '@any': typeUrl, ...fields } = o;
    return packAny(typeUrl as string, packNested(fields));
  }
  return packNested(o);
}
