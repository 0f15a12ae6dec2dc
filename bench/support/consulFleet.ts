/**
 * A synthetic Consul fleet for benches and scale tests: N services × M instances spread over
 * K catalog nodes, loaded straight into the catalog through `/v1/txn` (at most 64 ops per
 * transaction, the 1.8.7 limit), every instance with one check whose Status is `passing`.
 * Catalog-registered nodes are external to the agent, so anti-entropy never touches them and
 * no TTL ever expires.
 *
 * Naming (deterministic, so callers can address any instance without a lookup):
 * - node `k` (0-based):        `fleet-node-<k>`, address `10.<k>>8>.<k&255>.1`
 * - service `s`:               `svc-<s>`
 * - instance `i` of service s: ID `svc-<s>-<i>` on node `fleet-node-<(s·M + i) mod K>`,
 *                              port 20000+i, tags `[blue|green, v1]`, Meta `{ zone, build }`
 * - its check:                 CheckID `svc-<s>-<i>:check`, Name `app health`
 *
 * @example
 *   const fleet = await loadConsulFleet(agent.httpAddr, { services: 10_000, instances: 15, nodes: 500 });
 *   const { node, checkId } = fleet.instance(42, 3);
 *   await fleet.flipCheck(node, checkId, 'critical', 'connection refused');
 */

export interface FleetShape {
  services: number;
  /** Instances per service. */
  instances: number;
  nodes: number;
  /** Parallel transactions while loading. @default 8 */
  concurrency?: number;
  /** Services are named `<prefix><s>`. @default 'svc-' */
  prefix?: string;
  /** Sent as X-Consul-Token. @default none */
  token?: string;
}

export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface InstanceRef {
  service: string;
  serviceId: string;
  node: string;
  checkId: string;
}

export interface ConsulFleet {
  readonly shape: Required<Omit<FleetShape, 'token'>>;
  /** Milliseconds the load took. */
  readonly loadMs: number;
  /** Where instance `i` of service `s` lives. */
  instance(s: number, i: number): InstanceRef;
  /** Sets one check's status (and output) with a single catalog transaction. */
  flipCheck(node: string, checkId: string, status: CheckStatus, output?: string): Promise<void>;
  /** Registers (or re-registers) one instance with a passing check: `port` defaults to the loader's. */
  registerInstance(s: number, i: number, extra?: { port?: number; tags?: string[] }): Promise<void>;
  /** Removes one instance (its service entry and check) from the catalog. */
  deregisterInstance(s: number, i: number): Promise<void>;
  /** Runs raw `/v1/txn` operations (≤ 64). */
  txn(ops: unknown[]): Promise<void>;
}

const TXN_MAX_OPS = 64;

export async function loadConsulFleet(httpAddr: string, shape: FleetShape): Promise<ConsulFleet> {
  const full = { concurrency: 8, prefix: 'svc-', ...shape };
  const { services, instances, nodes, prefix } = full;
  const headers: Record<string, string> = shape.token ? { 'X-Consul-Token': shape.token } : {};

  const nodeName = (k: number) => `fleet-node-${k}`;
  const nodeAddr = (k: number) => `10.${(k >> 8) & 255}.${k & 255}.1`;
  const ref = (s: number, i: number): InstanceRef => {
    const service = `${prefix}${s}`;
    const serviceId = `${service}-${i}`;
    return { service, serviceId, node: nodeName((s * instances + i) % nodes), checkId: `${serviceId}:check` };
  };
  const serviceOp = (s: number, i: number, extra: { port?: number; tags?: string[] } = {}) => {
    const r = ref(s, i);
    return {
      Service: {
        Verb: 'set',
        Node: r.node,
        Service: {
          ID: r.serviceId, Service: r.service, Port: extra.port ?? 20000 + i,
          Tags: extra.tags ?? [i % 2 ? 'blue' : 'green', 'v1'], Meta: { zone: `z${i % 3}`, build: `b${s % 7}` },
        },
      },
    };
  };
  const checkOp = (s: number, i: number, status: CheckStatus, output = '') => {
    const r = ref(s, i);
    return {
      Check: {
        Verb: 'set',
        Check: { Node: r.node, CheckID: r.checkId, Name: 'app health', Status: status, Output: output, ServiceID: r.serviceId, ServiceName: r.service },
      },
    };
  };

  async function txn(ops: unknown[]): Promise<void> {
    const r = await fetch(`${httpAddr}/v1/txn`, { method: 'PUT', headers, body: JSON.stringify(ops) });
    if (!r.ok) throw new Error(`PUT /v1/txn → ${r.status}: ${(await r.text()).slice(0, 500)}`);
    await r.arrayBuffer();
  }

  async function run(batches: Iterable<unknown[]>): Promise<void> {
    const it = batches[Symbol.iterator]();
    await Promise.all(Array.from({ length: full.concurrency }, async () => {
      for (let n = it.next(); !n.done; n = it.next()) await txn(n.value);
    }));
  }

  function* chunks(ops: Iterable<unknown>): Generator<unknown[]> {
    let batch: unknown[] = [];
    for (const op of ops) {
      batch.push(op);
      if (batch.length === TXN_MAX_OPS) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }

  const t0 = performance.now();
  await run(chunks((function* () {
    for (let k = 0; k < nodes; k++) yield { Node: { Verb: 'set', Node: { Node: nodeName(k), Address: nodeAddr(k), Meta: { rack: `r${k % 10}` } } } };
  })()));
  // Service and check of one instance travel in the same transaction (the check needs its service).
  await run(chunks((function* () {
    for (let s = 0; s < services; s++) {
      for (let i = 0; i < instances; i++) {
        yield serviceOp(s, i);
        yield checkOp(s, i, 'passing');
      }
    }
  })()));
  const loadMs = performance.now() - t0;

  return {
    shape: full,
    loadMs,
    instance: ref,
    txn,
    async flipCheck(node, checkId, status, output = '') {
      const serviceId = checkId.endsWith(':check') ? checkId.slice(0, -':check'.length) : '';
      const service = serviceId.replace(/-\d+$/, '');
      await txn([{ Check: { Verb: 'set', Check: { Node: node, CheckID: checkId, Name: 'app health', Status: status, Output: output, ServiceID: serviceId, ServiceName: service } } }]);
    },
    async registerInstance(s, i, extra) {
      await txn([serviceOp(s, i, extra), checkOp(s, i, 'passing')]);
    },
    async deregisterInstance(s, i) {
      const r = ref(s, i);
      await txn([{ Service: { Verb: 'delete', Node: r.node, Service: { ID: r.serviceId } } }]);
    },
  };
}
