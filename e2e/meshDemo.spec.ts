/**
 * The service-mesh demo as the README shows it, in Chromium against the zero-config start: the
 * demo's payment also speaks gRPC (`payment-grpc`), order's xDS client `order-grpc-1` calls it
 * through Switchboard's xDS server. The payment-grpc page's Mesh panel lists that client by node
 * id; enabling traffic control puts every gRPC call on blue, and moving the canary slider as
 * admin moves the gRPC calls — measured by the caller's own counters (GET /stats), not by ours.
 */
import { expect, test, type Page } from '@playwright/test';
import { DashboardPage, ServicePage } from './pages/DashboardPage';
import { SignInPage } from './pages/SignInPage';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

const SERVICE = 'embedded/dc1/payment-grpc';
let switchboard: SwitchboardProcess;

interface CallerStats {
  calls: number;
  ok: number;
  failed: number;
  byColor: Record<string, number>;
}

test.beforeAll(async () => {
  switchboard = await startSwitchboard(null);
});

test.afterAll(async () => {
  await switchboard?.stop();
});

/** order-grpc-1's stats address, found like any service: through the registry. */
async function callerStats(): Promise<() => Promise<CallerStats>> {
  let port = 0;
  await expect
    .poll(
      async () => {
        const services = (await (await fetch(`${switchboard.registry}/v1/agent/services`)).json()) as Record<string, { Port: number }>;
        port = services['order-grpc-1']?.Port ?? 0;
        return port;
      },
      { timeout: 90_000 },
    )
    .toBeGreaterThan(0);
  return async () => (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as CallerStats;
}

/** The next `n` calls the demo's gRPC client makes: how many, how many failed, and per colour. */
async function nextCalls(stats: () => Promise<CallerStats>, n: number): Promise<{ calls: number; failed: number; green: number; blue: number }> {
  const before = await stats();
  let after = before;
  await expect.poll(async () => (after = await stats()).calls - before.calls, { timeout: 60_000, intervals: [250] }).toBeGreaterThanOrEqual(n);
  const diff = (c: string) => (after.byColor[c] ?? 0) - (before.byColor[c] ?? 0);
  return { calls: after.calls - before.calls, failed: after.failed - before.failed, green: diff('green'), blue: diff('blue') };
}

async function signIn(page: Page): Promise<void> {
  const signin = new SignInPage(page);
  await signin.open(switchboard.url);
  await signin.withToken(await switchboard.adminToken());
  await expect(page.getByTestId('user')).toHaveText(/admin \(admin\)/);
}

test('the Mesh panel lists the demo’s gRPC client, and the canary slider moves its gRPC calls', async ({ page }) => {
  await signIn(page);
  const dashboard = new DashboardPage(page);
  // `/` may open on the graph once the demo's calls are reported: the list is /services.
  await dashboard.open(switchboard.url);
  // Eleven demo processes start through tsx: on a busy 2-core machine that takes a while.
  await expect(dashboard.count(SERVICE, 'passing')).toHaveText('5', { timeout: 90_000 });
  const stats = await callerStats();

  await dashboard.service(SERVICE).getByRole('link', { name: 'payment-grpc' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('payment-grpc');
  const mesh = page.getByTestId('mesh-panel');
  await expect(mesh).toContainText('xds:///payment-grpc');
  await expect(mesh.getByTestId('mesh-client').filter({ hasText: 'order-grpc-1' })).toBeVisible({ timeout: 30_000 });

  // Without a policy the client round-robins over all five instances, blue and green.
  const before = await nextCalls(stats, 40);
  expect(before.failed).toBe(0);
  expect(before.green).toBeGreaterThan(0);

  // Traffic control from the tags: every gRPC call goes to blue.
  const service = new ServicePage(page);
  await page.getByTestId('enable-traffic').click();
  await expect(service.split).toHaveAttribute('data-weights', 'blue:100,green:0');
  await expect(mesh).toContainText('payment-grpc#blue 100%');
  await expect.poll(async () => (await nextCalls(stats, 40)).green, { timeout: 30_000 }).toBe(0);

  // The canary slider to 50 %: half of the gRPC calls move to green.
  const slider = service.canarySlider;
  await slider.focus();
  for (let i = 0; i < 5; i++) await page.keyboard.press('PageUp');
  await expect(slider).toHaveAttribute('aria-valuenow', '50');
  await expect(service.history.first()).toHaveAttribute('data-after', 'blue:50,green:50');
  await expect(mesh).toContainText('payment-grpc#green 50%');
  // Once the client has the new route (a call or two may predate it), 200 calls split about evenly.
  await expect.poll(async () => (await nextCalls(stats, 20)).green, { timeout: 30_000 }).toBeGreaterThan(0);
  const canary = await nextCalls(stats, 200);
  expect(canary.failed).toBe(0);
  const greenShare = canary.green / canary.calls;
  expect(greenShare).toBeGreaterThan(0.35);
  expect(greenShare).toBeLessThan(0.65);
});
