/**
 * A rollout as an operator runs it from the service page, against the zero-config start with
 * the demo's green payment instances deployed as a failing release (DEMO_GREEN_RELEASE=failing:
 * a quarter of their requests answer 500, readiness stays green). The operator starts a rollout
 * from the panel; the analysis (short interval) fails the canary by itself, traffic goes back to
 * stable, and the panel says why — metric, value, threshold — and the list shows the badge.
 */
import { expect, test, type Locator, type Page } from '@playwright/test';
import { ServicePage } from './pages/DashboardPage';
import { SignInPage } from './pages/SignInPage';
import { expectNoAxeViolations } from './support/axe';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

/** The rollout panel's stable hooks. */
class RolloutPanel {
  constructor(readonly page: Page) {}
  get root(): Locator {
    return this.page.getByTestId('rollout-panel');
  }
  get state(): Locator {
    return this.root.getByTestId('rollout-state');
  }
  get message(): Locator {
    return this.root.getByTestId('rollout-message');
  }
  get weight(): Locator {
    return this.root.getByTestId('rollout-weight');
  }
  async start(options: { interval: string; minRequests: string; failureLimit: string }): Promise<void> {
    await this.root.getByRole('button', { name: 'Start rollout' }).click();
    const form = this.root.getByRole('form', { name: 'Start rollout' });
    await form.getByLabel('Canary subset').selectOption('green');
    await form.getByRole('radio', { name: /20 \/ 40 \/ 60/ }).check();
    await form.getByLabel('Interval (e.g. 30s)').fill(options.interval);
    await form.getByLabel('Min canary requests').fill(options.minRequests);
    await form.getByLabel('Failed intervals before rollback').fill(options.failureLimit);
    await form.getByLabel('Reason').fill('payment 1.1 (failing build)');
    await expectNoAxeViolations(this.page, 'the start-rollout form');
    // Keyboard, not a click: the form submits with Enter like any form.
    await form.getByLabel('Reason').press('Enter');
  }
}

let switchboard: SwitchboardProcess;

test.beforeAll(async () => {
  switchboard = await startSwitchboard(null, { DEMO_GREEN_RELEASE: 'failing' });
});

test.afterAll(async () => {
  await switchboard?.stop();
});

test('a failing release started from the panel rolls back by itself and the panel says why', async ({ page }) => {
  const signIn = new SignInPage(page);
  await signIn.open(switchboard.url);
  await signIn.withToken(await switchboard.adminToken());
  await expect(page.getByTestId('user')).toHaveText(/admin \(admin\)/);

  const service = new ServicePage(page);
  await service.open(switchboard.url, 'embedded/dc1/payment');
  const panel = new RolloutPanel(page);
  // Traffic control is off: starting the rollout enables it from the blue/green tags.
  await expect(panel.root).toContainText('No rollout');
  await panel.start({ interval: '2s', minRequests: '2', failureLimit: '1' });
  await expect(panel.state).toHaveText('Progressing');
  await expect(panel.root.locator('[aria-current="step"]')).toContainText('20%');
  await expectNoAxeViolations(page, 'a rollout in progress');

  await expect(panel.state).toHaveText('Failed', { timeout: 90_000 });
  // The release fails on its errors; an interval of a few requests on a loaded machine may show
  // the canary's p99 first (25 % errors can be none of four requests). Either way the panel names
  // the metric, its value and the threshold.
  await expect(panel.message).toContainText(/Rolled back: canary (error rate [\d.]+ % > 1 %|p99 [\d.]+ ms > [\d.]+× stable [\d.]+ ms).* for 1 interval/);
  await expect(panel.weight).toContainText('green (canary) 0%');
  await expect(page.getByTestId('traffic-panel')).toContainText('rollout payment failed: blue 100%');
  await expect(panel.root.getByRole('figure', { name: 'Error % per interval' })).toBeVisible();
  await expectNoAxeViolations(page, 'a failed rollout with its analysis chart');

  await page.goto(`${switchboard.url}/services`);
  await expect(page.locator('[data-testid="service-row"][data-service-id="embedded/dc1/payment"]').getByTestId('badge-rollout')).toHaveText(/rollout failed/);
  await expectNoAxeViolations(page, 'the service list with a failed-rollout badge');
});
