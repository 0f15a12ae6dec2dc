'use client';
/**
 * Traffic control from the browser: the policy view (with its ModifyIndex for compare-and-set),
 * the history, and one mutation for every change. Changes are optimistic — the split moves at
 * once — and serialized per service so a burst of slider commits never races itself; a 409
 * puts the registry's current policy on screen and says who got there first.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { flipTarget, type TrafficPolicy } from '@/protocol/traffic';
import { ApiError, getJson, sendJson } from './api';
import { useSession } from './useSession';

export interface TrafficView {
  policy: TrafficPolicy | null;
  modifyIndex: number;
  /** Set when the registry holds something that is not a valid policy: why. Saving a new policy overwrites it. */
  invalid?: string;
  subsets: Record<string, { instances: number; passing: number }>;
}

export interface AuditEntry {
  id: string;
  at: string;
  by: string;
  reason: string;
  outcome: 'applied' | 'rejected';
  forced: boolean;
  error?: string;
  before: TrafficPolicy | null;
  after: TrafficPolicy | null;
}

export type TrafficAction =
  | { kind: 'set'; weights: Record<string, number>; drain?: string[]; reason?: string; force?: boolean }
  | { kind: 'flip'; reason?: string; force?: boolean }
  | { kind: 'rollback'; id: string; force?: boolean }
  | { kind: 'enable' };

const base = (serviceId: string) => `/api/services/${serviceId.split('/').map(encodeURIComponent).join('/')}/traffic`;
export const trafficKey = (serviceId: string) => ['traffic', serviceId] as const;
export const historyKey = (serviceId: string) => ['traffic', serviceId, 'history'] as const;

export function useTrafficView(serviceId: string) {
  return useQuery({ queryKey: trafficKey(serviceId), queryFn: () => getJson<TrafficView>(base(serviceId)) });
}

export function useTrafficHistory(serviceId: string) {
  return useQuery({ queryKey: historyKey(serviceId), queryFn: () => getJson<AuditEntry[]>(`${base(serviceId)}/history`) });
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
          return sendJson<TrafficView>('PUT', base(serviceId), body, { csrfToken, ifMatch });
        }
        case 'flip':
          return sendJson<TrafficView>('POST', `${base(serviceId)}/flip`, { reason: action.reason, force: action.force }, { csrfToken, ifMatch });
        case 'rollback':
          return sendJson<TrafficView>('POST', `${base(serviceId)}/rollback`, { id: action.id, force: action.force }, { csrfToken });
        case 'enable':
          return sendJson<TrafficView>('POST', `${base(serviceId)}/enable`, {}, { csrfToken });
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
      const current = err.status === 409 ? (err.body?.current as Pick<TrafficView, 'policy' | 'modifyIndex'> | undefined) : undefined;
      if (ctx?.previous) qc.setQueryData<TrafficView>(key, current ? { ...ctx.previous, ...current } : ctx.previous);
      if (current) void qc.invalidateQueries({ queryKey: key, exact: true });
    },
    onSuccess: (view) => qc.setQueryData<TrafficView>(key, view),
    onSettled: () => qc.invalidateQueries({ queryKey: historyKey(serviceId) }),
  });
}

/** "blue 80 / green 20", plus " · draining payment-4" when instances are drained. */
export function describeWeights(policy: Pick<TrafficPolicy, 'weights'> & { drain?: string[] } | null): string {
  if (!policy) return 'no policy';
  const split = Object.entries(policy.weights)
    .map(([name, w]) => `${name} ${w}`)
    .join(' / ');
  return policy.drain?.length ? `${split} · draining ${policy.drain.join(', ')}` : split;
}
