'use client';
/**
 * Rollouts from the browser: the stored rollout with its controller status (polled once a
 * second while it runs: measurements arrive per interval), and one mutation for start and every
 * action. A 409 keeps the registry's rollout on screen and says who got there first.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { RolloutView } from '@/protocol/api';
import { servicePath } from '@/protocol/model';
import { isActive, type RolloutAction, type StartRolloutBody } from '@/protocol/rollout';
import type { z } from 'zod';
import { ApiError, getJson, sendJson } from './api';
import { trafficKey } from './useTraffic';
import { useSession } from './useSession';

export type { RolloutView };
export type RolloutMutation = { kind: 'start'; body: z.input<typeof StartRolloutBody> } | { kind: RolloutAction; reason?: string };

const base = (serviceId: string) => `/api/services/${servicePath(serviceId)}/rollout`;
export const rolloutKey = (serviceId: string) => ['rollout', serviceId] as const;

export function useRolloutView(serviceId: string) {
  return useQuery({
    queryKey: rolloutKey(serviceId),
    queryFn: () => getJson(base(serviceId), RolloutView),
    refetchInterval: (q) => (isActive(q.state.data?.rollout) ? 1_000 : 10_000),
  });
}

export function useRolloutMutation(serviceId: string) {
  const qc = useQueryClient();
  const session = useSession();
  return useMutation<RolloutView, ApiError, RolloutMutation>({
    scope: { id: `rollout:${serviceId}` },
    mutationFn: (m) => {
      const csrfToken = session.data?.csrfToken ?? null;
      if (m.kind === 'start') return sendJson('PUT', base(serviceId), m.body, RolloutView, { csrfToken });
      return sendJson('POST', `${base(serviceId)}/${m.kind}`, m.reason ? { reason: m.reason } : {}, RolloutView, { csrfToken });
    },
    onSuccess: (view) => qc.setQueryData(rolloutKey(serviceId), view),
    onSettled: () => {
      void qc.invalidateQueries({ queryKey: rolloutKey(serviceId), exact: true });
      void qc.invalidateQueries({ queryKey: trafficKey(serviceId), exact: true });
    },
  });
}
