/**
 * One controller acts at a time (DESIGN.md "Rollouts"): leader election on the registry itself.
 * Consul: a session (TTL, lock delay 0) holding the KV lock `switchboard/leader`, renewed at a
 * third of its TTL; Consul invalidates a session it has not heard from within its TTL (it may
 * take up to twice the TTL), which releases the lock for the next replica. A registry without
 * sessions (`/v1/session/create` answers 404) cannot elect: this replica runs rollouts on its own
 * ("single-replica") and the status says so. Kubernetes: the coordination.k8s.io/v1 Lease
 * `switchboard-leader`, taken over once its holder has not renewed within leaseDurationSeconds.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { kubernetesClient } from '../../clients/kubernetes/kubernetesClient';
import type { ControllerStatus } from '../../protocol/rollout';
import { describe } from './kubernetesRolloutStore';

export const LEADER_KEY = 'switchboard/leader';
export const LEASE_NAME = 'switchboard-leader';

export interface LeaderElector {
  start(): void;
  /** `release: false` leaves the lock to expire, as a crashed replica would (tests). @default true */
  stop(options?: { release?: boolean }): Promise<void>;
  isLeader(): boolean;
  status(): ControllerStatus;
}

/** This replica's identity in locks and leases: host, pid and a random suffix. */
export function replicaIdentity(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export interface ConsulElectorOptions {
  address: string;
  token: string | null;
  identity: string;
  /** Session TTL, seconds (Consul's minimum is 10). @default 10 */
  ttlSeconds?: number;
  /** How often a follower tries the lock. @default 1000 */
  retryMs?: number;
  fetch?: typeof fetch;
  onChange?: (status: ControllerStatus) => void;
}

export class ConsulLeaderElector implements LeaderElector {
  private session: string | null = null;
  private state: ControllerStatus = { mode: 'starting', holder: null, detail: 'electing a leader' };
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastRenew = 0;
  private readonly fetchFn: typeof fetch;
  private readonly ttl: number;
  private readonly retryMs: number;

  constructor(private readonly o: ConsulElectorOptions) {
    this.fetchFn = o.fetch ?? fetch;
    this.ttl = o.ttlSeconds ?? 10;
    this.retryMs = o.retryMs ?? 1000;
  }

  start(): void {
    this.stopped = false;
    void this.loop();
  }

  isLeader(): boolean {
    return this.state.mode === 'leader' || this.state.mode === 'single-replica';
  }

  status(): ControllerStatus {
    return this.state;
  }

  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const sid = this.session;
    this.session = null;
    this.set({ mode: 'starting', holder: null, detail: 'stopped' });
    if (sid && options.release !== false) await this.call('PUT', `/v1/session/destroy/${sid}`).catch(() => undefined);
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.round();
    } catch (err) {
      // The registry is unreachable: whoever held the lock keeps it until its session expires,
      // so nobody here may act on the strength of an old answer.
      this.set({ mode: 'starting', holder: null, detail: `cannot reach the registry for leader election: ${(err as Error).message}` });
    }
    if (this.stopped) return;
    const wait = this.state.mode === 'leader' ? Math.min(this.retryMs, (this.ttl * 1000) / 3) : this.state.mode === 'single-replica' ? 30_000 : this.retryMs;
    this.timer = setTimeout(() => void this.loop(), wait);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    if (!this.session) {
      const r = await this.call('PUT', '/v1/session/create', { Name: 'switchboard-leader', TTL: `${this.ttl}s`, LockDelay: '0s', Behavior: 'release' });
      if (r.status === 404 || r.status === 405) {
        this.set({ mode: 'single-replica', holder: this.o.identity, detail: `the registry has no sessions (PUT /v1/session/create answered ${r.status}): no leader election, rollouts run on this replica alone — run a single replica against it` });
        return;
      }
      if (!r.ok) throw new Error(`PUT /v1/session/create: ${r.status} ${(await r.text()).slice(0, 200)}`);
      this.session = ((await r.json()) as { ID: string }).ID;
      this.lastRenew = Date.now();
    } else if (Date.now() - this.lastRenew >= (this.ttl * 1000) / 3) {
      const r = await this.call('PUT', `/v1/session/renew/${this.session}`);
      if (r.status === 404) {
        // Consul dropped the session (we were silent too long): the lock is gone with it.
        this.session = null;
        this.set({ mode: 'starting', holder: null, detail: 'session expired; electing again' });
        return;
      }
      if (!r.ok) throw new Error(`PUT /v1/session/renew: ${r.status}`);
      this.lastRenew = Date.now();
    }
    // A leader keeps the lock by renewing its session; it only checks that the lock is still its
    // own. Re-acquiring every round would write the key each time and wake every KV watcher of
    // the datacenter (the traffic-policy watches among them) for nothing.
    if (this.state.mode === 'leader' && (await this.lockSession()) === this.session) return;
    const acquire = await this.call('PUT', `/v1/kv/${LEADER_KEY}?acquire=${this.session}`, { holder: this.o.identity, at: new Date().toISOString() });
    if (!acquire.ok) throw new Error(`PUT /v1/kv/${LEADER_KEY}?acquire: ${acquire.status} ${(await acquire.text()).slice(0, 200)}`);
    if ((await acquire.json()) === true) {
      this.set({ mode: 'leader', holder: this.o.identity, detail: `holds ${LEADER_KEY} (Consul session ${this.session}, TTL ${this.ttl}s)` });
      return;
    }
    const holder = await this.holder();
    this.set({ mode: 'follower', holder, detail: `${holder ?? 'another replica'} holds ${LEADER_KEY}; this replica takes over within the session TTL (${this.ttl}s, up to twice that) if it stops` });
  }

  /** The session holding the lock now, or null (no key, no holder, unreadable). */
  private async lockSession(): Promise<string | null> {
    const r = await this.call('GET', `/v1/kv/${LEADER_KEY}`);
    if (!r.ok) return null;
    try {
      return ((await r.json()) as { Session?: string }[])[0]?.Session ?? null;
    } catch {
      return null;
    }
  }

  private async holder(): Promise<string | null> {
    const r = await this.call('GET', `/v1/kv/${LEADER_KEY}?raw`);
    if (!r.ok) return null;
    try {
      return ((await r.json()) as { holder?: string }).holder ?? null;
    } catch {
      return null;
    }
  }

  private set(next: ControllerStatus): void {
    const changed = next.mode !== this.state.mode || next.holder !== this.state.holder;
    this.state = next;
    if (changed) this.o.onChange?.(next);
  }

  private call(method: string, path: string, body?: unknown): Promise<Response> {
    return this.fetchFn(`${this.o.address}${path}`, {
      method,
      headers: this.o.token ? { 'X-Consul-Token': this.o.token } : {},
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
  }
}

export interface LeaseElectorOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  identity: string;
  /** @default 15 */
  leaseSeconds?: number;
  /** @default 1000 */
  retryMs?: number;
  onChange?: (status: ControllerStatus) => void;
}

export class KubernetesLeaseElector implements LeaderElector {
  private readonly api: k8s.CoordinationV1Api;
  private state: ControllerStatus = { mode: 'starting', holder: null, detail: 'electing a leader' };
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly leaseSeconds: number;
  private readonly retryMs: number;

  constructor(private readonly o: LeaseElectorOptions) {
    this.api = o.kubeConfig.makeApiClient(kubernetesClient().CoordinationV1Api);
    this.leaseSeconds = o.leaseSeconds ?? 15;
    this.retryMs = o.retryMs ?? 1000;
  }

  start(): void {
    this.stopped = false;
    void this.loop();
  }

  isLeader(): boolean {
    return this.state.mode === 'leader';
  }

  status(): ControllerStatus {
    return this.state;
  }

  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const wasLeader = this.isLeader();
    this.set({ mode: 'starting', holder: null, detail: 'stopped' });
    if (!wasLeader || options.release === false) return;
    // Releasing: an expired renewTime lets the next replica take over at once.
    try {
      const lease = await this.api.readNamespacedLease({ name: LEASE_NAME, namespace: this.o.namespace });
      if (lease.spec?.holderIdentity === this.o.identity) {
        lease.spec.renewTime = new (kubernetesClient().V1MicroTime)(0);
        if (lease.spec.acquireTime) lease.spec.acquireTime = micro(lease.spec.acquireTime);
        await this.api.replaceNamespacedLease({ name: LEASE_NAME, namespace: this.o.namespace, body: lease });
      }
    } catch {
      // It expires on its own.
    }
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.round();
    } catch (err) {
      this.set({ mode: 'starting', holder: null, detail: `Lease ${this.o.namespace}/${LEASE_NAME}: ${describe(err)}` });
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.loop(), Math.min(this.retryMs, (this.leaseSeconds * 1000) / 3));
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const now = new Date();
    let lease: k8s.V1Lease | null = null;
    try {
      lease = await this.api.readNamespacedLease({ name: LEASE_NAME, namespace: this.o.namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
    const mine = { holderIdentity: this.o.identity, leaseDurationSeconds: this.leaseSeconds, renewTime: micro(now) };
    if (!lease) {
      try {
        await this.api.createNamespacedLease({ namespace: this.o.namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEASE_NAME, namespace: this.o.namespace }, spec: { ...mine, acquireTime: micro(now), leaseTransitions: 0 } } });
        return this.lead();
      } catch (err) {
        if ((err as { code?: number }).code === 409) return this.follow(null);
        throw err;
      }
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? this.leaseSeconds) * 1000 < now.getTime();
    if (spec.holderIdentity !== this.o.identity && !expired) return this.follow(spec.holderIdentity ?? null);
    const takeover = spec.holderIdentity !== this.o.identity;
    const body: k8s.V1Lease = { ...lease, spec: { ...spec, ...(spec.acquireTime ? { acquireTime: micro(spec.acquireTime) } : {}), ...mine, ...(takeover ? { acquireTime: micro(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}) } };
    try {
      // metadata.resourceVersion rides along: a concurrent taker gets 409, never both.
      await this.api.replaceNamespacedLease({ name: LEASE_NAME, namespace: this.o.namespace, body });
      this.lead();
    } catch (err) {
      if ((err as { code?: number }).code === 409) return this.follow(null);
      throw err;
    }
  }

  private lead(): void {
    this.set({ mode: 'leader', holder: this.o.identity, detail: `holds Lease ${this.o.namespace}/${LEASE_NAME} (${this.leaseSeconds}s)` });
  }

  private follow(holder: string | null): void {
    this.set({ mode: 'follower', holder, detail: `${holder ?? 'another replica'} holds Lease ${this.o.namespace}/${LEASE_NAME}; this replica takes over within ${this.leaseSeconds}s if it stops renewing` });
  }

  private set(next: ControllerStatus): void {
    const changed = next.mode !== this.state.mode || next.holder !== this.state.holder;
    this.state = next;
    if (changed) this.o.onChange?.(next);
  }
}

/** The API server wants MicroTime with exactly six fractional digits (`…05.123000Z`). */
function micro(t: Date | string | number): k8s.V1MicroTime {
  return new (kubernetesClient().V1MicroTime)(new Date(t).getTime());
}
