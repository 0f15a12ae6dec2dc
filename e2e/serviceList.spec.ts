/**
 * The service list at fleet scale: 1,200 services in real Consul stay a screenful of DOM
 * (virtualized), filters live in the URL (shareable, survive reload), "/" focuses search.
 */
import { expect, test } from '@playwright/test';
import { startConsulAgent, type ConsulAgent } from '../test/support/consulAgent';
import { DashboardPage } from './pages/DashboardPage';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

const SERVICES = 1200;
let agent: ConsulAgent;
let switchboard: SwitchboardProcess;

test.beforeAll(async () => {
  agent = await startConsulAgent({ datacenter: 'dc1' });
  // Catalog registration on an external node: fast, and no agent anti-entropy to wait for.
  const ids = Array.from({ length: SERVICES }, (_, i) => `bulk-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < ids.length; i += 24) {
    await Promise.all(
      ids.slice(i, i + 24).map((id, j) =>
        agent.put('/v1/catalog/register', {
          Node: `node-${(i + j) % 40}`, Address: `192.0.2.${(i + j) % 40}`,
          Service: { ID: id, Service: id, Port: 8000, Tags: [(i + j) % 2 ? 'blue' : 'green'] },
          Check: { CheckID: `${id}-check`, Name: 'probe', ServiceID: id, Status: id === 'bulk-0042' ? 'critical' : 'passing' },
        }),
      ),
    );
  }
  switchboard = await startSwitchboard({ sources: [{ kind: 'consul', name: 'big', address: agent.httpAddr }] });
});

test.afterAll(async () => {
  await switchboard?.stop();
  await agent?.stop();
});

test('1,200 services render as a virtualized list, filter by URL, and "/" focuses search', async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.open(switchboard.url);
  await expect(page.getByText(`of ${SERVICES + 1} services`)).toBeVisible({ timeout: 30_000 });
  const rendered = await page.getByTestId('service-row').count();
  expect(rendered).toBeGreaterThan(5);
  expect(rendered).toBeLessThan(100);

  await page.locator('body').press('/');
  await expect(page.getByTestId('search')).toBeFocused();
  await page.keyboard.type('bulk-0042');
  await expect(page.getByTestId('service-row')).toHaveCount(1);
  await expect(dashboard.count('big/dc1/bulk-0042', 'critical')).toHaveText('1');
  await expect(page).toHaveURL(/\?q=bulk-0042/);

  // The filtered view is a link someone can share: it survives a reload.
  await page.reload();
  await expect(page.getByTestId('search')).toHaveValue('bulk-0042');
  await expect(page.getByTestId('service-row')).toHaveCount(1);

  await page.goto(`${switchboard.url}/?health=critical`);
  await expect(page.getByTestId('service-row')).toHaveCount(1);
  await expect(dashboard.service('big/dc1/bulk-0042')).toBeVisible();

  await page.goto(`${switchboard.url}/?tag=blue&q=bulk-000`);
  await expect(page.getByTestId('service-row')).toHaveCount(5);
});

test('the list prefetches no route while it loads or scrolls, only the one a reader hovers', async ({ page }) => {
  const prefetches: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('_rsc=')) prefetches.push(new URL(r.url()).pathname);
  });
  const dashboard = new DashboardPage(page);
  await dashboard.open(switchboard.url);
  await expect(page.getByText(`of ${SERVICES + 1} services`)).toBeVisible({ timeout: 30_000 });
  await page.mouse.move(640, 10); // over the header's empty middle, on no link
  await page.mouse.wheel(0, 3000);
  await expect(dashboard.service('big/dc1/bulk-0000')).toHaveCount(0); // scrolled past: other rows rendered
  await page.evaluate(() => new Promise((resolve) => requestIdleCallback(resolve)));
  // Before: the header's links and every row in view were fetched as soon as they showed.
  expect(prefetches).toEqual([]);

  const link = page.getByTestId('service-row').nth(3).getByRole('link');
  const href = (await link.getAttribute('href'))!;
  await link.hover();
  await expect.poll(() => prefetches).toContain(href);
  expect(new Set(prefetches)).toEqual(new Set([href]));
});
