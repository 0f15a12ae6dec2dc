/**
 * Prometheus HTTP service discovery: `GET /api/prometheus/targets` answers the `http_sd_configs`
 * format with every instance of every source (Consul, Kubernetes, DNS, embedded), so one
 * Prometheus job discovers the whole fleet through Switchboard.
 *
 * Permission topology:read: the list is the topology, nothing more (give Prometheus a `viewer`
 * token). One group per instance, because its labels are per instance:
 *   source, scope, service, health, instance_id (the registry's instance id), subset (when the
 *   service's traffic policy puts the instance in one), and `__metrics_path__` from meta
 *   `metrics_path`. The target is `address:port`, the port being meta `metrics_port` (or
 *   `prometheus_port`) — or a `metrics_port=N` tag / pod label — when the instance serves
 *   metrics elsewhere.
 *
 * Sized for 150,000 instances (~20 MB of JSON): each service's groups are encoded once and kept
 * until the store reports a change to that service, so an answer after a check flip re-encodes
 * one service, not the fleet; the first encoding yields to the event loop every few thousand
 * instances; the answer is assembled once per topology revision and written in chunks with
 * backpressure instead of one giant JSON.stringify.
 */
import type { ServerResponse } from 'node:http';
import type { Instance, Service } from '../../../protocol/model';
import { drainId, inSubset } from '../../../protocol/traffic';
import type { TopologyStore } from '../../topology/topologyStore';
import type { Route } from '../router';
import { HttpError } from '../httpError';

/** Instance meta naming the port (and path) Prometheus should scrape, when not the service port. */
export const METRICS_PORT_META = ['metrics_port', 'prometheus_port'] as const;
export const METRICS_PATH_META = 'metrics_path';

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

export function prometheusRoutes(store: TopologyStore): Route[] {
  const targets = new TargetsCache(store);
  return [
    {
      method: 'GET',
      path: /^\/api\/prometheus\/targets$/,
      permission: 'topology:read',
      handler: async ({ res }) => {
        // Half a fleet would make Prometheus drop the other half's targets; an error keeps its last list.
        if (store.pendingCount > 0) {
          throw new HttpError('unavailable', `the instances of ${store.pendingCount} services are still being read from their registry; retry shortly`, { headers: { 'retry-after': '5' } });
        }
        const { chunks, bytes } = await targets.encoded();
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(bytes), 'cache-control': 'no-store' });
        await writeChunks(res, chunks);
      },
    },
  ];
}

/** Instances encoded between two yields to the event loop. */
const YIELD_EVERY = 2_000;

/**
 * The http_sd answer, kept per service and invalidated by the store's deltas (instance changes
 * by service id, and summary changes: header, policy, removal).
 */
export class TargetsCache {
  private readonly perService = new Map<string, Buffer>();
  private answer: { rev: number; chunks: Buffer[]; bytes: number } | null = null;
  private building: Promise<{ chunks: Buffer[]; bytes: number }> | null = null;

  constructor(private readonly store: TopologyStore) {
    store.subscribe((delta) => {
      for (const id of delta.services.keys()) this.perService.delete(id);
      for (const op of delta.summary) {
        if (op.op === 'summary.put') this.perService.delete(op.service.id);
        else if (op.op === 'summary.delete') this.perService.delete(op.serviceId);
      }
    });
  }

  /** The answer for the current revision, built (or rebuilt from the per-service cache) when needed. */
  async encoded(): Promise<{ chunks: Buffer[]; bytes: number }> {
    if (this.answer && this.answer.rev === this.store.rev) return this.answer;
    this.building ??= this.build().finally(() => (this.building = null));
    return this.building;
  }

  private async build(): Promise<{ chunks: Buffer[]; bytes: number }> {
    const rev = this.store.rev;
    // One buffer per service, kept: assembling the answer after a change is O(services), no copying.
    const chunks: Buffer[] = [OPEN];
    let bytes = 1;
    let sinceYield = 0;
    const ids = this.store.summarySnapshot().services.map((s) => s.id);
    for (const id of ids) {
      let encoded = this.perService.get(id);
      if (encoded === undefined) {
        const service = this.store.service(id);
        if (!service) continue;
        encoded = Buffer.from(serviceTargets(service).map((g) => JSON.stringify(g)).join(','));
        this.perService.set(id, encoded);
        sinceYield += service.instances.length;
        if (sinceYield >= YIELD_EVERY) {
          sinceYield = 0;
          await new Promise<void>((ok) => setImmediate(ok));
        }
      }
      if (encoded.length === 0) continue;
      if (chunks.length > 1) {
        chunks.push(COMMA);
        bytes++;
      }
      chunks.push(encoded);
      bytes += encoded.length;
    }
    chunks.push(CLOSE);
    bytes++;
    // A change while building (we yielded) is picked up by the next request: this answer is for `rev`.
    this.answer = { rev, chunks, bytes };
    return this.answer;
  }
}

/** The http_sd answer for the whole topology, as JSON chunks (one array). */
export async function encodeTargets(store: TopologyStore): Promise<{ chunks: Buffer[]; bytes: number }> {
  return new TargetsCache(store).encoded();
}

/** One service's target groups (one per instance with a usable address). */
export function serviceTargets(service: Service): { targets: string[]; labels: Record<string, string> }[] {
  const subsets = Object.entries(service.traffic?.subsets ?? {});
  return service.instances.flatMap((inst) => {
    const target = scrapeAddress(inst);
    if (!target) return [];
    const labels: Record<string, string> = {
      source: service.sourceId,
      scope: service.scope,
      service: service.name,
      health: inst.health,
      instance_id: drainId(inst.id),
    };
    const subset = subsets.find(([, s]) => inSubset(inst, s))?.[0];
    if (subset) labels.subset = subset;
    const path = inst.meta[METRICS_PATH_META];
    if (path && path.startsWith('/')) labels.__metrics_path__ = path;
    return [{ targets: [target], labels }];
  });
}

function scrapeAddress(inst: Instance): string | null {
  if (!inst.address) return null;
  let port = inst.port;
  // Meta first (Consul), then a `metrics_port=N` tag (a Consul tag, or a Kubernetes pod label).
  const tagged = (key: string) => inst.tags.find((t) => t.startsWith(`${key}=`))?.slice(key.length + 1);
  for (const key of METRICS_PORT_META) {
    const raw = inst.meta[key] ?? tagged(key);
    if (raw === undefined) continue;
    const n = Number(raw);
    if (Number.isInteger(n) && n > 0 && n < 65536) {
      port = n;
      break;
    }
  }
  if (!(port > 0 && port < 65536)) return null;
  return inst.address.includes(':') ? `[${inst.address}]:${port}` : `${inst.address}:${port}`;
}

async function writeChunks(res: ServerResponse, chunks: Buffer[]): Promise<void> {
  // Corked, so thousands of per-service buffers leave in a few writev calls.
  res.cork();
  for (const chunk of chunks) {
    if (res.destroyed) return;
    if (!res.write(chunk)) {
      res.uncork();
      await new Promise<void>((ok) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          ok();
        };
        res.on('drain', done);
        res.on('close', done);
      });
      res.cork();
    }
  }
  res.uncork();
  res.end();
}
