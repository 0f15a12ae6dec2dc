/** SDK clients report here (permission telemetry:write, Bearer only); the dashboard reads the series back. */
import { ServiceTelemetry, TelemetryReport } from '../../../protocol/api';
import { serviceId } from '../../../protocol/model';
import { drainId } from '../../../protocol/traffic';
import type { TelemetryStore } from '../../telemetry/telemetryStore';
import type { TopologyStore } from '../../topology/topologyStore';
import { readJson } from '../bodyReader';
import { HttpError } from '../httpError';
import { reply, type Route } from '../router';
import { SERVICE_PATH } from './topologyRoutes';

export function telemetryRoutes(deps: { telemetry: TelemetryStore; store: TopologyStore; bodyBytes: number; now: () => number; callGraph?: { ingest(report: TelemetryReport, now: number): void } }): Route[] {
  const { telemetry, store, now } = deps;
  return [
    {
      method: 'POST',
      path: /^\/api\/telemetry$/,
      permission: 'telemetry:write',
      // Reports come from services, never from a page: no cookie or anonymous caller can paint breakers.
      bearerOnly: true,
      handler: async ({ req, res }) => {
        const report = await readJson(req, TelemetryReport, { limit: deps.bodyBytes });
        telemetry.ingest(report, now());
        deps.callGraph?.ingest(report, now());
        store.setBreakers(report.service, telemetry.breakerViews(report.service));
        res.writeHead(204).end();
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^${SERVICE_PATH}\\/telemetry$`),
      permission: 'topology:read',
      handler: ({ res, params: [source, scope, name] }) => {
        const id = serviceId(source!, scope!, name!);
        const service = store.service(id);
        if (!service) throw new HttpError('not_found', `service "${id}" not found`);
        const t = now();
        reply(res, 200, ServiceTelemetry, {
          service: telemetry.points(service.name, null, t),
          instances: Object.fromEntries(service.instances.map((i) => [i.id, telemetry.points(service.name, drainId(i.id), t)])),
          reporters: telemetry.reporters(service.name),
        });
      },
    },
  ];
}
