/**
 * SDK clients report here (permission telemetry:write, Bearer only); the dashboard reads the
 * series back through the telemetry reader — the built-in store, or Prometheus when config
 * `telemetry.store` says so. A reader that cannot answer (Prometheus down) gives empty series
 * with `unavailable` saying why, never an error page.
 */
import { ServiceTelemetry, ServiceTelemetryStatus, TelemetryReport } from '../../../protocol/api';
import { serviceId } from '../../../protocol/model';
import { drainId } from '../../../protocol/traffic';
import { BuiltinTelemetryReader, TelemetryUnavailableError, type TelemetryReader } from '../../telemetry/telemetryReader';
import type { TelemetryStore } from '../../telemetry/telemetryStore';
import type { TopologyStore } from '../../topology/topologyStore';
import { readJson } from '../bodyReader';
import { HttpError } from '../httpError';
import { reply, type Route } from '../router';
import { SERVICE_PATH } from './topologyRoutes';

const TelemetryAnswer = ServiceTelemetry.extend(ServiceTelemetryStatus.shape);

export function telemetryRoutes(deps: { telemetry: TelemetryStore; reader?: TelemetryReader; store: TopologyStore; bodyBytes: number; now: () => number; callGraph?: { ingest(report: TelemetryReport, now: number): void } }): Route[] {
  const { telemetry, store, now } = deps;
  const reader = deps.reader ?? new BuiltinTelemetryReader(telemetry);
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
        // With Prometheus as the store, badges come from its breaker series (one source of truth for every replica).
        if (reader.kind === 'builtin') store.setBreakers(report.service, telemetry.breakerViews(report.service));
        res.writeHead(204).end();
      },
    },
    {
      method: 'GET',
      path: new RegExp(`^${SERVICE_PATH}\\/telemetry$`),
      permission: 'topology:read',
      handler: async ({ res, params: [source, scope, name] }) => {
        const id = serviceId(source!, scope!, name!);
        const service = store.service(id);
        if (!service) throw new HttpError('not_found', `service "${id}" not found`);
        const t = now();
        const ids = service.instances.map((i) => drainId(i.id));
        try {
          const [series, reporters] = await Promise.all([reader.series(service.name, ids, t), reader.reporters(service.name)]);
          reply(res, 200, TelemetryAnswer, {
            service: series.service,
            instances: Object.fromEntries(service.instances.map((i) => [i.id, series.instances[drainId(i.id)] ?? []])),
            reporters,
            store: reader.kind,
          });
        } catch (err) {
          if (!(err instanceof TelemetryUnavailableError)) throw err;
          reply(res, 200, TelemetryAnswer, { service: [], instances: {}, reporters: [], store: reader.kind, unavailable: err.message });
        }
      },
    },
  ];
}
