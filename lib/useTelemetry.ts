'use client';
import { useQuery } from '@tanstack/react-query';
import { ServiceTelemetry } from '@/protocol/api';
import { servicePath } from '@/protocol/model';
import type { SeriesPoint } from '@/protocol/telemetry';
import { getJson } from './api';

export type { SeriesPoint, ServiceTelemetry };

/** Request rate, error rate and latency from SDK clients; 5 s buckets, so a 2 s poll is live enough. */
export function useServiceTelemetry(serviceId: string) {
  return useQuery({
    queryKey: ['telemetry', serviceId],
    queryFn: () => getJson(`/api/services/${servicePath(serviceId)}/telemetry`, ServiceTelemetry),
    refetchInterval: 2_000,
  });
}
