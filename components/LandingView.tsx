'use client';
import { useQuery } from '@tanstack/react-query';
import { useRouter, useSearchParams } from 'next/navigation';
import { useEffect } from 'react';
import { getJson } from '@/lib/api';
import { parseObservedCalls } from '@/lib/wireShapes';
import type { ObservedCalls } from '@/protocol/graph';
import { ServicesView } from './ServicesView';

/**
 * `/` opens on the service graph once there is telemetry to draw (a picture first, as an SRE
 * wants when something is wrong), and on the list otherwise. A URL with list filters
 * (`/?health=critical`) is a link to the list and stays one; `/services` is the list always.
 * Until the answer is in (one small request) nothing is drawn, so the view never flips under
 * the reader; if the graph cannot be read, the list shows.
 */
export function LandingView() {
  const params = useSearchParams();
  const router = useRouter();
  const listLinked = params.size > 0;
  const { data, isPending } = useQuery({
    queryKey: ['landing', 'observed-calls'],
    // Were calls observed in the last 15 minutes? A read of the call samples, not a graph build.
    // Checked against a Shape (lib/wireShapes.ts): the list's first page loads no zod.
    queryFn: (): Promise<ObservedCalls> => getJson('/api/graph/observed?window=15m', parseObservedCalls),
    enabled: !listLinked,
    retry: false,
    staleTime: Infinity,
  });
  const toGraph = !listLinked && data?.observed === true;
  useEffect(() => {
    if (toGraph) router.replace('/graph');
  }, [toGraph, router]);

  if (listLinked) return <ServicesView />;
  if (isPending || toGraph) return <p className="meta" aria-busy="true" data-testid="landing-pending" />;
  return <ServicesView />;
}
