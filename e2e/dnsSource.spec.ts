/**
 * DNS in the dashboard, end to end: the embedded registry (with the demo fleet) serves DNS, and
 * a DNS source resolves `_payment._tcp.service.consul` from it. The page shows the TTL window
 * and that the UDP answer was cut (TC) so TCP was used, the five instances with health unknown
 * but linked to the same address:port in the registry, and follows a failing instance leaving DNS.
 */
import { expect, test } from '@playwright/test';
import { freePorts } from '../test/support/consulAgent';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

let switchboard: SwitchboardProcess;

test.beforeAll(async () => {
  const [dnsPort] = await freePorts(1);
  switchboard = await startSwitchboard({
    embedded: { enabled: true, demo: true, dnsPort },
    sources: [{ kind: 'dns', name: 'legacy', servers: [`127.0.0.1:${dnsPort}`], names: ['_payment._tcp.service.consul'], minTtlSeconds: 1 }],
  });
});

test.afterAll(async () => {
  await switchboard?.stop();
});

test('a DNS name next to the registry it comes from: TTL window, TCP fallback, linked health, following changes', async ({ page }) => {
  await page.goto(`${switchboard.url}/services/legacy/dns/_payment._tcp.service.consul`);
  const rows = page.locator('[data-testid="instance-row"]');
  await expect(rows).toHaveCount(5, { timeout: 30_000 });
  const info = page.getByTestId('dns-info');
  await expect(info).toHaveAttribute('data-transport', 'tcp');
  await expect(page.getByTestId('dns-note')).toContainText('UDP answer truncated (TC); resolved over TCP: 5 records');
  await expect(page.getByTestId('dns-record-ttl')).toHaveText('0s');
  await expect(page.getByTestId('dns-effective-ttl')).toHaveText('1s');

  // DNS cannot say whether an instance is healthy; the registry can, and the page links them.
  await expect(rows.first()).toHaveAttribute('data-health', 'unknown');
  const links = page.locator('[data-testid="linked-instance"][data-service-id="embedded/dc1/payment"]');
  await expect(links).toHaveCount(5);
  await expect(links.first()).toContainText('passing');

  // An instance failing readiness leaves the registry's DNS answers, and so this page.
  const services = (await (await fetch(`${switchboard.registry}/v1/agent/services`)).json()) as Record<string, { Port: number }>;
  const port = services['payment-2']!.Port;
  expect((await fetch(`http://127.0.0.1:${port}/fault`, { method: 'POST', body: JSON.stringify({ failReady: true }) })).status).toBe(200);
  await expect(rows).toHaveCount(4);
  await expect(page.locator(`[data-testid="instance-row"][data-instance-id="127.0.0.1:${port}"]`)).toHaveCount(0);
  expect((await fetch(`http://127.0.0.1:${port}/fault`, { method: 'DELETE' })).status).toBe(200);
  await expect(rows).toHaveCount(5);
});
