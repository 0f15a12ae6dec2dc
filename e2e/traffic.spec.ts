/**
 * Traffic control as an operator uses it, against the zero-config start (embedded registry +
 * demo fleet, payment ×3 blue and ×2 green): sign in with the admin token the first start
 * printed, enable traffic control, slide the canary to 20%, flip, roll back, drain — and prove
 * through the control plane's gateway that real requests follow every change.
 */
import { expect, test, type Page } from '@playwright/test';
import { DashboardPage } from './pages/DashboardPage';
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
  ok: boolean;
  subset: string | null;
  instance: string | null;
}

async function gatewayCall(): Promise<Hit> {
  try {
    const r = await fetch(`${switchboard.url}/gw/payment/work`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    return { ok: r.status === 200, subset: r.headers.get('x-switchboard-subset'), instance: r.headers.get('x-switchboard-instance') };
  } catch {
    return { ok: false, subset: null, instance: null };
  }
}

/** `n` requests through the gateway, `concurrency` at a time. */
async function gatewayCalls(n: number, concurrency = 8): Promise<Hit[]> {
  const hits: Hit[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        hits.push(await gatewayCall());
      }
    }),
  );
  return hits;
}

/** Waits until the gateway's own watch has the new policy: `run` consecutive requests all on `subset`. */
async function gatewayFollows(subset: string, run = 20): Promise<void> {
  await expect
    .poll(async () => (await gatewayCalls(run, 4)).every((h) => h.ok && h.subset === subset), { timeout: 15_000, intervals: [100] })
    .toBe(true);
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${switchboard.url}/signin`);
  await page.getByRole('button', { name: 'Access token' }).click();
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('user')).toHaveText(/admin \(admin\)/);
}

test('canary slider to 20%, flip with zero failed requests, roll back, drain — all through the gateway', async ({ page }) => {
  await signIn(page);
  const dashboard = new DashboardPage(page);
  // `/` may open on the graph once the demo's calls are reported: the list is /services.
  await dashboard.open(switchboard.url);
  await expect(dashboard.count('embedded/dc1/payment', 'passing')).toHaveText('5', { timeout: 30_000 });
  await dashboard.service('embedded/dc1/payment').getByRole('link').click();

  const split = page.getByTestId('traffic-split');
  const latest = page.getByTestId('history-entry').first();

  // A service without a policy offers to create one from its tags: all weight on blue.
  await page.getByTestId('enable-traffic').click();
  await expect(split).toHaveAttribute('data-weights', 'blue:100,green:0');
  await expect(page.locator('[data-testid="subset"][data-subset="blue"]')).toContainText('3/3 passing');
  await expect(page.locator('[data-testid="subset"][data-subset="green"]')).toContainText('2/2 passing');

  // The slider is a keyboard-operable slider: Page Up twice = 20%, committed once it settles.
  const slider = page.getByTestId('canary-slider');
  await expect(slider).toHaveAttribute('role', 'slider');
  await slider.focus();
  await page.keyboard.press('PageUp');
  await page.keyboard.press('PageUp');
  await expect(slider).toHaveAttribute('aria-valuenow', '20');
  await expect(split).toHaveAttribute('data-weights', 'blue:80,green:20');
  // The history comes from the registry, so this is the write confirmed, not the optimistic view.
  await expect(latest).toHaveAttribute('data-after', 'blue:80,green:20');

  const canary = await gatewayCalls(2000);
  expect(canary.filter((h) => !h.ok)).toHaveLength(0);
  const greenShare = (canary.filter((h) => h.subset === 'green').length / canary.length) * 100;
  expect(greenShare).toBeGreaterThanOrEqual(17);
  expect(greenShare).toBeLessThanOrEqual(23);

  // Flip, with traffic flowing the whole time: not one request may fail.
  const during: Hit[] = [];
  let flowing = true;
  const load = (async () => {
    while (flowing) during.push(...(await gatewayCalls(8, 4)));
  })();
  await page.getByTestId('flip').click();
  await expect(page.getByRole('dialog')).toContainText('green will receive 100% of payment traffic (2 of 2 instances passing)');
  await page.getByTestId('confirm-flip').click();
  await expect(split).toHaveAttribute('data-weights', 'blue:0,green:100');
  await expect(latest).toHaveAttribute('data-after', 'blue:0,green:100');
  await gatewayFollows('green');
  flowing = false;
  await load;
  expect(during.length).toBeGreaterThan(0);
  expect(during.filter((h) => !h.ok)).toEqual([]);

  // Roll back to the first policy (all blue) in one click.
  await page.locator('[data-testid="history-entry"][data-after="blue:100,green:0"]').getByTestId('rollback').click();
  await expect(split).toHaveAttribute('data-weights', 'blue:100,green:0');
  await gatewayFollows('blue');

  // Drain payment-1: the registry still lists it, clients stop sending it requests.
  const payment1 = page.locator('[data-testid="instance-row"][data-instance-id$="/payment-1"]');
  await payment1.getByTestId('drain-toggle').click();
  await expect(payment1).toHaveAttribute('data-drained', 'true');
  await expect(payment1).toHaveAttribute('data-health', 'passing');
  await expect.poll(async () => (await gatewayCalls(30, 4)).some((h) => h.instance === 'payment-1'), { timeout: 15_000, intervals: [100] }).toBe(false);
  const afterDrain = await gatewayCalls(60, 4);
  expect(new Set(afterDrain.map((h) => h.instance))).toEqual(new Set(['payment-2', 'payment-3']));
});

test('a change made elsewhere shows up live, and a stale operator gets the conflict explained', async ({ page }) => {
  // Independent of the test above (Playwright restarts the server after a failure).
  const api = `${switchboard.url}/api/services/embedded/dc1/payment/traffic`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const subsets = { blue: { tags: ['blue'] }, green: { tags: ['green'] } };
  await expect.poll(async () => (await fetch(api, { method: 'PUT', headers, body: JSON.stringify({ weights: { blue: 100, green: 0 }, subsets, drain: [] }) })).status, { timeout: 30_000 }).toBe(200);
  await signIn(page);
  await page.goto(`${switchboard.url}/services/embedded/dc1/payment`);
  const split = page.getByTestId('traffic-split');
  await expect(split).toHaveAttribute('data-weights', 'blue:100,green:0');

  // Someone else (a script with a token) changes the split: the open page follows without reload.
  const put = await fetch(api, { method: 'PUT', headers, body: JSON.stringify({ weights: { blue: 70, green: 30 }, reason: 'from a pipeline' }) });
  expect(put.status).toBe(200);
  await expect(split).toHaveAttribute('data-weights', 'blue:70,green:30');
  await expect(page.getByTestId('history-entry').first()).toContainText('from a pipeline');

  // Hold the page's next read of the policy, so its ModifyIndex goes stale while another write lands.
  const { modifyIndex } = (await (await fetch(api, { headers })).json()) as { modifyIndex: number };
  await page.route('**/traffic', async (route) => {
    if (route.request().method() !== 'PUT') return route.continue();
    // Just before the page's write reaches the server, another operator's write wins the race.
    await fetch(api, { method: 'PUT', headers: { ...headers, 'if-match': String(modifyIndex) }, body: JSON.stringify({ weights: { blue: 60, green: 40 }, reason: 'raced' }) });
    await route.continue();
  });
  await page.getByTestId('preset-50').click();
  await expect(page.getByTestId('traffic-conflict')).toContainText('Someone else changed this policy first');
  await expect(split).toHaveAttribute('data-weights', 'blue:60,green:40');
});
