/**
 * What every registry adapter (Consul, Kubernetes, DNS, embedded) implements. Adapters
 * translate the registry's shapes into the normalized model and report through `SourceEvent`s;
 * they never touch the store directly.
 */
import type { Check, Service, SourceKind, SourceState } from '../../protocol/model';
import type { TrafficPolicy } from '../../protocol/traffic';

export type SourceEvent =
  /**
   * Authoritative, complete list of services in one scope (datacenter/namespace). Anything
   * absent is gone. A service may be only summarized (`pending` counts, no instances yet): a
   * large registry's first sync lists every service at once and reads instances after.
   */
  | { type: 'scope.synced'; scope: string; services: Service[] }
  /** One service changed (full current state of that service, instances included). */
  | { type: 'service.changed'; service: Service }
  /** Several services changed, applied as one revision (others untouched): e.g. the instances of pending services, read in bulk. */
  | { type: 'services.changed'; services: Service[] }
  /**
   * Checks whose new state the registry sent in full (e.g. Consul's non-passing state lists):
   * each replaces (or adds) that check on a known instance, which is cheaper for the registry
   * than re-reading the service. Unknown services or instances are ignored.
   */
  | { type: 'checks.changed'; checks: CheckPatch[] }
  /** One service is gone from the registry. */
  | { type: 'service.removed'; serviceId: string }
  /** Every traffic policy stored in one scope, by service name (complete: absent = none). */
  | { type: 'traffic.synced'; scope: string; policies: Record<string, TrafficPolicy> }
  /** The scopes this source covers changed; services in dropped scopes are removed. */
  | { type: 'scopes.changed'; scopes: string[] }
  /** Health of the source's connection to its registry. `ok` implies a successful sync just now. */
  | { type: 'status'; state: SourceState; error?: string | null; detail?: string | null };

/** One check's full new state on one instance. */
export interface CheckPatch {
  serviceId: string;
  instanceId: string;
  check: Check;
}

export type SourceSink = (event: SourceEvent) => void;

export interface Source {
  readonly id: string;
  readonly kind: SourceKind;
  readonly name: string;
  /** Address shown to users; must not carry credentials. */
  readonly address: string | null;
  /** Begins watching; errors are reported through the sink, never thrown. */
  start(sink: SourceSink): void;
  /**
   * Someone needs the instances of a service reported as `pending` (a page opened it, a
   * data plane asked for it, a traffic change targets it): read it ahead of the bulk read.
   */
  want?(serviceId: string): void;
  /**
   * Someone has the service open (true) or no longer (false): a source that can watches it on
   * its own, so its changes do not wait behind the rest of the fleet's.
   */
  focus?(serviceId: string, open: boolean): void;
  /** Stops every watch and pending timer; resolves when no request is in flight. */
  stop(): Promise<void>;
}
