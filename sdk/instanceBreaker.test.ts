import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InstanceBreaker } from './instanceBreaker';

const ok = () => Promise.resolve(new Response('ok'));
const err500 = () => Promise.resolve(new Response('boom', { status: 500 }));
const refused = () => Promise.reject(new Error('connect ECONNREFUSED'));

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(0);
});
afterEach(() => vi.useRealTimers());

describe('InstanceBreaker', () => {
  it('opens after 5 consecutive failures (5xx or connection errors), then probes after the cool-down', async () => {
    const changes: string[] = [];
    const b = new InstanceBreaker({ coolDownMs: 5000, errorRate: null }, (s) => changes.push(s));
    for (let i = 0; i < 4; i++) await (i % 2 ? b.execute(err500) : b.execute(refused).catch(() => undefined));
    expect(b.state()).toBe('closed');
    await b.execute(err500);
    expect(b.state()).toBe('open');
    expect(b.available()).toBe(false);
    vi.setSystemTime(4999);
    expect(b.state()).toBe('open');
    vi.setSystemTime(5000);
    expect(b.state()).toBe('half-open');
    expect(b.available()).toBe(true);
    await b.execute(ok);
    expect(b.state()).toBe('closed');
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('re-opens when the half-open probe fails', async () => {
    const b = new InstanceBreaker({ consecutiveFailures: 1, coolDownMs: 1000, errorRate: null });
    await b.execute(err500);
    vi.setSystemTime(1000);
    await b.execute(err500);
    expect(b.state()).toBe('open');
    expect(b.available()).toBe(false);
  });

  it('does not count 4xx answers as failures', async () => {
    const b = new InstanceBreaker({ consecutiveFailures: 2, errorRate: null });
    for (let i = 0; i < 5; i++) await b.execute(() => Promise.resolve(new Response('no', { status: 404 })));
    expect(b.state()).toBe('closed');
  });

  it('opens on an error rate over the window even without 5 in a row, given enough volume', async () => {
    const b = new InstanceBreaker({ errorRate: { threshold: 0.5, windowMs: 10_000, minimumRps: 1 } });
    for (let i = 0; i < 30; i++) {
      vi.setSystemTime(i * 100);
      await b.execute(i % 3 === 0 ? ok : err500);
      if (b.state() === 'open') break;
    }
    expect(b.state()).toBe('open');
  });

  it('stays closed at the same error rate below the minimum volume', async () => {
    const b = new InstanceBreaker({ errorRate: { threshold: 0.5, windowMs: 10_000, minimumRps: 100 } });
    for (let i = 0; i < 30; i++) {
      vi.setSystemTime(i * 100);
      await b.execute(i % 3 === 0 ? ok : err500);
    }
    expect(b.state()).toBe('closed');
  });
});
