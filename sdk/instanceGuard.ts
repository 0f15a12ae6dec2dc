/**
 * A sanity guard on instance lists (the "panic" protection Eureka and Envoy have): a sudden
 * drop to zero, or by more than a fraction, is more often a registry or network hiccup than
 * a real mass outage. Such a drop is held back — the previous list stays in use — until it has
 * persisted for a confirmation window; smaller changes apply at once. Pure: time is passed in.
 */
export interface InstanceGuardOptions {
  /** A drop by more than this fraction of the list is held. @default 0.5 */
  maxDropFraction?: number;
  /** How long a large drop must persist before it is believed. @default 10_000 */
  confirmMs?: number;
}

export type GuardDecision<T> = { use: T[]; holding: false } | { use: T[]; holding: true; recheckInMs: number };

export class InstanceGuard<T> {
  private readonly maxDrop: number;
  private readonly confirmMs: number;
  private heldSince: number | null = null;
  /** How many drops were held back so far (each held drop counts once). */
  holds = 0;

  constructor(options: InstanceGuardOptions = {}) {
    this.maxDrop = options.maxDropFraction ?? 0.5;
    this.confirmMs = options.confirmMs ?? 10_000;
  }

  /** Given the list in use and the registry's new one, which to use now. */
  decide(current: readonly T[], next: readonly T[], now: number): GuardDecision<T> {
    const dropped = current.length - next.length;
    const suspicious = current.length > 0 && dropped > 0 && (next.length === 0 || dropped / current.length > this.maxDrop);
    if (!suspicious) {
      this.heldSince = null;
      return { use: [...next], holding: false };
    }
    if (this.heldSince === null) {
      this.heldSince = now;
      this.holds++;
    }
    const waited = now - this.heldSince;
    if (waited >= this.confirmMs) {
      this.heldSince = null;
      return { use: [...next], holding: false };
    }
    return { use: [...current], holding: true, recheckInMs: this.confirmMs - waited };
  }
}
