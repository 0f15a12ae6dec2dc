'use client';
import { skipToken, useQuery, type QueryObserverOptions } from '@tanstack/react-query';
import { useContext, useEffect, useSyncExternalStore } from 'react';
import { LiveTopologyContext } from './liveTopologyContext';
import { serviceKey, TOPOLOGY_KEY, type ConnectionState } from './liveTopology';
import type { ServiceCache, SummaryCache } from './topologyCache';

/**
 * Every source and every service's summary (no instances), filled and kept current by the
 * WebSocket — nothing is fetched over REST, so the list is downloaded once.
 */
export function useTopology() {
  return useQuery<SummaryCache>({ queryKey: TOPOLOGY_KEY, queryFn: skipToken, staleTime: Infinity });
}

/**
 * One part of the summary, for components that show little of it: they render again only when
 * that part changes (react-query shares equal selections), not on every delta of the fleet —
 * under churn the summary changes on every animation frame. `pick` should be stable (module
 * scope or memoized) so it is not re-run on every render.
 */
export function useTopologySelect<T>(pick: (summary: SummaryCache) => T) {
  return useQuery(topologySelectOptions(pick));
}

/** The query behind useTopologySelect (shared with its test, which observes it without React). */
export function topologySelectOptions<T>(pick: (summary: SummaryCache) => T): QueryObserverOptions<SummaryCache, Error, T> {
  return { queryKey: TOPOLOGY_KEY, queryFn: skipToken, staleTime: Infinity, select: pick };
}

/** One service with its instances, followed live while the calling component is mounted. */
export function useServiceDetail(id: string) {
  const live = useContext(LiveTopologyContext);
  useEffect(() => live?.watch(id), [live, id]);
  return useQuery<ServiceCache>({ queryKey: serviceKey(id), queryFn: skipToken, staleTime: Infinity });
}

export function useConnectionState(): ConnectionState {
  const live = useContext(LiveTopologyContext);
  return useSyncExternalStore(
    live?.subscribe ?? noopSubscribe,
    live?.getState ?? (() => 'connecting'),
    () => 'connecting',
  );
}

const noopSubscribe = () => () => undefined;
