'use client';
/**
 * Traffic control from the browser: the policy view (with its ModifyIndex for compare-and-set),
 * the history, and one mutation for every change. Changes are optimistic — the split moves at
 * once — and serialized per service so a burst of slider commits never races itself; a 409
 * puts the registry's current policy on screen and says who got there first.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { AuditEntry, ConflictBody, describeWeights, TrafficHistory, TrafficView } from '@/protocol/api';
import { servicePath } from '@/protocol/model';
import { flipTarget, type TrafficPolicy } from '@/protocol/traffic';
import { ApiError, getJson, sendJson } from './api';
import { useSession } from './useSession';

export { describeWeights };
export type { AuditEntry, TrafficView };

export type TrafficAction =
  | { kind: 'set'; weights: Record<string, number>; drain?: string[]; reason?: string; force?: boolean }
  | { kind: 'flip'; reason?: string; force?: boolean }
  | { kind: 'rollback'; id: string; force?: boolean }
  | { kind: 'enable' };

const base = (serviceId: string) => `/api/services/${servicePath(serviceId)}/traffic`;
export const trafficKey = (serviceId: string) => ['traffic', serviceId] as const;
export const historyKey = (serviceId: string) => ['traffic', serviceId, 'history'] as const;

export function useTrafficView(serviceId: string) {
  return useQuery({ queryKey: trafficKey(serviceId), queryFn: () => getJson(base(serviceId), TrafficView) });
}

export function useTrafficHistory(serviceId: string) {
  return useQuery({ queryKey: historyKey(serviceId), queryFn: () => getJson(`${base(serviceId)}/history`, TrafficHistory) });
}

/** What the split becomes if the action succeeds, for the optimistic update (null: unknown until the server answers). */
function optimistic(policy: TrafficPolicy | null, action: TrafficAction): TrafficPolicy | null {
  if (!policy) return null;
  switch (action.kind) {
    case 'set':
      return { ...policy, weights: action.weights, drain: action.drain ?? policy.drain };
    case 'flip': {
      const flip = flipTarget(policy);
      return flip ? { ...policy, weights: { [flip.target]: 100, [flip.from]: 0 } } : null;
    }
    case 'rollback':
    case 'enable':
      return null;
  }
}

export function useTrafficMutation(serviceId: string) {
  const qc = useQueryClient();
  const session = useSession();
  const key = trafficKey(serviceId);
  return useMutation<TrafficView, ApiError, TrafficAction, { previous: TrafficView | undefined }>({
    // One change at a time per service: each carries the ModifyIndex the previous one produced.
    scope: { id: `traffic:${serviceId}` },
    mutationFn: async (action) => {
      const csrfToken = session.data?.csrfToken ?? null;
      const ifMatch = qc.getQueryData<TrafficView>(key)?.modifyIndex;
      switch (action.kind) {
        case 'set': {
          const { kind: _kind, ...body } = action;
          return sendJson('PUT', base(serviceId), body, TrafficView, { csrfToken, ifMatch });
        }
        case 'flip':
          return sendJson('POST', `${base(serviceId)}/flip`, { reason: action.reason, force: action.force }, TrafficView, { csrfToken, ifMatch });
        case 'rollback':
          return sendJson('POST', `${base(serviceId)}/rollback`, { id: action.id, force: action.force }, TrafficView, { csrfToken });
        case 'enable':
          return sendJson('POST', `${base(serviceId)}/enable`, {}, TrafficView, { csrfToken });
      }
    },
    onMutate: async (action) => {
      await qc.cancelQueries({ queryKey: key, exact: true });
      const previous = qc.getQueryData<TrafficView>(key);
      const next = optimistic(previous?.policy ?? null, action);
      if (previous && next) qc.setQueryData<TrafficView>(key, { ...previous, policy: next });
      return { previous };
    },
    onError: (err, _action, ctx) => {
      const current = err.status === 409 ? ConflictBody.safeParse(err.body).data?.current : undefined;
      if (ctx?.previous) qc.setQueryData<TrafficView>(key, current ? { ...ctx.previous, ...current } : ctx.previous);
      if (current) void qc.invalidateQueries({ queryKey: key, exact: true });
    },
    onSuccess: (view) => qc.setQueryData<TrafficView>(key, view),
    onSettled: () => qc.invalidateQueries({ queryKey: historyKey(serviceId) }),
  });
}
