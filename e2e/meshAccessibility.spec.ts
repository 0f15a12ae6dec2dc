/**
 * The service page's Mesh panel (xDS on), light and dark: zero axe violations (WCAG 2.1 A/AA),
 * like every other page state in accessibility.spec.ts.
 */
import { expect, test } from '@playwright/test';
import { freePorts } from '../test/support/consulAgent';
import { expectNoAxeViolations } from './support/axe';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

let switchboard: SwitchboardProcess;

test.beforeAll(async () => {
  const [httpPort, dnsPort, xdsPort] = await freePorts(3);
  switchboard = await startSwitchboard({
    embedded: { enabled: true, demo: true, httpPort, dnsPort },
    xds: { port: xdsPort, allowAnonymous: true },
    auth: { anonymousRole: 'viewer', users: [] },
  });
});

test.afterAll(async () => {
  await switchboard?.stop();
});

for (const scheme of ['light', 'dark'] as const) {
  test(`${scheme} scheme: the Mesh panel`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(`${switchboard.url}/services/embedded/dc1/payment`);
    const mesh = page.getByTestId('mesh-panel');
    await expect(mesh).toBeVisible({ timeout: 60_000 });
    await expect(mesh).toContainText('payment');
    await expectNoAxeViolations(page, `${scheme} service page with the Mesh panel`);
  });
}
