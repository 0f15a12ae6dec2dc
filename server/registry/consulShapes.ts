/** Renders registry records in Consul 1.8's JSON shapes (field names and nulls as Consul sends them). */
import type { CheckRecord, KvRecord, ServiceRecord } from './registryRecords';

export interface NodeInfo {
  id: string;
  name: string;
  address: string;
  datacenter: string;
}

export function nodeJson(n: NodeInfo) {
  return {
    ID: n.id,
    Node: n.name,
    Address: n.address,
    Datacenter: n.datacenter,
    TaggedAddresses: { lan: n.address, lan_ipv4: n.address, wan: n.address, wan_ipv4: n.address },
    Meta: { 'consul-network-segment': '' },
    CreateIndex: 1,
    ModifyIndex: 1,
  };
}

/** The node-level check every dev agent carries; it never fails here (one process, one node). */
export function serfCheckJson(n: NodeInfo) {
  return {
    Node: n.name, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Notes: '', Output: 'Agent alive and reachable',
    ServiceID: '', ServiceName: '', ServiceTags: [] as string[], Type: '', Definition: {}, CreateIndex: 1, ModifyIndex: 1,
  };
}

export function checkJson(n: NodeInfo, c: CheckRecord, services: ReadonlyMap<string, ServiceRecord>, indexes = true) {
  return {
    Node: n.name, CheckID: c.CheckID, Name: c.Name, Status: c.Status, Notes: c.Notes, Output: c.Output,
    ServiceID: c.ServiceID, ServiceName: c.ServiceName, ServiceTags: services.get(c.ServiceID)?.Tags ?? [],
    Type: c.definition.type, Definition: {},
    CreateIndex: indexes ? c.CreateIndex : 0, ModifyIndex: indexes ? c.ModifyIndex : 0,
  };
}

export function agentServiceJson(s: ServiceRecord) {
  return { ID: s.ID, Service: s.Service, Tags: s.Tags, Meta: s.Meta, Port: s.Port, Address: s.Address, Weights: s.Weights, EnableTagOverride: s.EnableTagOverride };
}

export function healthServiceJson(s: ServiceRecord) {
  return {
    ID: s.ID, Service: s.Service, Tags: s.Tags, Address: s.Address,
    // Consul's health endpoint says null for "no meta" where the catalog says {}.
    Meta: Object.keys(s.Meta).length ? s.Meta : null,
    Port: s.Port, Weights: s.Weights, EnableTagOverride: s.EnableTagOverride,
    Proxy: { MeshGateway: {}, Expose: {} }, Connect: {}, CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
  };
}

export function catalogServiceJson(n: NodeInfo, s: ServiceRecord) {
  const node = nodeJson(n);
  return {
    ID: node.ID, Node: node.Node, Address: node.Address, Datacenter: node.Datacenter, TaggedAddresses: node.TaggedAddresses, NodeMeta: node.Meta,
    ServiceKind: '', ServiceID: s.ID, ServiceName: s.Service, ServiceTags: s.Tags, ServiceAddress: s.Address, ServiceWeights: s.Weights,
    ServiceMeta: s.Meta, ServicePort: s.Port, ServiceEnableTagOverride: s.EnableTagOverride,
    ServiceProxy: { MeshGateway: {}, Expose: {} }, ServiceConnect: {}, CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
  };
}

export function kvJson(r: KvRecord) {
  return { LockIndex: 0, Key: r.Key, Flags: r.Flags, Value: r.Value ? Buffer.from(r.Value).toString('base64') : null, CreateIndex: r.CreateIndex, ModifyIndex: r.ModifyIndex };
}
