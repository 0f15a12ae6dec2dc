/**
 * The traffic policy applied to one service's instances: pick a subset by weight, then an
 * instance within it. Pure and synchronous so a pick costs a few array reads; the watching
 * client builds a new TrafficSplit whenever the instance list or the policy changes.
 *
 * Subsets are chosen by smooth weighted round-robin (nginx's algorithm): over every run of
 * `sum(weights)` picks each subset gets exactly its weight, interleaved rather than in blocks,
 * so a 20% canary sees 20% of requests at any scale, not 20% on average.
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

interface Bucket {
  name: string | null;
  weight: number;
  current: number;
  endpoints: Endpoint[];
  cursor: number;
}

export class TrafficSplit {
  private readonly buckets: Bucket[];
  private readonly total: number;

  /** `endpoints`: the instances fit to serve (health already applied). */
  constructor(endpoints: readonly Endpoint[], policy: TrafficPolicy | null) {
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
    this.total = this.buckets.reduce((sum, b) => sum + b.weight, 0);
  }

  /** How many endpoints can receive traffic now. */
  get size(): number {
    return this.buckets.reduce((n, b) => n + b.endpoints.length, 0);
  }

  /** The next endpoint, or null when no weighted subset has one. `exclude`: ids already tried. */
  pick(exclude?: ReadonlySet<string>): PickedEndpoint | null {
    if (this.buckets.length === 0) return null;
    if (exclude?.size) return this.pickExcluding(exclude);
    let best = this.buckets[0]!;
    for (const b of this.buckets) {
      b.current += b.weight;
      if (b.current > best.current) best = b;
    }
    best.current -= this.total;
    const endpoint = best.endpoints[best.cursor++ % best.endpoints.length]!;
    return { ...endpoint, subset: best.name };
  }

  /** Retry path: the next endpoint by the same rule that is not in `exclude`, if any. */
  private pickExcluding(exclude: ReadonlySet<string>): PickedEndpoint | null {
    for (let i = 0; i < this.size; i++) {
      const p = this.pick();
      if (p && !exclude.has(p.id)) return p;
    }
    return null;
  }
}
