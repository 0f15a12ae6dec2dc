/**
 * The first minute on a fresh data directory, by keyboard: the first start prints a one-click
 * sign-in link with the admin token in its fragment; following it signs in as admin (the
 * fragment is gone from the address bar); from the list, "/" and Tab reach the payment service,
 * traffic control is enabled and the canary slider moved to 20% with keys alone, focus visible.
 */
import { expect, test, type Locator, type Page } from '@playwright/test';
import { DashboardPage, ServicePage } from './pages/DashboardPage';
import { SignInPage } from './pages/SignInPage';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

let switchboard: SwitchboardProcess;

test.beforeAll(async () => {
  switchboard = await startSwitchboard(null);
});

test.afterAll(async () => {
  await switchboard?.stop();
});

/** Presses Tab until `target` has focus: proof that it is in the tab order. */
async function tabTo(page: Page, target: Locator, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return;
    await page.keyboard.press('Tab');
  }
  await expect(target).toBeFocused();
}

async function expectVisibleFocus(target: Locator): Promise<void> {
  await expect(target).toBeFocused();
  const outline = await target.evaluate((el) => {
    const s = getComputedStyle(el);
    return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) };
  });
  expect(outline.style).not.toBe('none');
  expect(outline.width).toBeGreaterThanOrEqual(2);
}

test('follow the printed link, be admin, move the canary by keyboard alone', async ({ page }) => {
  await expect.poll(() => switchboard.logs(), { timeout: 10_000 }).toContain('signin#token=');
  const link = SignInPage.linkFrom(switchboard.logs());
  expect(link.startsWith(`${switchboard.url}/signin#token=sb_`)).toBe(true);
  // The token is only in the fragment: what a server or proxy log would see is plain /signin.
  expect(new URL(link).search).toBe('');

  await page.goto(link);
  await expect(page.getByTestId('user')).toHaveText(/^admin \(admin\)/);
  expect(new URL(page.url()).hash).toBe('');
  const dashboard = new DashboardPage(page);
  // `/` opens on the graph once the demo's calls are reported, on the list before that: either
  // way the list is one keyboard step away (the header's "Services").
  const list = page.getByTestId('service-row').first();
  await expect(list.or(page.getByTestId('graph-canvas'))).toBeVisible({ timeout: 30_000 });
  if (new URL(page.url()).pathname === '/graph') {
    const services = page.getByTestId('nav-services');
    await tabTo(page, services);
    await expectVisibleFocus(services);
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(`${switchboard.url}/services`);
  }
  await expect(dashboard.connection).toHaveAttribute('data-state', 'live');
  // Nine demo processes start (each through tsx): on a busy 2-core machine that can take a while.
  await expect(dashboard.count('embedded/dc1/payment', 'passing')).toHaveText('5', { timeout: 60_000 });

  // "/" to search, then Tab to the service's link, Enter to open it.
  await page.locator('body').press('/');
  await expect(page.getByTestId('search')).toBeFocused();
  await page.keyboard.type('payment');
  const paymentLink = dashboard.service('embedded/dc1/payment').getByRole('link', { name: 'payment' });
  await tabTo(page, paymentLink);
  await expectVisibleFocus(paymentLink);
  await page.keyboard.press('Enter');
  const service = new ServicePage(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('payment');

  const enable = page.getByTestId('enable-traffic');
  await tabTo(page, enable);
  await expectVisibleFocus(enable);
  await page.keyboard.press('Enter');
  await expect(service.split).toHaveAttribute('data-weights', 'blue:100,green:0');

  const slider = page.getByRole('slider', { name: 'green share' });
  await tabTo(page, slider);
  await expectVisibleFocus(slider);
  await page.keyboard.press('PageUp');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('PageUp');
  await expect(slider).toHaveAttribute('aria-valuenow', '20');
  await expect(slider).toHaveAttribute('aria-valuetext', '20 percent (blue 80 percent)');
  // Written once it settles, and confirmed by the registry's history.
  await expect(service.history.first()).toHaveAttribute('data-after', 'blue:80,green:20');
  await expect(service.split).toHaveAttribute('data-weights', 'blue:80,green:20');
  await expect(page.getByRole('img', { name: 'Traffic split: blue 80%, green 20%' })).toBeVisible();
});

test('a wrong or stale link does not sign in, and says why', async ({ page }) => {
  await page.goto(`${switchboard.url}/signin#token=sb_not-a-real-token`);
  await expect(page.getByRole('alert').filter({ hasText: 'unknown token' })).toBeVisible();
  expect(new URL(page.url()).hash).toBe('');
  await expect(page.getByLabel('Token')).toBeVisible();
});
