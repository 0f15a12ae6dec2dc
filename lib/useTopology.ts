'use client';
import { useQuery } from '@tanstack/react-query';
import { useContext, useSyncExternalStore } from 'react';
import { Topology } from '@/protocol/model';
import { getJson } from './api';
import { LiveTopologyContext } from './liveTopologyContext';
import { TOPOLOGY_KEY, type ConnectionState } from './liveTopology';

/** The whole topology: loaded once over REST, then kept current by the WebSocket. */
export function useTopology() {
  return useQuery({
    queryKey: TOPOLOGY_KEY,
    queryFn: async () => Topology.parse(await getJson('/api/topology')),
    // The WebSocket keeps this fresh; refetching would only race it.
    staleTime: Infinity,
    retry: (count, err) => (err as { status?: number }).status !== 401 && count < 3,
  });
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
