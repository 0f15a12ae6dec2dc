/**
 * One ADS stream's state (state of the world): who the node is, what it subscribes to per
 * resource type, the version and nonce last sent, the version it last ACKed, its NACKs and
 * the requests that could not be used. Pure bookkeeping; the server does the I/O.
 *
 * At most one response per type is outstanding: a change that arrives while the client has not
 * answered the last response marks the type dirty and goes out after the ACK or NACK. A client
 * that never answers therefore holds one response per type, never a growing queue.
 */
import type { XdsClient, XdsNack, XdsProblem, XdsResourceType, XdsSubscription } from '../../protocol/xds';

export const MAX_NAMES_PER_TYPE = 10_000;
export const MAX_NAME_LENGTH = 1024;
const KEPT_NACKS = 20;
const KEPT_PROBLEMS = 20;

export interface TypeState {
  wildcard: boolean;
  /** Whether the client ever named resources explicitly (then an empty list is not a wildcard). */
  explicit: boolean;
  names: Set<string>;
  sentVersion: string | null;
  sentNonce: string | null;
  sentAt: number | null;
  ackedVersion: string | null;
  ackedAt: number | null;
  awaiting: boolean;
  dirty: boolean;
  /** Since when an answer is held back because a requested name may belong to a registry not read yet. */
  heldSince: number | null;
}

export class XdsConnection {
  nodeId = '';
  cluster = '';
  userAgent = '';
  readonly types = new Map<XdsResourceType, TypeState>();
  readonly nacks: XdsNack[] = [];
  readonly problems: XdsProblem[] = [];

  constructor(
    readonly id: string,
    readonly peer: string,
    public user: string,
    readonly connectedAt: number,
  ) {}

  state(type: XdsResourceType): TypeState {
    let s = this.types.get(type);
    if (!s) {
      s = { wildcard: false, explicit: false, names: new Set(), sentVersion: null, sentNonce: null, sentAt: null, ackedVersion: null, ackedAt: null, awaiting: false, dirty: false, heldSince: null };
      this.types.set(type, s);
    }
    return s;
  }

  problem(at: number, message: string): void {
    this.problems.unshift({ at: new Date(at).toISOString(), message });
    this.problems.length = Math.min(this.problems.length, KEPT_PROBLEMS);
  }

  nack(nack: XdsNack): void {
    this.nacks.unshift(nack);
    this.nacks.length = Math.min(this.nacks.length, KEPT_NACKS);
  }

  subscribes(type: XdsResourceType, name: string): boolean {
    const s = this.types.get(type);
    return s !== undefined && (s.wildcard || s.names.has(name));
  }

  view(): XdsClient {
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const subscriptions: XdsSubscription[] = [...this.types].map(([type, s]) => ({
      type,
      names: [...s.names].slice(0, 200),
      wildcard: s.wildcard,
      sentVersion: s.sentVersion,
      ackedVersion: s.ackedVersion,
      ackedAt: iso(s.ackedAt),
      awaitingAckSince: s.awaiting ? iso(s.sentAt) : null,
      heldSince: s.heldSince === null ? null : iso(s.heldSince),
    }));
    return {
      id: this.id,
      nodeId: this.nodeId,
      cluster: this.cluster,
      userAgent: this.userAgent,
      peer: this.peer,
      user: this.user,
      connectedAt: new Date(this.connectedAt).toISOString(),
      subscriptions,
      nacks: this.nacks,
      problems: this.problems,
    };
  }
}

/**
 * The names a request subscribes to, or why they cannot be used. LDS and CDS treat an empty
 * list as "everything" until the client names resources (xDS wildcard rules); `*` is explicit.
 */
export function subscriptionOf(
  type: XdsResourceType,
  names: readonly string[],
  current: Pick<TypeState, 'explicit'>,
): { wildcard: boolean; explicit: boolean; names: Set<string> } | { error: string } {
  if (names.length > MAX_NAMES_PER_TYPE) return { error: `${names.length} resource names for ${type} (at most ${MAX_NAMES_PER_TYPE})` };
  for (const n of names) if (n.length > MAX_NAME_LENGTH) return { error: `resource name longer than ${MAX_NAME_LENGTH} characters` };
  const set = new Set(names);
  const star = set.delete('*');
  const wildcardType = type === 'listener' || type === 'cluster';
  const explicit = current.explicit || names.length > 0;
  return { wildcard: star || (wildcardType && !explicit), explicit, names: set };
}
