/** With `anonymousRole: null`, the browser must sign in with a token before it sees anything; then UI preferences. */
import { expect, test } from '@playwright/test';
import { DashboardPage } from './pages/DashboardPage';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

let switchboard: SwitchboardProcess;

test.beforeAll(async () => {
  switchboard = await startSwitchboard(
    {
      // Nothing listens on port 1: the source is down, which must not block signing in.
      sources: [{ kind: 'consul', name: 'nowhere', address: 'http://127.0.0.1:1' }],
      auth: { anonymousRole: null, users: [{ name: 'vic', role: 'viewer', token: 'env:VIC_TOKEN' }, { name: 'pat', role: 'operator', password: 'env:PAT_PASSWORD' }] },
    },
    { VIC_TOKEN: 'vic-secret-token', PAT_PASSWORD: 'correct horse battery' },
  );
});

test.afterAll(async () => {
  await switchboard?.stop();
});

test('an anonymous visitor is sent to sign-in; a wrong token is refused; the right one opens the dashboard', async ({ page }) => {
  await page.goto(`${switchboard.url}/`);
  await expect(page).toHaveURL(/\/signin\?next=%2F/);

  await page.getByRole('button', { name: 'Access token' }).click();
  await page.getByLabel('Token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'unknown token' })).toBeVisible();

  await page.getByLabel('Token').fill('vic-secret-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${switchboard.url}/`);
  const dashboard = new DashboardPage(page);
  await expect(dashboard.connection).toHaveAttribute('data-state', 'live');
  await expect(dashboard.source('nowhere')).toHaveAttribute('data-state', 'down');
  await expect(dashboard.staleBanner).toContainText('nowhere is unreachable');
  await expect(page.getByText('No services registered in nowhere')).toBeVisible();
});

test('a person signs in with name and password, sees who they are, and signs out', async ({ page }) => {
  await page.goto(`${switchboard.url}/signin`);
  // This server has password users, so the page opens on that form (the token form is one click away).
  await expect(page.getByLabel('Name', { exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Access token' }).click();
  await expect(page.getByLabel('Token')).toBeVisible();
  await page.getByRole('button', { name: 'Name and password' }).click();
  await page.getByLabel('Name', { exact: true }).fill('pat');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'wrong name or password' })).toBeVisible();
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('user')).toHaveText(/pat \(operator\)/);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
});

test('a method chosen while the page still asks the server which one to open on is kept', async ({ page }) => {
  // Regression: the answer (this server has password users) used to switch the form to the
  // password fields after the click on "Access token" (a CI run failed on it).
  let answer: () => void = () => undefined;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  await page.route('**/api/session', async (route) => {
    if (route.request().method() === 'GET') await answered;
    await route.continue();
  });
  await page.goto(`${switchboard.url}/signin`);
  const tokenMethod = page.getByRole('button', { name: 'Access token' });
  await expect(tokenMethod).toBeDisabled();
  answer();
  await tokenMethod.click();
  await page.getByLabel('Token').fill('vic-secret-token');
  await expect(page.getByLabel('Token')).toHaveValue('vic-secret-token');
  await expect(page.getByLabel('Name', { exact: true })).toHaveCount(0);
});

test('the theme toggle switches to dark, and the choice survives a reload', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto(`${switchboard.url}/signin`);
  await page.getByRole('button', { name: 'Access token' }).click();
  await page.getByLabel('Token').fill('vic-secret-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  await page.getByRole('radio', { name: 'Dark theme' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.reload();
  // Set by the inline bootstrap script before React runs: no light flash for dark users.
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await expect(page.getByRole('radio', { name: 'Dark theme' })).toHaveAttribute('aria-checked', 'true');
});
