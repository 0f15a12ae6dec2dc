/**
 * Circuit breakers seen in the dashboard, against the zero-config start: one payment instance
 * answers 500 while its health check still passes. The gateway's breaker for it opens (and the
 * order service's, whose SDK client reports too), the badge says OPEN, and the gateway stops
 * sending it requests; once the fault is cleared the badge goes HALF-OPEN, then CLOSED after a
 * successful probe. The service's request charts fill from the same reports.
 */
import { expect, test } from '@playwright/test';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

let switchboard: SwitchboardProcess;
let token: string;

test.beforeAll(async () => {
  switchboard = await startSwitchboard(null);
  token = await switchboard.adminToken();
});

test.afterAll(async () => {
  await switchboard?.stop();
});

interface Hit {
  status: number;
  instance: string | null;
  attempts: number;
}

async function gatewayCalls(n: number): Promise<Hit[]> {
  const hits: Hit[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${switchboard.url}/gw/payment/work`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    hits.push({ status: r.status, instance: r.headers.get('x-switchboard-instance'), attempts: Number(r.headers.get('x-switchboard-attempts')) });
  }
  return hits;
}

test('a failing instance: breaker OPEN in the dashboard, the gateway stops using it, then HALF-OPEN and CLOSED', async ({ page }) => {
  await page.goto(`${switchboard.url}/services/embedded/dc1/payment`);
  await expect(page.locator('[data-testid="instance-row"]')).toHaveCount(5, { timeout: 30_000 });

  const services = (await (await fetch(`${switchboard.registry}/v1/agent/services`)).json()) as Record<string, { Port: number }>;
  const demo = `http://127.0.0.1:${services['payment-2']!.Port}`;
  expect((await fetch(`${demo}/fault`, { method: 'POST', body: JSON.stringify({ errorRate: 1 }) })).status).toBe(200);

  // Callers are not hurt: a GET that meets the failing instance is retried on another one.
  const during = await gatewayCalls(40);
  expect(during.filter((h) => h.status !== 200)).toEqual([]);
  expect(during.some((h) => h.attempts > 1)).toBe(true);

  const payment2 = page.locator('[data-testid="instance-row"][data-instance-id$="/payment-2"]');
  const badge = payment2.getByTestId('breaker');
  const started = Date.now();
  await expect(badge).toHaveAttribute('data-state', 'open');
  console.log(`breaker badge OPEN ${Date.now() - started} ms after the failing calls`);
  // The registry still says passing: the breaker is what keeps traffic away.
  await expect(payment2).toHaveAttribute('data-health', 'passing');

  const before = ((await (await fetch(`${demo}/stats`)).json()) as { received: number }).received;
  const whileOpen = await gatewayCalls(40);
  expect(whileOpen.every((h) => h.status === 200 && h.attempts === 1 && h.instance !== 'payment-2')).toBe(true);
  const after = ((await (await fetch(`${demo}/stats`)).json()) as { received: number }).received;
  // Only the order service's occasional half-open probe may reach it, never the gateway's 40 calls.
  expect(after - before).toBeLessThan(5);

  // Healthy again: after the cool-down the breaker lets a probe through (half-open) …
  expect((await fetch(`${demo}/fault`, { method: 'DELETE' })).status).toBe(200);
  await expect(badge).toHaveAttribute('data-state', 'half-open', { timeout: 20_000 });
  // … and a successful probe closes it.
  await expect.poll(async () => {
    await gatewayCalls(10);
    return badge.getAttribute('data-state');
  }, { timeout: 20_000 }).toBe('closed');

  // The charts show what the clients reported.
  const charts = page.getByTestId('service-charts');
  await expect(charts).toContainText('switchboard-gateway');
  await expect(charts.locator('figure')).toHaveCount(3);
  await expect(charts.locator('.recharts-line-curve').first()).toBeVisible();
});
