/**
 * The read endpoints' bodies, built from the state's secondary indexes and cached JSON
 * fragments so that each costs O(what it shows): one service's answer touches only that
 * service's instances and checks, the non-passing check lists only the non-passing checks.
 * Lists of the whole fleet (/catalog/services, /health/state/any, /internal/ui/services) join
 * per-record fragments that are re-rendered only when their record changed.
 */
import { catalogServiceJson, checkJson, healthServiceJson, nodeJson, nodeServiceJson, serfCheckJson, type NodeInfo } from './consulShapes';
import type { FilteredBlocks } from './fragmentList';
import type { CheckRecord, CheckStatus, ServiceRecord } from './registryRecords';

/** A record as a `?filter=` sees it (Consul's Go field names). */
export type Pred = (record: unknown) => boolean;
import type { RegistryState } from './registryState';

export const ALL_STATUSES: readonly CheckStatus[] = ['passing', 'warning', 'critical'];
/** Bytes of filtered per-block encodings kept for `?filter=` watchers (they are mostly the bodies those watchers are sent anyway). */
const FILTERED_BYTES = 64 * 1024 * 1024;

export class RegistryViews {
  private readonly nodeText: string;
  private readonly serfText: string;

  constructor(
    private readonly state: RegistryState,
    private readonly node: NodeInfo,
  ) {
    this.nodeText = JSON.stringify(nodeJson(node));
    this.serfText = JSON.stringify(serfCheckJson(node));
  }

  private check(c: CheckRecord): string {
    const cache = this.state.fragments.check;
    let s = cache.get(c.CheckID);
    if (s === undefined) cache.set(c.CheckID, (s = JSON.stringify(checkJson(this.node, c, this.state.services))));
    return s;
  }

  /** `/v1/catalog/services`: `{name: [tags…]}`; rebuilt only when a name or a tag set changed. */
  catalogServices(): Buffer[] {
    return this.state.fragments.catalogName.encode('{', '}', (name) => `${JSON.stringify(name)}:${JSON.stringify([...this.state.names.get(name)!.tags.keys()])}`);
  }

  /** `/v1/catalog/service/:name`, O(that service). */
  catalogService(name: string, tags: string[], filter?: Pred): string {
    const node = this.projectNode();
    return JSON.stringify(
      this.state
        .instancesOf(name)
        .filter((s) => tags.every((t) => s.Tags.includes(t)))
        .filter((s) => !filter || filter(projectServiceNode(node, this.projectService(s))))
        .map((s) => catalogServiceJson(this.node, s)),
    );
  }

  // ---- what `?filter=` sees ----

  projectNode() {
    return { ID: this.node.id, Node: this.node.name, Address: this.node.address, Datacenter: this.node.datacenter, TaggedAddresses: nodeJson(this.node).TaggedAddresses, Meta: { 'consul-network-segment': '' } };
  }

  projectService(s: ServiceRecord) {
    return {
      Kind: '', ID: s.ID, Service: s.Service, Tags: s.Tags, Address: s.Address, TaggedAddresses: {}, Meta: s.Meta, Port: s.Port, Weights: s.Weights,
      EnableTagOverride: s.EnableTagOverride, Proxy: { MeshGateway: { Mode: '' }, Expose: { Checks: false, Paths: [] }, Upstreams: [], DestinationServiceName: '', DestinationServiceID: '', LocalServiceAddress: '', LocalServicePort: 0 },
      Connect: { Native: false },
    };
  }

  projectCheck(c: CheckRecord) {
    return { Node: this.node.name, CheckID: c.CheckID, Name: c.Name, Status: c.Status, Notes: c.Notes, Output: c.Output, ServiceID: c.ServiceID, ServiceName: c.ServiceName, ServiceTags: this.state.services.get(c.ServiceID)?.Tags ?? [], Type: c.definition.type };
  }

  projectSerf() {
    const j = serfCheckJson(this.node);
    return { Node: j.Node, CheckID: j.CheckID, Name: j.Name, Status: j.Status, Notes: j.Notes, Output: j.Output, ServiceID: '', ServiceName: '', ServiceTags: [], Type: '' };
  }

  /**
   * Every check (serfHealth first, then in creation order) in `statuses` that passes the filter.
   * With a `cacheKey` (naming the filter and the statuses), the filter is evaluated again only on
   * the checks of blocks that changed since the last call with that key: O(change) after the
   * first; without one, O(all checks).
   */
  filteredChecks(filter: Pred, statuses: ReadonlySet<CheckStatus> = new Set(ALL_STATUSES), cacheKey?: string): string | Buffer[] {
    const serf = statuses.has('passing') && filter(this.projectSerf());
    if (cacheKey !== undefined) {
      const keep = (id: string) => {
        const c = this.state.checks.get(id)!;
        return statuses.has(c.Status) && filter(this.projectCheck(c));
      };
      return this.withFilteredBlocks(`checks:${cacheKey}`, (blocks) => this.state.fragments.check.encodeFiltered(serf ? `[${this.serfText}` : '[', ']', blocks, keep, (id) => this.check(this.state.checks.get(id)!), serf));
    }
    const parts: string[] = [];
    if (serf) parts.push(this.serfText);
    for (const c of this.state.checks.values()) if (statuses.has(c.Status) && filter(this.projectCheck(c))) parts.push(this.check(c));
    return `[${parts.join(',')}]`;
  }

  /** Per-block filtered bytes of the lists that `?filter=` watchers follow, by filter, least recently used first. */
  private readonly filtered = new Map<string, { blocks: FilteredBlocks; bytes: number }>();

  /** Encodes with the per-block cache of `key`, keeping the caches within FILTERED_BYTES (the one in use always stays). */
  private withFilteredBlocks(key: string, encode: (blocks: FilteredBlocks) => Buffer[]): Buffer[] {
    const entry = this.filtered.get(key) ?? { blocks: new WeakMap(), bytes: 0 };
    this.filtered.delete(key);
    const parts = encode(entry.blocks);
    entry.bytes = parts.reduce((n, p) => n + p.length, 0);
    this.filtered.set(key, entry);
    let total = 0;
    for (const e of this.filtered.values()) total += e.bytes;
    for (const [k, e] of this.filtered) {
      if (total <= FILTERED_BYTES || k === key) break;
      this.filtered.delete(k);
      total -= e.bytes;
    }
    return parts;
  }

  /** `/v1/health/service/:name`, O(that service); `passing`: only instances whose every check passes. */
  healthService(name: string, tags: string[], passing: boolean, filter?: Pred): string {
    const cache = this.state.fragments.entry;
    const parts: string[] = [];
    for (const s of this.state.instancesOf(name)) {
      if (!tags.every((t) => s.Tags.includes(t))) continue;
      if (passing && !this.state.instancePassing(s.ID)) continue;
      if (filter && !filter({ Node: this.projectNode(), Service: this.projectService(s), Checks: [this.projectSerf(), ...this.state.checksOfService(s.ID).map((c) => this.projectCheck(c))] })) continue;
      let entry = cache.get(s.ID);
      if (entry === undefined) {
        const checks = [this.serfText, ...this.state.checksOfService(s.ID).map((c) => this.check(c))];
        entry = `{"Node":${this.nodeText},"Service":${JSON.stringify(healthServiceJson(s))},"Checks":[${checks.join(',')}]}`;
        cache.set(s.ID, entry);
      }
      parts.push(entry);
    }
    return `[${parts.join(',')}]`;
  }

  /** `/v1/health/checks/:name`, O(that service). */
  healthChecks(name: string, filter?: Pred): string {
    const parts: string[] = [];
    for (const s of this.state.instancesOf(name)) for (const c of this.state.checksOfService(s.ID)) if (!filter || filter(this.projectCheck(c))) parts.push(this.check(c));
    return `[${parts.join(',')}]`;
  }

  /** `/v1/health/state/*`: O(non-passing) when only warning/critical are wanted, O(all checks) otherwise. */
  healthState(statuses: ReadonlySet<CheckStatus>): string | Buffer[] {
    const parts: string[] = [];
    if (statuses.size === ALL_STATUSES.length) {
      // Every check: unchanged blocks of the encoded list are reused.
      return this.state.fragments.check.encode(`[${this.serfText}`, ']', (id) => JSON.stringify(checkJson(this.node, this.state.checks.get(id)!, this.state.services)), true);
    }
    if (statuses.has('passing')) {
      parts.push(this.serfText);
      for (const c of this.state.checks.values()) if (statuses.has(c.Status)) parts.push(this.check(c));
    } else {
      for (const status of ['critical', 'warning'] as const) {
        if (!statuses.has(status)) continue;
        for (const id of this.state.nonPassing[status]) parts.push(this.check(this.state.checks.get(id)!));
      }
    }
    return `[${parts.join(',')}]`;
  }

  /** `/v1/catalog/nodes`: the one node. */
  catalogNodes(): string {
    return `[${this.nodeText}]`;
  }

  /** `/v1/catalog/node-services/:node?filter=`: like `filteredChecks`, O(change) with a `cacheKey`, O(instances) without. */
  nodeServicesFiltered(filter: Pred, cacheKey?: string): string | Buffer[] {
    const open = `{"Node":${this.nodeText},"Services":[`;
    const render = (id: string) => JSON.stringify(nodeServiceJson(this.state.services.get(id)!));
    if (cacheKey !== undefined) return this.withFilteredBlocks(`services:${cacheKey}`, (blocks) => this.state.fragments.nodeServiceList.encodeFiltered(open, ']}', blocks, (id) => filter(this.projectService(this.state.services.get(id)!)), render));
    const parts: string[] = [];
    for (const s of this.state.services.values()) if (filter(this.projectService(s))) parts.push(JSON.stringify(nodeServiceJson(s)));
    return `${open}${parts.join(',')}]}`;
  }

  /** `/v1/catalog/node/:node`: the node and every instance by id; re-encodes only blocks whose services changed. */
  catalogNode(): Buffer[] {
    const list = this.state.fragments.nodeServiceMap;
    return list.encode(`{"Node":${this.nodeText},"Services":{`, '}}', (id) => `${JSON.stringify(id)}:${JSON.stringify(nodeServiceJson(this.state.services.get(id)!))}`);
  }

  /** `/v1/catalog/node-services/:node`: the node and its instances as a list. */
  nodeServices(): Buffer[] {
    const list = this.state.fragments.nodeServiceList;
    return list.encode(`{"Node":${this.nodeText},"Services":[`, ']}', (id) => JSON.stringify(nodeServiceJson(this.state.services.get(id)!)));
  }

  /** `/v1/internal/ui/services` in Consul 1.8.7's shape (node checks counted once per instance, as it does). */
  uiServices(): Buffer[] {
    return this.state.fragments.uiName.encode('[', ']', (name) => {
      const e = this.state.names.get(name)!;
      const tags = [...e.tags.keys()];
      return JSON.stringify({
        Name: e.name,
        Tags: tags.length ? tags : null,
        Nodes: Array.from({ length: e.ids.size }, () => this.node.name),
        InstanceCount: e.ids.size,
        ChecksPassing: e.counts.passing + e.ids.size,
        ChecksWarning: e.counts.warning,
        ChecksCritical: e.counts.critical,
        ExternalSources: null,
        GatewayConfig: {},
      });
    });
  }
}

/** A catalog entry as `?filter=` sees it. */
function projectServiceNode(node: ReturnType<RegistryViews['projectNode']>, s: ReturnType<RegistryViews['projectService']>) {
  return {
    ID: node.ID, Node: node.Node, Address: node.Address, Datacenter: node.Datacenter, TaggedAddresses: node.TaggedAddresses, NodeMeta: node.Meta,
    ServiceKind: s.Kind, ServiceID: s.ID, ServiceName: s.Service, ServiceTags: s.Tags, ServiceAddress: s.Address, ServiceTaggedAddresses: s.TaggedAddresses,
    ServiceMeta: s.Meta, ServicePort: s.Port, ServiceWeights: s.Weights, ServiceEnableTagOverride: s.EnableTagOverride, ServiceProxy: s.Proxy, ServiceConnect: s.Connect,
  };
}

/**
 * The `?filter=` expressions the embedded registry evaluates: comparisons of `Status` with
 * `==`/`!=` against a quoted string, joined with `and`/`or`/`not` and parentheses. Returns the
 * statuses that match; anything else throws with what was not understood.
 */
export function statusFilter(expr: string): Set<CheckStatus> {
  const tokens = expr.match(/"(?:[^"\\]|\\.)*"|`[^`]*`|==|!=|\(|\)|[^\s()"`=!]+|\S/g) ?? [];
  let pos = 0;
  const unsupported = (what: string) => new FilterError(`the embedded registry filters only on Status (Status == "critical", Status != "passing", joined with and/or/not); unsupported: ${what}`);
  type Pred = (s: CheckStatus) => boolean;
  const peek = () => tokens[pos];
  function primary(): Pred {
    const t = tokens[pos++];
    if (t === undefined) throw unsupported('an empty expression');
    if (t === '(') {
      const inner = or();
      if (tokens[pos++] !== ')') throw unsupported('unbalanced parentheses');
      return inner;
    }
    if (t.toLowerCase() === 'not') {
      const inner = primary();
      return (s) => !inner(s);
    }
    if (t !== 'Status') throw unsupported(`selector ${JSON.stringify(t)}`);
    const op = tokens[pos++];
    if (op !== '==' && op !== '!=') throw unsupported(`operator ${JSON.stringify(op ?? '')}`);
    const raw = tokens[pos++];
    if (!raw || !/^(".*"|`.*`)$/s.test(raw)) throw unsupported(`value ${JSON.stringify(raw ?? '')} (quote it)`);
    let value: string;
    try {
      value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
    } catch {
      throw unsupported(`value ${raw}`);
    }
    return op === '==' ? (s) => s === value : (s) => s !== value;
  }
  function and(): Pred {
    let left = primary();
    while (peek()?.toLowerCase() === 'and') {
      pos++;
      const l = left;
      const r = primary();
      left = (s) => l(s) && r(s);
    }
    return left;
  }
  function or(): Pred {
    let left = and();
    while (peek()?.toLowerCase() === 'or') {
      pos++;
      const l = left;
      const r = and();
      left = (s) => l(s) || r(s);
    }
    return left;
  }
  const pred = or();
  if (pos < tokens.length) throw unsupported(JSON.stringify(tokens.slice(pos).join(' ')));
  return new Set(ALL_STATUSES.filter(pred));
}

export class FilterError extends Error {}
