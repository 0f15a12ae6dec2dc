/**
 * The traffic policy applied to one service's instances: pick a subset by weight, then an
 * instance within it by the balancing strategy. Pure and synchronous so a pick costs a few
 * array reads; the watching client builds a new TrafficSplit whenever the instance list or the
 * policy changes.
 *
 * Subsets are chosen by smooth weighted round-robin (nginx's algorithm): over every run of
 * `sum(weights)` picks each subset gets exactly its weight, interleaved rather than in blocks,
 * so a 20% canary sees 20% of requests at any scale, not 20% on average. Subsets with nothing
 * usable right now (all drained, or every breaker open) drop out and the others share their
 * weight in proportion.
 */
import { inSubset, isDrained, type TrafficPolicy } from '../protocol/traffic';

export interface Endpoint {
  /** The registry's instance id (Consul service ID). */
  id: string;
  node: string;
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
}

export interface PickedEndpoint extends Endpoint {
  /** The subset the pick came from; null when the service has no policy. */
  subset: string | null;
}

/** How an instance is chosen within the chosen subset. */
export type Strategy = 'round-robin' | 'random' | 'least-outstanding' | 'power-of-two';

export interface PickOptions {
  /** Endpoints not to pick now (open breakers, ones already tried for this request). */
  skip?: (id: string) => boolean;
  /** In-flight requests per endpoint, for least-outstanding and power-of-two. */
  outstanding?: (id: string) => number;
}

interface Bucket {
  name: string | null;
  weight: number;
  current: number;
  endpoints: Endpoint[];
  cursor: number;
}

export class TrafficSplit {
  private readonly buckets: Bucket[];

  /** `endpoints`: the instances fit to serve (health already applied). */
  constructor(
    endpoints: readonly Endpoint[],
    policy: TrafficPolicy | null,
    private readonly strategy: Strategy = 'round-robin',
    private readonly random: () => number = Math.random,
  ) {
    // Drain lists may name the service ID alone or node/ID as the topology shows it.
    const live = endpoints.filter((e) => !policy || !isDrained(policy.drain, `${e.node}/${e.id}`));
    if (!policy) {
      this.buckets = live.length ? [{ name: null, weight: 1, current: 0, endpoints: [...live], cursor: 0 }] : [];
    } else {
      this.buckets = Object.entries(policy.subsets)
        .map(([name, subset]) => ({ name, weight: policy.weights[name] ?? 0, current: 0, endpoints: live.filter((e) => inSubset(e, subset)), cursor: 0 }))
        // A weighted subset with nobody to serve gives its share to the others rather than failing it.
        .filter((b) => b.weight > 0 && b.endpoints.length > 0);
    }
  }

  /** How many endpoints can receive traffic under the policy (before breakers). */
  get size(): number {
    return this.buckets.reduce((n, b) => n + b.endpoints.length, 0);
  }

  /** The next endpoint, or null when nothing usable is left in any weighted subset. */
  pick(options: PickOptions = {}): PickedEndpoint | null {
    const { skip } = options;
    let total = 0;
    let best: Bucket | null = null;
    for (const b of this.buckets) {
      if (skip && !b.endpoints.some((e) => !skip(e.id))) continue;
      b.current += b.weight;
      total += b.weight;
      if (!best || b.current > best.current) best = b;
    }
    if (!best) return null;
    best.current -= total;
    const endpoint = this.within(best, options);
    return endpoint && { ...endpoint, subset: best.name };
  }

  private within(b: Bucket, { skip, outstanding }: PickOptions): Endpoint | null {
    const list = b.endpoints;
    const usable = (e: Endpoint) => !skip || !skip(e.id);
    switch (this.strategy) {
      case 'round-robin':
        for (let i = 0; i < list.length; i++) {
          const e = list[b.cursor++ % list.length]!;
          if (usable(e)) return e;
        }
        return null;
      case 'random': {
        const candidates = skip ? list.filter(usable) : list;
        return candidates[Math.floor(this.random() * candidates.length)] ?? null;
      }
      case 'least-outstanding': {
        // Ties go round-robin, so idle instances share the load instead of the first taking it all.
        let chosen: Endpoint | null = null;
        let least = Infinity;
        for (let i = 0; i < list.length; i++) {
          const e = list[(b.cursor + i) % list.length]!;
          if (!usable(e)) continue;
          const n = outstanding?.(e.id) ?? 0;
          if (n < least) [chosen, least] = [e, n];
        }
        b.cursor++;
        return chosen;
      }
      case 'power-of-two': {
        const candidates = skip ? list.filter(usable) : list;
        if (candidates.length <= 1) return candidates[0] ?? null;
        const i = Math.floor(this.random() * candidates.length);
        let j = Math.floor(this.random() * (candidates.length - 1));
        if (j >= i) j++;
        const [x, y] = [candidates[i]!, candidates[j]!];
        return (outstanding?.(y.id) ?? 0) < (outstanding?.(x.id) ?? 0) ? y : x;
      }
    }
  }
}
