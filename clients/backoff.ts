/**
 * Retry pacing shared by every registry client (Consul, Kubernetes, the SDK's registration):
 * an injectable clock and full-jitter exponential backoff.
 */

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (never rejects) when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    }),
};

export interface Backoff {
  /** Cap of the first retry's jitter window; doubles per consecutive failure. */
  initialMs: number;
  maxMs: number;
  /** Floor so full jitter never retries in a hot loop. */
  minMs: number;
}

/** Retries after ~0.1–0.5 s, 1 s, 2 s, … capped at 15 s: a restarted agent is seen within seconds. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 15_000, minMs: 100 };
/** Full jitter: uniform in [minMs, min(maxMs, initialMs·2^(attempt-1))). `attempt` starts at 1. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number): number {
  const cap = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.max(backoff.minMs, Math.floor(random() * cap));
}

