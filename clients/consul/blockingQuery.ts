/**
 * One reusable Consul blocking-query loop (registry-semantics.md A2), free of I/O: the
 * request, the clock and randomness are injected. It owns the index rules, a token bucket
 * against churn, backoff on errors and payload de-dup; the caller owns what a change means.
 *
 * Index rules: send the last index; an index that goes backwards (snapshot restore, rebuilt
 * cluster) resets to 0 for an immediate non-blocking re-read; an index ≤ 0 counts as 1.
 * After any failure the loop also restarts at index 0 and forgets the last payload, so the
 * first answer after an outage is always delivered (the caller resyncs on it) and is not held
 * back by a wait on an index from before the outage.
 */
import { isDeepStrictEqual } from 'node:util';
import { backoffDelay, DEFAULT_BACKOFF, systemClock, type Backoff, type Clock } from '../backoff';

export { backoffDelay, DEFAULT_BACKOFF, systemClock, type Backoff, type Clock } from '../backoff';

/** `bytes`, when known, is the answer's body size: what `pace` spaces requests by. */
export type FetchResult<T, E> = { ok: true; value: T; index: number; bytes?: number } | { ok: false; error: E };
/** What a change handler reports: nothing for success, or an error that counts as a failed round. */
export type RoundResult<E> = void | { ok: false; error: E };

export interface RateLimit {
  /** Requests allowed back to back. */
  burst: number;
  /** One more request per this many ms once the burst is spent. */
  intervalMs: number;
}

/**
 * Burst 2, then one request per 500 ms. The reference suggests one per 15 s for generic
 * watchers; a dashboard wants check flips on screen within about a second, and two requests
 * a second per watch is negligible load for an agent.
 */
export const DEFAULT_RATE_LIMIT: RateLimit = { burst: 2, intervalMs: 500 };
/** Consul's own default wait; longer is clamped to 10 min by the server anyway. */
// 60 s rather than Consul's 5 min default: every answer, even an unchanged one, confirms the
// view is current, so an idle but healthy registry never shows "synced 4m ago". Idle cost:
// two requests per minute per datacenter.
export const DEFAULT_WAIT_MS = 60_000;

export interface BlockingQueryOptions<T, E> {
  /** One request. `index` 0 means "answer now". Must honour `signal`. */
  fetch: (req: { index: number; waitMs: number; signal: AbortSignal }) => Promise<FetchResult<T, E>>;
  /** A new payload (the first, the first after an error, or one that differs). Awaited before the next request. */
  onChange: (value: T, info: { index: number }) => RoundResult<E> | Promise<RoundResult<E>>;
  /** A successful answer whose payload equals the last one (a wait timeout or an idempotent write). */
  onUnchanged?: (info: { index: number; indexMoved: boolean }) => RoundResult<E> | Promise<RoundResult<E>>;
  /** A failed request or round; the loop retries after `retryInMs`. */
  onError: (error: E, info: { attempt: number; retryInMs: number }) => void;
  /** @default DEFAULT_WAIT_MS (60 s) */
  waitMs?: number;
  /** @default DEFAULT_RATE_LIMIT */
  rateLimit?: RateLimit;
  /**
   * Spaces requests by what the last answer cost to read: after `bytes`, the next request waits
   * `bytes / bytesPerSecond` seconds (on top of the rate limit). Only a body that grows with the
   * churn is slowed — a list of thousands of critical checks, re-read whole on every wake —
   * so that re-reading it cannot take the registry's and this process's CPU. @default none
   */
  pace?: { bytesPerSecond: number };
  /** @default DEFAULT_BACKOFF */
  backoff?: Backoff;
  /** @default systemClock */
  clock?: Clock;
  /** @default Math.random */
  random?: () => number;
  /** Payload equality for de-dup. @default node:util isDeepStrictEqual */
  equals?: (a: T, b: T) => boolean;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly limit: RateLimit, private readonly clock: Clock) {
    this.tokens = limit.burst;
    this.last = clock.now();
  }

  /** Takes one token, sleeping until one is available (or `signal` aborts). */
  async take(signal: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      this.tokens = Math.min(this.limit.burst, this.tokens + (now - this.last) / this.limit.intervalMs);
      this.last = now;
      if (this.tokens >= 1 || signal.aborted) {
        this.tokens -= 1;
        return;
      }
      await this.clock.sleep(Math.ceil((1 - this.tokens) * this.limit.intervalMs), signal);
    }
  }
}

export class BlockingQuery<T, E> {
  private readonly controller = new AbortController();
  private done: Promise<void> | null = null;
  private index = 0;
  private last: { value: T } | null = null;

  constructor(private readonly options: BlockingQueryOptions<T, E>) {}

  get running(): boolean {
    return this.done !== null && !this.controller.signal.aborted;
  }

  start(): void {
    if (this.done || this.controller.signal.aborted) return;
    this.done = this.loop();
  }

  /** Aborts the in-flight request or sleep; resolves once the loop has exited. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.done;
  }

  private async loop(): Promise<void> {
    const o = this.options;
    const clock = o.clock ?? systemClock;
    const random = o.random ?? Math.random;
    const backoff = o.backoff ?? DEFAULT_BACKOFF;
    const waitMs = o.waitMs ?? DEFAULT_WAIT_MS;
    const equals = o.equals ?? isDeepStrictEqual;
    const bucket = new TokenBucket(o.rateLimit ?? DEFAULT_RATE_LIMIT, clock);
    const signal = this.controller.signal;
    let attempt = 0;

    const failed = async (error: E) => {
      if (signal.aborted) return;
      attempt += 1;
      this.index = 0;
      this.last = null;
      const retryInMs = backoffDelay(attempt, backoff, random);
      o.onError(error, { attempt, retryInMs });
      await clock.sleep(retryInMs, signal);
    };

    while (!signal.aborted) {
      await bucket.take(signal);
      if (signal.aborted) break;
      const res = await o.fetch({ index: this.index, waitMs, signal });
      if (signal.aborted) break;
      if (!res.ok) {
        await failed(res.error);
        continue;
      }
      const index = res.index <= 0 ? 1 : res.index;
      if (index < this.index) {
        // Went backwards: the server's history was replaced. Re-read without blocking; the
        // payload de-dup below keeps the re-read from reporting the same data twice.
        this.index = 0;
        continue;
      }
      const paceMs = o.pace && res.bytes ? (res.bytes / o.pace.bytesPerSecond) * 1000 : 0;
      const indexMoved = index !== this.index;
      this.index = index;
      let round: RoundResult<E>;
      if (this.last && equals(this.last.value, res.value)) {
        round = await o.onUnchanged?.({ index, indexMoved });
      } else {
        this.last = { value: res.value };
        round = await o.onChange(res.value, { index });
      }
      if (round && !round.ok) {
        await failed(round.error);
        continue;
      }
      attempt = 0;
      if (paceMs >= 1) await clock.sleep(Math.round(paceMs), signal);
    }
  }
}
