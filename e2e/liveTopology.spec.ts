/**
 * The spine, as a user sees it: a real Consul agent, the real Switchboard server (production
 * build) and Debian Chromium. Changes made through Consul's HTTP API must appear without a reload.
 */
import { expect, test } from '@playwright/test';
import { startConsulAgent, type ConsulAgent } from '../test/support/consulAgent';
import { DashboardPage, ServicePage } from './pages/DashboardPage';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

let agent: ConsulAgent;
let switchboard: SwitchboardProcess;

test.beforeAll(async () => {
  agent = await startConsulAgent({ datacenter: 'dc1' });
  switchboard = await startSwitchboard({ sources: [{ kind: 'consul', name: 'local', address: agent.httpAddr }] });
});

test.afterAll(async () => {
  await switchboard?.stop();
  await agent?.stop();
});

const consul = (_method: 'PUT', path: string, body?: unknown) => agent.put(path, body);

/** Set on the page once; still there later only if the page never reloaded. */
async function markPage(page: import('@playwright/test').Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
}
async function expectNoReload(page: import('@playwright/test').Page): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
}

test('register → appears, fail its TTL check → critical, deregister → gone, all without reload', async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.open(switchboard.url);
  await expect(dashboard.source('local')).toHaveAttribute('data-state', 'ok');
  await markPage(page);

  await consul('PUT', '/v1/agent/service/register', {
    ID: 'checkout-1', Name: 'checkout', Address: '127.0.0.1', Port: 9401, Tags: ['blue', 'v3'], Meta: { team: 'payments' },
    Check: { CheckID: 'checkout-1-ttl', Name: 'heartbeat', TTL: '5m', Status: 'passing' },
  });
  const row = dashboard.service('local/dc1/checkout');
  await expect(row).toBeVisible();
  await expect(dashboard.count('local/dc1/checkout', 'passing')).toHaveText('1');
  await expect(row).toContainText('blue');

  await consul('PUT', '/v1/agent/check/fail/checkout-1-ttl?note=' + encodeURIComponent('upstream db unreachable'));
  await expect(dashboard.count('local/dc1/checkout', 'critical')).toHaveText('1');
  await expectNoReload(page);

  // The deep-linkable service page shows the instance, its meta and the failing check's output.
  await row.getByRole('link').first().click();
  await expect(page).toHaveURL(/\/services\/local\/dc1\/checkout$/);
  const servicePage = new ServicePage(page);
  // Instance ids are `<node>/<service id>`; the dev agent's node name is the host's name.
  const instById = servicePage.instanceWithText('127.0.0.1:9401');
  await expect(instById).toHaveAttribute('data-health', 'critical');
  await expect(instById).toContainText('payments');
  await expect(instById.getByTestId('check').filter({ hasText: 'heartbeat' })).toHaveAttribute('data-status', 'critical');
  await expect(instById).toContainText('upstream db unreachable');

  await markPage(page);
  await consul('PUT', '/v1/agent/check/pass/checkout-1-ttl?note=ok');
  await expect(instById).toHaveAttribute('data-health', 'passing');
  await expectNoReload(page);

  await page.goto(`${switchboard.url}/`);
  await expect(dashboard.service('local/dc1/checkout')).toBeVisible();
  await markPage(page);
  await consul('PUT', '/v1/agent/service/deregister/checkout-1');
  await expect(dashboard.service('local/dc1/checkout')).toHaveCount(0);
  await expectNoReload(page);
});

test('Consul stops → stale banner with last-known instances; Consul returns → ok', async ({ page }) => {
  await consul('PUT', '/v1/agent/service/register', {
    ID: 'ledger-1', Name: 'ledger', Port: 9501, Check: { CheckID: 'ledger-1-ttl', TTL: '5m', Status: 'passing' },
  });
  const dashboard = new DashboardPage(page);
  await dashboard.open(switchboard.url);
  await expect(dashboard.service('local/dc1/ledger')).toBeVisible();
  await expect(dashboard.staleBanner).toHaveCount(0);

  await agent.stop();
  await expect(dashboard.source('local')).toHaveAttribute('data-state', 'stale');
  await expect(dashboard.staleBanner).toBeVisible();
  // Last-known-good: the instance is still listed while Consul is gone.
  await expect(dashboard.service('local/dc1/ledger')).toBeVisible();
  await expect(dashboard.count('local/dc1/ledger', 'passing')).toHaveText('1');

  await agent.restart();
  await expect(dashboard.source('local')).toHaveAttribute('data-state', 'ok', { timeout: 30_000 });
  await expect(dashboard.staleBanner).toHaveCount(0);
  // A dev agent restarts empty: the resync removes what Consul no longer has.
  await expect(dashboard.service('local/dc1/ledger')).toHaveCount(0);
});
