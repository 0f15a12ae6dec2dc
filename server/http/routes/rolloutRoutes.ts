/**
 * Rollouts (DESIGN.md "Rollouts"): GET|PUT /api/services/:source/:scope/:name/rollout and
 * POST …/rollout/promote|pause|resume|abort. Changes need `rollout:write`; a lost race or a
 * second rollout answers 409 with the rollout the registry holds now. `If-Match: <modifyIndex>`
 * makes a change conditional.
 */
import { RolloutActionBody, RolloutView, StartRolloutBody } from '../../../protocol/api';
import { serviceId } from '../../../protocol/model';
import type { RolloutAction } from '../../../protocol/rollout';
import type { RolloutService } from '../../rollouts/rolloutService';
import { readJson } from '../bodyReader';
import { reply, type Route } from '../router';
import { ifMatch, settle, unwrap } from './registryWrite';
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
      reply(res, 200, RolloutView, unwrap(await settle(rollouts.act(id(params), name, principal!.name, body.reason, ifMatch(req, 'rollout')))));
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
        reply(res, 200, RolloutView, unwrap(await settle(rollouts.start(id(params), body, principal!.name, ifMatch(req, 'rollout')))));
      },
    },
    action('promote'),
    action('pause'),
    action('resume'),
    action('abort'),
  ];
}
