/**
 * Rollouts (DESIGN.md "Rollouts"): GET|PUT /api/services/:source/:scope/:name/rollout and
 * POST …/rollout/promote|pause|resume|abort. Changes need `rollout:write`; a lost race or a
 * second rollout answers 409 with the rollout the registry holds now. `If-Match: <modifyIndex>`
 * makes a change conditional.
 */
import type { IncomingMessage } from 'node:http';
import { RolloutActionBody, RolloutView, StartRolloutBody } from '../../../protocol/api';
import { serviceId } from '../../../protocol/model';
import type { RolloutAction } from '../../../protocol/rollout';
import type { RolloutError, RolloutResult, RolloutService } from '../../rollouts/rolloutService';
import { readJson } from '../bodyReader';
import { HttpError } from '../httpError';
import { reply, type Route } from '../router';
import { SERVICE_PATH } from './topologyRoutes';

export function rolloutRoutes(rollouts: RolloutService, bodyBytes: number): Route[] {
  const id = (p: string[]) => serviceId(p[0]!, p[1]!, p[2]!);
  const path = (suffix: string) => new RegExp(`^${SERVICE_PATH}\\/rollout${suffix}$`);
  const action = (name: RolloutAction): Route => ({
    method: 'POST',
    path: path(`\\/${name}`),
    permission: 'rollout:write',
    handler: async ({ req, res, params, principal }) => {
      const body = await readJson(req, RolloutActionBody, { limit: bodyBytes, emptyIsObject: true });
      reply(res, 200, RolloutView, unwrap(await settle(rollouts.act(id(params), name, principal!.name, body.reason, ifMatch(req)))));
    },
  });
  return [
    { method: 'GET', path: path(''), permission: 'topology:read', handler: async ({ res, params }) => reply(res, 200, RolloutView, unwrap(await settle(rollouts.view(id(params))))) },
    {
      method: 'PUT',
      path: path(''),
      permission: 'rollout:write',
      handler: async ({ req, res, params, principal }) => {
        const body = await readJson(req, StartRolloutBody, { limit: bodyBytes });
        reply(res, 200, RolloutView, unwrap(await settle(rollouts.start(id(params), body, principal!.name, ifMatch(req)))));
      },
    },
    action('promote'),
    action('pause'),
    action('resume'),
    action('abort'),
  ];
}

function ifMatch(req: IncomingMessage): number | undefined {
  const h = req.headers['if-match'];
  if (h === undefined) return undefined;
  const n = Number(String(h).replace(/"/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError('bad_request', `If-Match: expected the rollout's modifyIndex (an integer), got ${h}`);
  return n;
}

/** A registry that refuses or fails is reported as such, not as a 500. */
async function settle<T>(work: Promise<RolloutResult<T>>): Promise<RolloutResult<T>> {
  try {
    return await work;
  } catch (err) {
    return { ok: false, error: { code: 'registry', message: (err as Error).message } };
  }
}

function unwrap<T>(r: RolloutResult<T>): T {
  if (r.ok) return r.value;
  throw rolloutError(r.error);
}

function rolloutError(e: RolloutError): HttpError {
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
