/**
 * What the live connection needs beyond the service list: every other frame's schema (zod,
 * protocol/realtime.ts) and the step that follows one watched service. lib/liveTopology.ts
 * imports this when it first needs it (a page watches a service, or such a frame arrives), so
 * the list's first page loads none of it.
 */
import { applyServiceOps } from '@/protocol/delta';
import { ServerMessage } from '@/protocol/realtime';
import { compileParser } from './schemaCheck';
import type { ServiceCache, Step } from './topologyCache';

/** Any server frame, checked as protocol/realtime.ts says (summary frames compiled, as in wireShapes). */
export const parseServerMessage = compileParser(ServerMessage);

type ServiceFrame = Extract<ServerMessage, { type: 'service' | 'service.delta' }>;

export function stepService(current: ServiceCache | undefined, msg: ServiceFrame): Step<ServiceCache> {
  switch (msg.type) {
    case 'service':
      return { kind: 'apply', value: { rev: msg.rev, service: msg.service } };
    case 'service.delta':
      if (!current) return { kind: 'resync', sinceRev: undefined };
      if (msg.rev <= current.rev) return { kind: 'ignore' };
      if (msg.fromRev > current.rev) return { kind: 'resync', sinceRev: current.rev };
      return { kind: 'apply', value: { rev: msg.rev, service: applyServiceOps(current.service, msg.ops) } };
  }
}
