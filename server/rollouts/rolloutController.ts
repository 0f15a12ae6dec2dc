/**
 * The rollout controller: on every replica it follows the stored rollouts (for the service
 * list's badges); where this replica is the leader for a source it drives them — an analysis
 * every interval from the metrics store, the step clock, and any weight change not yet landed.
 * Everything it decides is written back with compare-and-set before it acts on traffic, so a new
 * leader continues from the stored JSON; the only memory here is when the next analysis is due.
 */
import { serviceId, type Service } from '../../protocol/model';
import { durationMs, desiredCanaryWeight, type ControllerStatus, type Rollout, type RolloutBadge } from '../../protocol/rollout';
import { own } from '../../protocol/traffic';
import type { Logger } from '../log';
import type { LeaderElector } from './leaderElection';
import type { RolloutMetrics } from './rolloutMetrics';
import { isRolloutProblem, transition } from './rolloutMachine';
import type { RolloutService } from './rolloutService';
import type { RolloutStore, StoredRollout } from './rolloutStore';

export interface RolloutControllerDeps {
  rollouts: RolloutService;
  storeFor(sourceId: string): RolloutStore | null;
  /** Sources that can hold rollouts, with the scopes (datacenters, namespaces) they cover now. */
  sources(): { id: string; scopes: string[] }[];
  electorFor(sourceId: string): LeaderElector | null;
  metrics: RolloutMetrics;
  /** The service with its instances (a pending one is read first: see TopologyStore.loaded). */
  service(id: string): Service | undefined | Promise<Service | undefined>;
  /** The list's badge for a service (null: no rollout). Called on change only. */
  onBadge?(serviceId: string, badge: RolloutBadge | null): void;
  logger?: Logger;
  now?: () => Date;
  /** How often stored rollouts are read and driven. @default 500 */
  pollMs?: number;
}

interface Timer {
  step: number;
  since: string;
  due: number;
}

export class RolloutController {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private readonly timers = new Map<string, Timer>();
  private readonly badges = new Map<string, string>();
  private readonly now: () => Date;
  private readonly pollMs: number;

  constructor(private readonly deps: RolloutControllerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.pollMs = deps.pollMs ?? 500;
  }

  start(): void {
    for (const s of this.deps.sources()) this.deps.electorFor(s.id)?.start();
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
  }

  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await Promise.all(this.deps.sources().map((s) => this.deps.electorFor(s.id)?.stop(options)));
  }

  status(sourceId: string): ControllerStatus {
    return this.deps.electorFor(sourceId)?.status() ?? { mode: 'single-replica', holder: null, detail: 'this source has no leader election; rollouts run on this replica' };
  }

  /** Runs a pass now (or right after the one under way). */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .catch((err) => this.deps.logger?.warn({ err }, 'rollout pass failed'))
      .finally(() => {
        this.running = null;
        if (this.again && this.timer) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** One pass over every stored rollout (exported for tests that drive it step by step). */
  async pass(): Promise<void> {
    const seen = new Set<string>();
    for (const source of this.deps.sources()) {
      const store = this.deps.storeFor(source.id);
      if (!store) continue;
      const elector = this.deps.electorFor(source.id);
      const leader = elector ? elector.isLeader() : true;
      for (const scope of source.scopes) {
        let items: { service: string; stored: StoredRollout }[];
        try {
          items = await store.list(scope);
        } catch (err) {
          this.deps.logger?.warn({ err, source: source.id, scope }, 'cannot list rollouts');
          for (const id of this.badges.keys()) if (id.startsWith(`${source.id}/${scope}/`)) seen.add(id);
          continue;
        }
        for (const { service, stored } of items) {
          const id = serviceId(source.id, scope, service);
          seen.add(id);
          this.badge(id, stored.rollout);
          if (!leader || !stored.rollout) continue;
          try {
            await this.drive(id, store, stored);
          } catch (err) {
            this.deps.logger?.warn({ err, service: id }, 'rollout step failed');
          }
        }
      }
    }
    for (const id of [...this.badges.keys()]) if (!seen.has(id)) this.badge(id, null);
    for (const id of [...this.timers.keys()]) {
      if (seen.has(id)) continue;
      this.timers.delete(id);
      this.deps.metrics.forget(id);
    }
  }

  private async drive(id: string, store: RolloutStore, stored: StoredRollout): Promise<void> {
    const r = stored.rollout!;
    const svc = await this.deps.service(id);
    if (!svc || svc.pending) return; // pending: its instances are being read; the next pass drives it
    let next: Rollout = r;
    const now = this.now();
    if (r.state === 'Progressing') {
      const subsets = svc.traffic ? { canary: own(svc.traffic.subsets, r.canary), stable: own(svc.traffic.subsets, r.stable) } : null;
      const t = this.timers.get(id);
      // A new step (or a resume) starts a fresh interval: no interval mixes two weights.
      if (subsets?.canary && subsets.stable) {
        const pair = { canary: subsets.canary, stable: subsets.stable };
        if (!t || t.step !== r.step || t.since !== r.since || r.applied !== desiredCanaryWeight(r)) {
          this.deps.metrics.begin(id, svc, pair, now.getTime());
          this.timers.set(id, { step: r.step, since: r.since, due: now.getTime() + durationMs(r.analysis.interval)! });
        } else if (now.getTime() >= t.due) {
          const m = await this.deps.metrics.measure(id, svc, pair, now.getTime());
          t.due = now.getTime() + durationMs(r.analysis.interval)!;
          const measured = transition(next, { type: 'measure', ...m }, now);
          if (!isRolloutProblem(measured)) next = measured;
        }
      }
      const ticked = transition(next, { type: 'tick' }, now);
      if (!isRolloutProblem(ticked)) next = ticked;
    } else {
      this.timers.delete(id);
      this.deps.metrics.forget(id);
    }
    let modifyIndex = stored.modifyIndex;
    if (next !== r) {
      const written = await store.put(svc.scope, svc.name, next, modifyIndex);
      // Someone else (an operator, another leader) wrote first: read again on the next pass.
      if (!written.ok) return;
      modifyIndex = written.modifyIndex;
      this.badge(id, next);
      if (next.state !== r.state) this.deps.logger?.info({ service: id, state: next.state, step: next.step, message: next.message }, 'rollout state changed');
    }
    if (next.applied !== desiredCanaryWeight(next)) {
      const settled = await this.deps.rollouts.settleWeights(svc, store, next, modifyIndex);
      this.badge(id, settled.rollout);
    }
  }

  private badge(id: string, r: Rollout | null): void {
    const badge = r ? { state: r.state, step: r.step, steps: r.steps.length } : null;
    const key = badge ? JSON.stringify(badge) : '';
    if ((this.badges.get(id) ?? '') === key) return;
    if (badge) this.badges.set(id, key);
    else this.badges.delete(id);
    this.deps.onBadge?.(id, badge);
  }
}


