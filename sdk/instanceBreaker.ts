/**
 * One circuit breaker per instance, per calling client, on cockatiel's state machine. It opens
 * after N consecutive failures (default 5, as Envoy's outlier detection ejects) or when the
 * error rate over a rolling window passes a threshold with enough volume; stays open for a
 * cool-down; then lets one probe through (half-open) whose outcome closes or re-opens it.
 * A failure is a thrown error (connection refused, timeout) or a 5xx answer.
 */
import { CircuitState, circuitBreaker, ConsecutiveBreaker, handleAll, SamplingBreaker, type CircuitBreakerPolicy, type IBreaker } from 'cockatiel';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. @default 5 */
  consecutiveFailures?: number;
  /** Error rate (0–1) over `windowMs` that opens it, given `minimumRps`. @default { threshold: 0.5, windowMs: 10_000, minimumRps: 5 } */
  errorRate?: { threshold: number; windowMs: number; minimumRps: number } | null;
  /** How long an open breaker keeps the instance out before one probe. @default 5_000 */
  coolDownMs?: number;
}

/** Opens when either rule says so (cockatiel takes one breaker, so this composes two). */
class EitherBreaker implements IBreaker {
  constructor(private readonly rules: IBreaker[]) {}
  get state(): unknown {
    return this.rules.map((r) => r.state);
  }
  set state(value: unknown) {
    (value as unknown[]).forEach((v, i) => (this.rules[i]!.state = v));
  }
  success(state: CircuitState): void {
    for (const r of this.rules) r.success(state);
  }
  failure(state: CircuitState): boolean {
    // Every rule must see every failure, so no short-circuit.
    return this.rules.map((r) => r.failure(state)).some(Boolean);
  }
}

export class InstanceBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private readonly coolDownMs: number;
  private openedAt = 0;

  constructor(options: BreakerOptions = {}, onChange?: (state: BreakerState) => void) {
    this.coolDownMs = options.coolDownMs ?? 5_000;
    const rate = options.errorRate === undefined ? { threshold: 0.5, windowMs: 10_000, minimumRps: 5 } : options.errorRate;
    const rules: IBreaker[] = [new ConsecutiveBreaker(options.consecutiveFailures ?? 5)];
    if (rate) rules.push(new SamplingBreaker({ threshold: rate.threshold, duration: rate.windowMs, minimumRps: rate.minimumRps }));
    this.policy = circuitBreaker(
      handleAll.orWhenResult((r) => r instanceof Response && r.status >= 500),
      { halfOpenAfter: this.coolDownMs, breaker: new EitherBreaker(rules) },
    );
    this.policy.onBreak(() => (this.openedAt = Date.now()));
    if (onChange) this.policy.onStateChange(() => onChange(this.state()));
  }

  /**
   * The state as an operator reads it: open until the cool-down has passed, then half-open
   * (the next request is the probe) until the probe's outcome closes or re-opens it.
   */
  state(now = Date.now()): BreakerState {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Open:
      case CircuitState.Isolated:
        return now - this.openedAt >= this.coolDownMs ? 'half-open' : 'open';
    }
  }

  /** Whether a new request may go to this instance now: closed, or open with its cool-down over (that request is the probe). */
  available(now = Date.now()): boolean {
    const s = this.policy.state;
    if (s === CircuitState.Closed) return true;
    if (s === CircuitState.Open) return now - this.openedAt >= this.coolDownMs;
    // Half-open: the probe is in flight; cockatiel would queue others behind it.
    return false;
  }

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.policy.execute(({ signal: s }) => fn(s), signal);
  }
}
