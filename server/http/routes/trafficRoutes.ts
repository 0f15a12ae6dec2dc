/** Traffic control (DESIGN.md REST). `If-Match: <modifyIndex>` makes a write conditional. */
import type { IncomingMessage } from 'node:http';
import { EnableBody, FlipBody, PolicyChange, RollbackBody, TrafficHistory, TrafficView } from '../../../protocol/api';
import { serviceId } from '../../../protocol/model';
import type { TrafficError, TrafficResult, TrafficService } from '../../traffic/trafficService';
import { readJson } from '../bodyReader';
import { HttpError } from '../httpError';
import { reply, type Route } from '../router';
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
        reply(res, 200, TrafficView, unwrap(await settle(traffic.change(id(params), change, principal!.name, ifMatch(req)))));
      },
    },
    {
      method: 'POST',
      path: path('\\/flip'),
      permission: 'traffic:write',
      handler: async ({ req, res, params, principal }) => {
        const flip = await readJson(req, FlipBody, { ...body, emptyIsObject: true });
        reply(res, 200, TrafficView, unwrap(await settle(traffic.flip(id(params), principal!.name, { ...flip, ifMatch: ifMatch(req) }))));
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

function ifMatch(req: IncomingMessage): number | undefined {
  const h = req.headers['if-match'];
  if (h === undefined) return undefined;
  const n = Number(String(h).replace(/"/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError('bad_request', `If-Match: expected the policy's modifyIndex (an integer), got ${h}`);
  return n;
}

/** A registry that refuses or fails (Consul ACL, Kubernetes RBAC, an outage) is reported, not a 500. */
async function settle<T>(work: Promise<TrafficResult<T>>): Promise<TrafficResult<T>> {
  try {
    return await work;
  } catch (err) {
    return { ok: false, error: { code: 'registry', message: (err as Error).message } };
  }
}

function unwrap<T>(r: TrafficResult<T>): T {
  if (r.ok) return r.value;
  throw trafficError(r.error);
}

function trafficError(e: TrafficError): HttpError {
  switch (e.code) {
    case 'not_found':
      return new HttpError('not_found', e.message);
    case 'invalid':
      return new HttpError('bad_request', e.message);
    case 'guardrail':
      return new HttpError('unprocessable', e.message);
    case 'conflict':
      return new HttpError('conflict', e.message, { body: { current: e.current } });
    case 'registry':
      return new HttpError('bad_gateway', `the registry refused: ${e.message}`);
  }
}
