/** Renders registry records in Consul 1.8's JSON shapes (field names and nulls as Consul sends them). */
import type { CheckRecord, KvRecord, ServiceRecord, SessionRecord } from './registryRecords';

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

/** A KV entry as JSON text (Flags is a uint64, written as its digits; Session only while locked). */
export function kvText(r: KvRecord): string {
  const value = r.Value ? JSON.stringify(Buffer.from(r.Value).toString('base64')) : 'null';
  const session = r.Session ? `,"Session":${JSON.stringify(r.Session)}` : '';
  return `{"LockIndex":${r.LockIndex},"Key":${JSON.stringify(r.Key)},"Flags":${/^\d+$/.test(r.Flags) ? r.Flags : '0'},"Value":${value}${session},"CreateIndex":${r.CreateIndex},"ModifyIndex":${r.ModifyIndex}}`;
}

export function sessionJson(s: SessionRecord) {
  return {
    ID: s.ID, Name: s.Name, Node: s.Node, LockDelay: s.LockDelayNs, Behavior: s.Behavior, TTL: s.TTL,
    NodeChecks: s.NodeChecks, ServiceChecks: s.ServiceChecks,
    ...(s.Checks && s.Checks.length ? { Checks: s.Checks } : {}),
    CreateIndex: s.CreateIndex, ModifyIndex: s.ModifyIndex,
  };
}

/** A service as /catalog/node/:node and /catalog/node-services/:node show it (Meta `{}`, not null). */
export function nodeServiceJson(s: ServiceRecord) {
  return { ...healthServiceJson(s), Meta: s.Meta };
}

export const CONSUL_VERSION = '1.8.7';

/** The agent's Serf member (it has no Serf: the port is the HTTP port, the tags a single-server dev agent's). */
export function memberJson(n: NodeInfo, port: number) {
  return {
    Name: n.name, Addr: n.address, Port: port,
    Tags: {
      acls: '0', build: `${CONSUL_VERSION}:`, dc: n.datacenter, ft_fs: '1', id: n.id, port: String(port), raft_vsn: '3', role: 'consul',
      segment: '', vsn: '2', vsn_max: '3', vsn_min: '2', wan_join_port: String(port),
    },
    Status: 1, ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
  };
}
