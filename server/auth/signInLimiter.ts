/**
 * Sign-in throttling. Every password attempt runs scrypt on the libuv pool that file and DNS
 * work share, so attempts are limited per client address and, for failures, per user name
 * (spreading guesses over many addresses does not help), and only a few run at once. A refused
 * attempt says when to retry. Keys are bounded: the least recently used are forgotten first.
 */

export interface SignInLimiterOptions {
  /** Attempts per address per minute (burst the same). @default 10 */
  perAddressPerMinute?: number;
  /** Failed attempts per user name per minute (burst the same). @default 5 */
  failuresPerUserPerMinute?: number;
  /** Password checks running at once; more are refused. @default 4 */
  concurrent?: number;
  /** Addresses and names remembered at most. @default 10000 */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per key in a bounded, LRU-ordered map. */
class Buckets {
  private readonly map = new Map<string, Bucket>();
  constructor(
    private readonly capacity: number,
    private readonly perMs: number,
    private readonly maxKeys: number,
  ) {}

  /** Milliseconds until `key` may spend a token (0 = now). */
  wait(key: string, now: number): number {
    const b = this.refill(key, now);
    return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) / this.perMs);
  }

  spend(key: string, now: number): void {
    const b = this.refill(key, now);
    b.tokens = Math.max(0, b.tokens - 1);
  }

  get size(): number {
    return this.map.size;
  }

  private refill(key: string, now: number): Bucket {
    let b = this.map.get(key);
    if (b) this.map.delete(key);
    else b = { tokens: this.capacity, at: now };
    b.tokens = Math.min(this.capacity, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    this.map.set(key, b);
    while (this.map.size > this.maxKeys) this.map.delete(this.map.keys().next().value as string);
    return b;
  }
}

export type Admission = { ok: true; release: (succeeded: boolean) => void } | { ok: false; retryAfterS: number; why: string };

export class SignInLimiter {
  private readonly byAddress: Buckets;
  private readonly byUser: Buckets;
  private readonly concurrent: number;
  private readonly now: () => number;
  private running = 0;

  constructor(options: SignInLimiterOptions = {}) {
    const perAddress = options.perAddressPerMinute ?? 10;
    const perUser = options.failuresPerUserPerMinute ?? 5;
    const maxKeys = options.maxKeys ?? 10_000;
    this.byAddress = new Buckets(perAddress, perAddress / 60_000, maxKeys);
    this.byUser = new Buckets(perUser, perUser / 60_000, maxKeys);
    this.concurrent = options.concurrent ?? 4;
    this.now = options.now ?? Date.now;
  }

  /** Whether an attempt from `address` (for `user`, if a name was given) may run now. */
  admit(address: string, user: string | null): Admission {
    const now = this.now();
    const addressWait = this.byAddress.wait(address, now);
    if (addressWait > 0) return { ok: false, retryAfterS: Math.ceil(addressWait / 1000), why: 'too many sign-in attempts from your address' };
    const userWait = user === null ? 0 : this.byUser.wait(user, now);
    if (userWait > 0) return { ok: false, retryAfterS: Math.ceil(userWait / 1000), why: `too many failed sign-in attempts for "${user}"` };
    if (this.running >= this.concurrent) return { ok: false, retryAfterS: 1, why: 'too many sign-in attempts at once' };
    this.byAddress.spend(address, now);
    this.running++;
    let released = false;
    return {
      ok: true,
      release: (succeeded) => {
        if (released) return;
        released = true;
        this.running--;
        if (!succeeded && user !== null) this.byUser.spend(user, this.now());
      },
    };
  }

  /** Addresses and names currently remembered (bounded by maxKeys each). */
  get trackedKeys(): number {
    return this.byAddress.size + this.byUser.size;
  }
}
