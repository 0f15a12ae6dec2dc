/**
 * A retry budget (as in Envoy and Finagle): retries may add at most `ratio` of the recent
 * request volume, plus a small floor so a quiet client can still retry. Without it, retries
 * multiply load exactly when a service is struggling.
 */
export interface RetryBudgetOptions {
  /** @default 0.2 (retries ≤ 20% of requests) */
  ratio?: number;
  /** Retries always allowed per window, whatever the volume. @default 10 */
  floor?: number;
  /** @default 10_000 */
  windowMs?: number;
  now?: () => number;
}

export class RetryBudget {
  private readonly ratio: number;
  private readonly floor: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private requests: number[] = [];
  private retries: number[] = [];

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.2;
    this.floor = options.floor ?? 10;
    this.windowMs = options.windowMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  request(): void {
    this.requests.push(this.now());
  }

  /** Takes one retry from the budget if there is one left. */
  tryRetry(): boolean {
    const now = this.now();
    const from = now - this.windowMs;
    this.requests = this.requests.filter((t) => t > from);
    this.retries = this.retries.filter((t) => t > from);
    if (this.retries.length >= this.floor + this.ratio * this.requests.length) return false;
    this.retries.push(now);
    return true;
  }
}
