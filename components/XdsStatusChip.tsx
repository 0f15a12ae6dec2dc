'use client';
import { useQuery } from '@tanstack/react-query';
import { ApiError, getJson } from '@/lib/api';
import { useIdle } from '@/lib/useIdle';
import type { XdsClient, XdsClientsResponse, XdsNack } from '@/protocol/xds';

/** NACKs a client has not got past: refused after its last ACK of that resource type. */
export function openNacks(clients: readonly XdsClient[]): { nodeId: string; nack: XdsNack }[] {
  const out: { nodeId: string; nack: XdsNack }[] = [];
  for (const c of clients) {
    for (const sub of c.subscriptions) {
      const last = c.nacks.find((n) => n.type === sub.type); // most recent first
      if (last && (sub.ackedAt === null || last.at > sub.ackedAt)) out.push({ nodeId: c.nodeId, nack: last });
    }
  }
  return out;
}

/**
 * The xDS server beside the registries on the status strip: how many data planes follow it and,
 * as a warning, any that refuse what it sends (a NACK), with the first refusal's words. Hidden
 * when xDS is not configured (the endpoint answers 404).
 */
export function XdsStatusChip() {
  const idle = useIdle();
  const { data } = useQuery({
    queryKey: ['xds', 'clients'],
    queryFn: async () => {
      try {
        // Its schema is imported beside the request, not with every page (lib/wireShapes.ts).
        return (await getJson('/api/xds/clients', import('@/protocol/xds').then((m) => m.XdsClientsResponse))) as XdsClientsResponse;
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }
    },
    // Not before the page's first paint is done: its schema brings zod (lib/useIdle.ts).
    enabled: idle,
    refetchInterval: 5_000,
    retry: false,
  });
  if (!data) return null;
  const refusing = openNacks(data.clients);
  const first = refusing[0];
  return (
    <span className="source-chip" data-testid="xds-status" data-state={refusing.length ? 'warning' : 'ok'} role={refusing.length ? 'status' : undefined}>
      <span className={`dot ${refusing.length ? 'warning' : 'ok'}`} aria-hidden />
      <strong>xDS</strong>
      <span>· {data.clients.length} {data.clients.length === 1 ? 'client' : 'clients'}</span>
      {first && (
        <span className="err">
          · {refusing.length} NACK{refusing.length === 1 ? '' : 's'}: {first.nodeId} refused {first.nack.type} {first.nack.version}: {first.nack.message}
        </span>
      )}
    </span>
  );
}
