import { describe, expect, it } from 'vitest';
import { createSdkMetrics, statusClass } from './promMetrics';
import type { BreakerState } from './instanceBreaker';

describe('SDK Prometheus metrics', () => {
  it('classes answers and never leaves subset empty', async () => {
    expect([200, 302, 404, 503, null, 0, 700].map(statusClass)).toEqual(['2xx', '3xx', '4xx', '5xx', 'error', 'error', 'error']);
    const m = createSdkMetrics();
    m.observe({ caller: 'order-1', callee: 'payment', subset: null, instance: 'payment-1' }, 200, 0.0024);
    m.observe({ caller: 'order-1', callee: 'payment', subset: 'green', instance: 'payment-4' }, null, 0.5);
    const text = await m.registry.metrics();
    expect(text).toContain('switchboard_client_requests_total{caller="order-1",callee="payment",subset="none",instance="payment-1",status="2xx"} 1');
    expect(text).toContain('switchboard_client_requests_total{caller="order-1",callee="payment",subset="green",instance="payment-4",status="error"} 1');
    // The SDK's latency buckets, in seconds: 2.4 ms falls under 3 ms.
    expect(text).toContain('switchboard_client_request_duration_seconds_bucket{le="0.003",caller="order-1",callee="payment",subset="none",instance="payment-1"} 1');
  });

  it('reads breaker states at scrape time, worst state per label set, gone once untracked', async () => {
    const m = createSdkMetrics();
    let a: Record<string, BreakerState> = { 'p-1': 'open', 'p-2': 'closed' };
    const untrackA = m.track({ caller: 'order-1', callee: 'payment', breakers: () => a, guardHolds: () => 2 });
    m.track({ caller: 'order-1', callee: 'payment', breakers: () => ({ 'p-2': 'half-open' }), guardHolds: () => 1 });
    let text = await m.registry.metrics();
    expect(text).toContain('switchboard_client_breaker_state{caller="order-1",callee="payment",instance="p-1"} 2');
    expect(text).toContain('switchboard_client_breaker_state{caller="order-1",callee="payment",instance="p-2"} 1');
    expect(text).toContain('switchboard_client_guard_holds{caller="order-1",callee="payment"} 3');
    a = { 'p-1': 'half-open' };
    expect(await m.registry.metrics()).toContain('instance="p-1"} 1');
    untrackA();
    text = await m.registry.metrics();
    expect(text).not.toContain('instance="p-1"');
  });
});
