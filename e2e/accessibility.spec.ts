/**
 * axe-core, WCAG 2.1 A and AA, on every state of the zero-config demo an SRE meets — sign-in,
 * the service list with its badges, a service page signed out and signed in as admin (traffic
 * split, canary slider, history with a refused attempt, request charts), and the flip dialog —
 * in the light and in the dark colour scheme. Zero violations, each state.
 */
import { expect, test, type Page } from '@playwright/test';
import { DashboardPage, ServicePage } from './pages/DashboardPage';
import { SignInPage } from './pages/SignInPage';
import { expectNoAxeViolations } from './support/axe';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

const PAYMENT = 'embedded/dc1/payment';
let switchboard: SwitchboardProcess;
let token: string;

test.beforeAll(async () => {
  switchboard = await startSwitchboard(null);
  token = await switchboard.adminToken();
  const api = `${switchboard.url}/api/services/${PAYMENT}/traffic`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const subsets = { blue: { tags: ['blue'] }, green: { tags: ['green'] } };
  // A canary in progress (split bar, slider, list badge) …
  await expect
    .poll(async () => (await fetch(api, { method: 'PUT', headers, body: JSON.stringify({ weights: { blue: 80, green: 20 }, subsets, drain: [], reason: 'canary 20%' }) })).status, { timeout: 30_000 })
    .toBe(200);
  // … and a refused attempt in the history (weights that do not sum to 100).
  expect((await fetch(api, { method: 'PUT', headers, body: JSON.stringify({ weights: { blue: 70, green: 20 }, reason: 'typo' }) })).status).toBe(400);
});

test.afterAll(async () => {
  await switchboard?.stop();
});

/** Waits for what a service page shows once it is live: traffic panel, history, charts with data. */
async function serviceReady(service: ServicePage): Promise<void> {
  await expect(service.split).toHaveAttribute('data-weights', 'blue:80,green:20');
  await expect(service.history.filter({ hasText: 'must sum to 100' }).filter({ hasText: 'refused' })).toBeVisible();
  await expect(service.charts.locator('.recharts-line-curve').first()).toBeVisible({ timeout: 30_000 });
  await expect(service.page.locator('[data-testid="instance-row"]')).toHaveCount(5);
}

/** Signs in and opens the list (`/` may open on the graph once the demo's calls are reported). */
async function signIn(page: Page): Promise<void> {
  await page.goto(`${switchboard.url}/signin#token=${token}`);
  await expect(page.getByTestId('user')).toHaveText(/admin \(admin\)/);
  await new DashboardPage(page).open(switchboard.url);
}

for (const scheme of ['light', 'dark'] as const) {
  test.describe(`${scheme} scheme`, () => {
    test.beforeEach(async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme });
    });

    test('sign-in page', async ({ page }) => {
      const signin = new SignInPage(page);
      await signin.open(switchboard.url);
      await expect(page.locator('html')).toHaveAttribute('data-theme', scheme);
      await expectNoAxeViolations(page, `${scheme} sign-in (token form)`);
      await signin.method('Name and password').click();
      await expectNoAxeViolations(page, `${scheme} sign-in (name and password)`);
      await signin.method('Access token').click();
      await page.getByLabel('Token').fill('wrong');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expect(page.getByRole('alert').filter({ hasText: 'unknown token' })).toBeVisible();
      await expectNoAxeViolations(page, `${scheme} sign-in with an error`);
    });

    test('service list and service page, signed out', async ({ page }) => {
      const dashboard = new DashboardPage(page);
      await dashboard.open(switchboard.url);
      await expect(dashboard.count(PAYMENT, 'passing')).toHaveText('5', { timeout: 30_000 });
      await expect(dashboard.service(PAYMENT).getByTestId('badge-split')).toHaveText(/blue 80% \/ green 20%/);
      await expectNoAxeViolations(page, `${scheme} service list`);

      const service = new ServicePage(page);
      await service.open(switchboard.url, PAYMENT);
      await serviceReady(service);
      await expect(service.canarySlider).toHaveAttribute('aria-disabled', 'true');
      await expectNoAxeViolations(page, `${scheme} service page, signed out`);
    });

    test('service page signed in as admin, and the flip dialog', async ({ page }) => {
      await signIn(page);
      const dashboard = new DashboardPage(page);
      await expect(dashboard.count(PAYMENT, 'passing')).toHaveText('5', { timeout: 30_000 });
      await expectNoAxeViolations(page, `${scheme} service list, signed in`);

      const service = new ServicePage(page);
      await service.open(switchboard.url, PAYMENT);
      await serviceReady(service);
      await expect(service.canarySlider).not.toHaveAttribute('aria-disabled', 'true');
      await expectNoAxeViolations(page, `${scheme} service page, signed in as admin`);

      await service.flipButton.click();
      const dialog = page.getByRole('dialog');
      await expect(dialog).toBeVisible();
      await expect(dialog.getByLabel('Reason (for the audit trail)')).toBeFocused({ timeout: 2_000 }).catch(() => undefined);
      await expectNoAxeViolations(page, `${scheme} flip dialog`);
      await page.keyboard.press('Escape');
      await expect(dialog).toBeHidden();
      // Focus returns to what opened the dialog.
      await expect(service.flipButton).toBeFocused();
    });
  });
}

test('names a screen reader speaks: canary slider, split bar, health counts, badges', async ({ page }) => {
  await signIn(page);
  const dashboard = new DashboardPage(page);
  await expect(dashboard.count(PAYMENT, 'passing')).toHaveText('5', { timeout: 30_000 });
  await expect(dashboard.service(PAYMENT).getByRole('cell').filter({ hasText: '5 passing' })).toHaveCount(1);
  await expect(page.getByRole('columnheader', { name: 'Service' })).toHaveAttribute('aria-sort', 'ascending');

  const service = new ServicePage(page);
  await service.open(switchboard.url, PAYMENT);
  await serviceReady(service);
  const slider = page.getByRole('slider', { name: 'green share' });
  await expect(slider).toHaveAttribute('aria-valuenow', '20');
  await expect(slider).toHaveAttribute('aria-valuetext', '20 percent (blue 80 percent)');
  await expect(page.getByRole('img', { name: 'Traffic split: blue 80%, green 20%' })).toBeVisible();
  await expect(page.getByTestId('service-where')).toHaveText('Embedded registry · datacenter dc1');
  // The refused attempt says what it was, not "no policy".
  await expect(service.history.filter({ hasText: 'must sum to 100' })).not.toContainText('no policy');
});
