/** Liveness, readiness and Prometheus metrics: public, for probes and scrapers. */
import { HealthzResponse, ReadyzResponse } from '../../../protocol/api';
import type { Metrics } from '../../metrics';
import type { TopologyStore } from '../../topology/topologyStore';
import { reply, type Route } from '../router';

export function probeRoutes(deps: { store: TopologyStore; metrics: Metrics; extraReady?: () => boolean }): Route[] {
  const { store, metrics } = deps;
  return [
    { method: 'GET', path: /^\/healthz$/, permission: null, handler: ({ res }) => reply(res, 200, HealthzResponse, { status: 'ok' }) },
    {
      method: 'GET',
      path: /^\/readyz$/,
      permission: null,
      handler: ({ res }) => {
        const pending = store.sources().filter((s) => s.state === 'syncing').map((s) => s.id);
        const ready = pending.length === 0 && (deps.extraReady?.() ?? true);
        reply(res, ready ? 200 : 503, ReadyzResponse, ready ? { status: 'ready' } : { status: 'not ready', waitingFor: pending });
      },
    },
    {
      method: 'GET',
      path: /^\/metrics$/,
      permission: null,
      handler: async ({ res }) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
    },
  ];
}
