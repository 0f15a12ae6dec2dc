/**
 * How the browser's copy of the topology follows the WebSocket: pure, so it is unit-tested
 * and the connection code only moves frames around. Deltas go through the same `applyOps`
 * reducer the server's store uses.
 */
import { applyOps } from '@/protocol/delta';
import type { Topology } from '@/protocol/model';
import type { ServerMessage } from '@/protocol/realtime';

export type CacheStep =
  | { kind: 'apply'; topology: Topology }
  /** The frame does not follow from what we have: ask the server for what we are missing. */
  | { kind: 'resync'; sinceRev: number | undefined }
  | { kind: 'ignore' };

export function stepTopology(current: Topology | undefined, msg: ServerMessage): CacheStep {
  switch (msg.type) {
    case 'snapshot':
      return { kind: 'apply', topology: msg.topology };
    case 'delta':
      if (!current) return { kind: 'resync', sinceRev: undefined };
      if (msg.rev <= current.rev) return { kind: 'ignore' };
      if (msg.fromRev !== current.rev) return { kind: 'resync', sinceRev: current.rev };
      return { kind: 'apply', topology: applyOps(current, msg.ops, msg.rev) };
    case 'heartbeat':
      // A heartbeat ahead of us means a delta was lost somewhere: catch up.
      return current && msg.rev > current.rev ? { kind: 'resync', sinceRev: current.rev } : { kind: 'ignore' };
    case 'pong':
    case 'error':
      return { kind: 'ignore' };
  }
}
