import { describe, expect, it } from 'vitest';
import { backoffDelay, BlockingQuery, DEFAULT_BACKOFF, type Clock, type FetchResult } from './blockingQuery';

/** A clock whose sleeps return at once and move time forward; every sleep is recorded. */
function fakeClock(): Clock & { sleeps: number[] } {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
  };
}

type Answer = FetchResult<string, string>;

/** Runs a loop over scripted answers; stops when the script is exhausted. */
async function run(script: Answer[], opts: { random?: () => number; failRound?: (value: string) => boolean; pace?: { bytesPerSecond: number } } = {}) {
  const clock = fakeClock();
  const requested: number[] = [];
  const changes: string[] = [];
  const unchanged: { index: number; indexMoved: boolean }[] = [];
  const errors: { error: string; attempt: number; retryInMs: number }[] = [];
  let i = 0;
  const q: BlockingQuery<string, string> = new BlockingQuery<string, string>({
    clock,
    random: opts.random ?? (() => 0.5),
    pace: opts.pace,
    rateLimit: opts.pace ? { burst: 1000, intervalMs: 1 } : undefined,
    fetch: async ({ index }) => {
      requested.push(index);
      const answer = script[i++];
      if (!answer) {
        void q.stop();
        return { ok: false, error: 'end of script' };
      }
      return answer;
    },
    onChange: (value) => {
      changes.push(value);
      if (opts.failRound?.(value)) return { ok: false, error: `round failed on ${value}` };
    },
    onUnchanged: (info) => {
      unchanged.push(info);
    },
    onError: (error, info) => errors.push({ error, ...info }),
  });
  q.start();
  await waitStopped(q);
  return { requested, changes, unchanged, errors, sleeps: clock.sleeps };
}

async function waitStopped(q: BlockingQuery<string, string>) {
  // The loop stops itself at the end of the script; stop() then resolves once it has exited.
  for (let n = 0; n < 1000 && q.running; n++) await new Promise((r) => setImmediate(r));
  await q.stop();
}

const ok = (value: string, index: number): Answer => ({ ok: true, value, index });

describe('BlockingQuery', () => {
  it('with pace, waits after each answer for as long as its body takes to read at that rate; small bodies not at all', async () => {
    const sized = (value: string, index: number, bytes: number): Answer => ({ ok: true, value, index, bytes });
    const r = await run([sized('a', 5, 2_600_000), sized('b', 6, 100), sized('b', 7, 1_300_000), ok('c', 8)], { pace: { bytesPerSecond: 13_000_000 } });
    expect(r.changes).toEqual(['a', 'b', 'c']);
    // 2.6 MB at 13 MB/s: 200 ms; 100 bytes: under a millisecond, no wait; an unchanged answer is paced too.
    expect(r.sleeps).toEqual([200, 100]);
    const unpaced = await run([sized('a', 5, 2_600_000), sized('b', 6, 2_600_000)]);
    expect(unpaced.sleeps).not.toContain(200); // only the rate limit's waits
  });

  it('sends the last index, and re-reads at 0 when the index goes backwards', async () => {
    const r = await run([ok('a', 5), ok('b', 7), ok('b', 3), ok('c', 4), ok('c', 4)]);
    expect(r.requested).toEqual([0, 5, 7, 0, 4, 4]);
    expect(r.changes).toEqual(['a', 'b', 'c']);
  });

  it('treats an index of 0 or below as 1', async () => {
    const r = await run([ok('a', 0), ok('a', -3)]);
    expect(r.requested).toEqual([0, 1, 1]);
  });

  it('does not report a wake-up whose payload equals the last one', async () => {
    const r = await run([ok('a', 5), ok('a', 5), ok('a', 6), ok('b', 7)]);
    expect(r.changes).toEqual(['a', 'b']);
    expect(r.unchanged).toEqual([
      { index: 5, indexMoved: false },
      { index: 6, indexMoved: true },
    ]);
  });

  it('de-dups by deep equality, not identity', async () => {
    const clock = fakeClock();
    const seen: unknown[] = [];
    const bodies = [{ web: ['a'] }, { web: ['a'] }, { web: ['a', 'b'] }];
    let i = 0;
    const q: BlockingQuery<object, string> = new BlockingQuery<object, string>({
      clock,
      fetch: async () => {
        const body = bodies[i];
        i += 1;
        if (!body) {
          void q.stop();
          return { ok: false, error: 'end' };
        }
        return { ok: true, value: structuredClone(body), index: i };
      },
      onChange: (v) => void seen.push(v),
      onError: () => undefined,
    });
    q.start();
    for (let n = 0; n < 1000 && q.running; n++) await new Promise((r) => setImmediate(r));
    await q.stop();
    expect(seen).toEqual([{ web: ['a'] }, { web: ['a', 'b'] }]);
  });

  it('backs off exponentially with full jitter, capped, and resets after a success', async () => {
    const fail = (e: string): Answer => ({ ok: false, error: e });
    const r = await run([fail('x'), fail('x'), fail('x'), fail('x'), fail('x'), fail('x'), fail('x'), ok('a', 9), fail('y')], {
      random: () => 0.999,
    });
    const delays = r.errors.map((e) => e.retryInMs);
    expect(r.errors.map((e) => e.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 1]);
    expect(delays.slice(0, 7)).toEqual([499, 999, 1998, 3996, 7992, 14985, 14985]);
    expect(delays[7]).toBe(499);
    // After a failure the loop starts over at index 0 and delivers the next payload again.
    expect(r.requested.slice(7)).toEqual([0, 9, 0]);
  });

  it('keeps the first retries quick and never retries in a hot loop', () => {
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0)).toBe(DEFAULT_BACKOFF.minMs);
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0.999)).toBeLessThan(1000);
    expect(backoffDelay(2, DEFAULT_BACKOFF, () => 0.999)).toBeLessThan(1000);
    expect(backoffDelay(50, DEFAULT_BACKOFF, () => 0.999)).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
  });

  it('re-delivers the payload after a failed round so the caller can retry its work', async () => {
    let failedOnce = false;
    const r = await run([ok('a', 5), ok('a', 5)], {
      failRound: () => {
        if (failedOnce) return false;
        failedOnce = true;
        return true;
      },
    });
    expect(r.changes).toEqual(['a', 'a']);
    expect(r.errors[0]?.error).toBe('round failed on a');
    expect(r.requested.slice(0, 2)).toEqual([0, 0]);
  });

  it('rate-limits a churning endpoint after a burst of two', async () => {
    const r = await run([ok('a', 1), ok('b', 2), ok('c', 3), ok('d', 4), ok('e', 5)]);
    expect(r.changes).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Two requests back to back, then one per 500 ms (the script's end request waits too).
    expect(r.sleeps).toEqual([500, 500, 500, 500]);
  });

  it('stop() aborts the in-flight request and resolves when the loop has exited', async () => {
    let seenSignal: AbortSignal | null = null;
    const q = new BlockingQuery<string, string>({
      clock: fakeClock(),
      fetch: ({ signal }) => {
        seenSignal = signal;
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, error: 'aborted' })));
      },
      onChange: () => undefined,
      onError: () => {
        throw new Error('an abort during stop is not an error');
      },
    });
    q.start();
    await new Promise((r) => setImmediate(r));
    expect(seenSignal).not.toBeNull();
    await q.stop();
    expect(seenSignal!.aborted).toBe(true);
    expect(q.running).toBe(false);
  });
});
