'use client';
import { useQuery } from '@tanstack/react-query';
import { ServiceTelemetry, ServiceTelemetryStatus } from '@/protocol/api';
import { servicePath } from '@/protocol/model';
import type { SeriesPoint } from '@/protocol/telemetry';
import { getJson } from './api';

export type { SeriesPoint, ServiceTelemetry };

/** Request rate, error rate and latency from SDK clients; 5 s buckets, so a 2 s poll is live enough. */
/** What the dashboard reads: the series plus which store answered and whether it could. */
const TelemetryAnswer = ServiceTelemetry.extend(ServiceTelemetryStatus.shape);

export function useServiceTelemetry(serviceId: string) {
  return useQuery({
    queryKey: ['telemetry', serviceId],
    queryFn: () => getJson(`/api/services/${servicePath(serviceId)}/telemetry`, TelemetryAnswer),
    refetchInterval: 2_000,
  });
}
