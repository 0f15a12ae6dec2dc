'use client';
import { useQuery } from '@tanstack/react-query';
import type { SeriesPoint } from '@/protocol/telemetry';
import { getJson } from './api';

export type { SeriesPoint };

export interface ServiceTelemetry {
  service: SeriesPoint[];
  instances: Record<string, SeriesPoint[]>;
  reporters: { clientId: string; caller: string; lastSeen: number }[];
}

/** Request rate, error rate and latency from SDK clients; 5 s buckets, so a 2 s poll is live enough. */
export function useServiceTelemetry(serviceId: string) {
  return useQuery({
    queryKey: ['telemetry', serviceId],
    queryFn: () => getJson<ServiceTelemetry>(`/api/services/${serviceId.split('/').map(encodeURIComponent).join('/')}/telemetry`),
    refetchInterval: 2_000,
  });
}
