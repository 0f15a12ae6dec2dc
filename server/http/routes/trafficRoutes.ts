/** Traffic control (DESIGN.md REST). `If-Match: <modifyIndex>` makes a write conditional. */
import { EnableBody, FlipBody, PolicyChange, RollbackBody, TrafficHistory, TrafficView } from '../../../protocol/api';
import { serviceId } from '../../../protocol/model';
import type { TrafficService } from '../../traffic/trafficService';
import { readJson } from '../bodyReader';
import { reply, type Route } from '../router';
import { ifMatch, settle, unwrap } from './registryWrite';
import { SERVICE_PATH } from './topologyRoutes';

export function trafficRoutes(traffic: TrafficService, bodyBytes: number): Route[] {
  const id = (p: string[]) => serviceId(p[0]!, p[1]!, p[2]!);
  const path = (suffix: string) => new RegExp(`^${SERVICE_PATH}\\/traffic${suffix}$`);
  const body = { limit: bodyBytes };
  return [
    { method: 'GET', path: path(''), permission: 'topology:read', handler: async ({ res, params }) => reply(res, 200, TrafficView, unwrap(await settle(traffic.view(id(params))))) },
    { method: 'GET', path: path('\\/history'), permission: 'topology:read', handler: async ({ res, params }) => reply(res, 200, TrafficHistory, unwrap(await settle(traffic.history(id(params))))) },
    {
      method: 'PUT',
      path: path(''),
      permission: 'traffic:write',
      handler: async ({ req, res, params, principal }) => {
        const change = await readJson(req, PolicyChange, body);
        reply(res, 200, TrafficView, unwrap(await settle(traffic.change(id(params), change, principal!.name, ifMatch(req, 'policy')))));
      },
    },
    {
      method: 'POST',
      path: path('\\/flip'),
      permission: 'traffic:write',
      handler: async ({ req, res, params, principal }) => {
        const flip = await readJson(req, FlipBody, { ...body, emptyIsObject: true });
        reply(res, 200, TrafficView, unwrap(await settle(traffic.flip(id(params), principal!.name, { ...flip, ifMatch: ifMatch(req, 'policy') }))));
      },
    },
    {
      method: 'POST',
      path: path('\\/enable'),
      permission: 'traffic:write',
      handler: async ({ req, res, params, principal }) => {
        await readJson(req, EnableBody, { ...body, emptyIsObject: true });
        reply(res, 200, TrafficView, unwrap(await settle(traffic.enable(id(params), principal!.name))));
      },
    },
    {
      method: 'POST',
      path: path('\\/rollback'),
      permission: 'traffic:write',
      handler: async ({ req, res, params, principal }) => {
        const rollback = await readJson(req, RollbackBody, body);
        reply(res, 200, TrafficView, unwrap(await settle(traffic.rollback(id(params), rollback.id, principal!.name, rollback))));
      },
    },
  ];
}
