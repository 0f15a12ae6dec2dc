/** The topology as REST: the whole of it, the summary the list shows, sources, one service. */
import { ServiceResponse, SourcesResponse, Topology, TopologySummary } from '../../../protocol/api';
import { healthCounts, serviceId } from '../../../protocol/model';
import type { TopologyStore } from '../../topology/topologyStore';
import { HttpError } from '../httpError';
import { reply, type Route } from '../router';

export const SERVICE_PATH = String.raw`\/api\/services\/([^/]+)\/([^/]+)\/([^/]+)`;

export function topologyRoutes(store: TopologyStore): Route[] {
  return [
    {
      method: 'GET',
      path: /^\/api\/topology$/,
      permission: 'topology:read',
      // `?view=summary`: every service's header and counts without instances (what the list shows).
      handler: ({ res, query }) => (query.get('view') === 'summary' ? reply(res, 200, TopologySummary, store.summarySnapshot()) : reply(res, 200, Topology, store.snapshot())),
    },
    { method: 'GET', path: /^\/api\/sources$/, permission: 'topology:read', handler: ({ res }) => reply(res, 200, SourcesResponse, { sources: store.sources() }) },
    {
      method: 'GET',
      path: new RegExp(`^${SERVICE_PATH}$`),
      permission: 'topology:read',
      handler: async ({ res, params: [source, scope, name] }) => {
        const id = serviceId(source!, scope!, name!);
        // A pending service is read ahead; after a short wait it is answered as it is (`pending` counts).
        const service = await store.loaded(id, 5_000);
        if (!service) throw new HttpError('not_found', `service "${id}" not found`);
        const status = store.source(service.sourceId) ?? null;
        // DNS answers carry no health: show where else each address:port is registered, with that health.
        const links = status?.kind === 'dns' ? Object.fromEntries(service.instances.map((i) => [i.id, store.instancesAt(i.address, i.port, id)])) : {};
        reply(res, 200, ServiceResponse, { service, counts: service.pending ?? healthCounts(service.instances), source: status, links });
      },
    },
  ];
}
