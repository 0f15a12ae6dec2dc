/**
 * The README's first command, as a new user meets it: no config file → the embedded registry
 * and the demo fleet, alive in the dashboard. A fault injected into one payment instance turns
 * it critical in the browser, and clearing it brings it back.
 */
import { expect, test } from '@playwright/test';
import { DashboardPage, ServicePage } from './pages/DashboardPage';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

const REGISTRY = 'http://127.0.0.1:18500';
let switchboard: SwitchboardProcess;

test.beforeAll(async () => {
  // The README's ports: this is the only spec that takes them (the others get free ones).
  switchboard = await startSwitchboard(null, {}, { defaultPorts: true });
});

test.afterAll(async () => {
  await switchboard?.stop();
});

test('zero-config start shows the demo fleet live; a readiness fault turns payment-2 critical and back', async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.open(switchboard.url);
  await expect(dashboard.source('embedded')).toHaveAttribute('data-state', 'ok');
  await expect(dashboard.source('embedded')).toContainText('embedded');
  // The fleet's processes start one after another and each check starts critical until probed:
  // on a loaded machine the last of them can pass well after payment's do.
  const fleetStart = { timeout: 30_000 };
  await expect(dashboard.count('embedded/dc1/payment', 'passing')).toHaveText('5', fleetStart);
  await expect(dashboard.count('embedded/dc1/order', 'passing')).toHaveText('2', fleetStart);
  await expect(dashboard.count('embedded/dc1/inventory', 'passing')).toHaveText('2', fleetStart);

  // Find payment-2 the way any client would: through the registry.
  const services = (await (await fetch(`${REGISTRY}/v1/agent/services`)).json()) as Record<string, { Port: number }>;
  const faultUrl = `http://127.0.0.1:${services['payment-2']!.Port}/fault`;
  expect((await fetch(faultUrl, { method: 'POST', body: JSON.stringify({ failReady: true }) })).status).toBe(200);
  await expect(dashboard.count('embedded/dc1/payment', 'critical')).toHaveText('1');

  await dashboard.service('embedded/dc1/payment').getByRole('link').click();
  const instance = new ServicePage(page).instanceWithText(`:${services['payment-2']!.Port}`);
  await expect(instance).toHaveAttribute('data-health', 'critical');
  await expect(instance).toContainText('503');

  expect((await fetch(faultUrl, { method: 'DELETE' })).status).toBe(200);
  await expect(instance).toHaveAttribute('data-health', 'passing');
});
