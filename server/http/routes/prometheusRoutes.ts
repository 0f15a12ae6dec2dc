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
 *   `prometheus_port`) when the instance serves metrics elsewhere.
 *
 * Sized for 150,000 instances: encoded once per topology revision (Prometheus refreshes every
 * few seconds; the fleet changes less often), one service at a time, and written in chunks with
 * backpressure instead of one giant JSON.stringify.
 */
import type { ServerResponse } from 'node:http';
import type { Instance, Service } from '../../../protocol/model';
import { drainId, inSubset } from '../../../protocol/traffic';
import type { TopologyStore } from '../../topology/topologyStore';
import type { Route } from '../router';

/** Instance meta naming the port (and path) Prometheus should scrape, when not the service port. */
export const METRICS_PORT_META = ['metrics_port', 'prometheus_port'] as const;
export const METRICS_PATH_META = 'metrics_path';

const CHUNK_BYTES = 256 * 1024;

export function prometheusRoutes(store: TopologyStore): Route[] {
  let cache: { rev: number; chunks: Buffer[]; bytes: number } | null = null;
  return [
    {
      method: 'GET',
      path: /^\/api\/prometheus\/targets$/,
      permission: 'topology:read',
      handler: async ({ res }) => {
        if (!cache || cache.rev !== store.rev) cache = { rev: store.rev, ...encodeTargets(store) };
        const { chunks, bytes } = cache;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(bytes), 'cache-control': 'no-store' });
        await writeChunks(res, chunks);
      },
    },
  ];
}

/** The http_sd answer for the whole topology, as JSON chunks (one array). */
export function encodeTargets(store: TopologyStore): { chunks: Buffer[]; bytes: number } {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let part = '[';
  let first = true;
  for (const summary of store.summarySnapshot().services) {
    const service = store.service(summary.id);
    if (!service) continue;
    for (const group of serviceTargets(service)) {
      part += (first ? '' : ',') + JSON.stringify(group);
      first = false;
      if (part.length >= CHUNK_BYTES) {
        const b = Buffer.from(part);
        chunks.push(b);
        bytes += b.length;
        part = '';
      }
    }
  }
  const b = Buffer.from(`${part}]`);
  chunks.push(b);
  bytes += b.length;
  return { chunks, bytes };
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
  for (const key of METRICS_PORT_META) {
    const raw = inst.meta[key];
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
  for (const chunk of chunks) {
    if (res.destroyed) return;
    if (!res.write(chunk)) {
      await new Promise<void>((ok) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          ok();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
}
