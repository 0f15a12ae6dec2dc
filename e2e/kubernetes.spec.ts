/**
 * Kubernetes next to Consul in one dashboard: a real Consul agent and a Kubernetes API server
 * (the fake that speaks EndpointSlice v1; the adapter suite also runs against a real
 * kube-apiserver). An endpoint turning not-ready shows up live; the API server going away
 * leaves the last-known-good view, marked stale.
 */
import { expect, test } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConsulAgent, type ConsulAgent } from '../test/support/consulAgent';
import { startFakeKubeApiServer, type FakeKubeApiServer, type KubeObject } from '../test/support/fakeKubeApiServer';
import { pod, service, slice, writeKubeconfig } from '../test/support/kubernetesSuite';
import { DashboardPage } from './pages/DashboardPage';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

let agent: ConsulAgent;
let kube: FakeKubeApiServer;
let switchboard: SwitchboardProcess;
const put = (resource: 'services' | 'pods' | 'endpointslices', o: Record<string, unknown>) => kube.put(resource, o as unknown as KubeObject);

test.beforeAll(async () => {
  agent = await startConsulAgent({ datacenter: 'dc1' });
  await agent.registerService({ ID: 'web-1', Name: 'web', Port: 8080, Check: { CheckID: 'web-1-ttl', TTL: '10m', Status: 'passing' } });
  kube = await startFakeKubeApiServer();
  put('pods', pod('checkout-1', { app: 'checkout', color: 'blue' }));
  put('pods', pod('checkout-2', { app: 'checkout', color: 'green' }));
  put('services', service('checkout'));
  put('endpointslices', slice('checkout-x', 'checkout', [{ ip: '192.0.2.1', ready: true, pod: 'checkout-1' }, { ip: '192.0.2.2', ready: true, pod: 'checkout-2' }], 'v1'));
  const kubeconfig = writeKubeconfig(mkdtempSync(join(tmpdir(), 'sb-e2e-k8s-')), kube.url, kube.token, { insecure: true });
  switchboard = await startSwitchboard(
    {
      sources: [
        { kind: 'consul', name: 'consul', address: agent.httpAddr },
        { kind: 'kubernetes', name: 'k8s', kubeconfig, namespaces: ['shop'] },
      ],
      auth: { anonymousRole: 'viewer', users: [{ name: 'ops', role: 'operator', token: 'env:OPS_TOKEN' }] },
    },
    { OPS_TOKEN: 'ops-token-123' },
  );
});

test.afterAll(async () => {
  await switchboard?.stop();
  await kube?.stop();
  await agent?.stop();
});

test('the same traffic panel flips a Kubernetes service: annotation and selector patched', async ({ page }) => {
  await page.goto(`${switchboard.url}/signin`);
  await page.getByRole('button', { name: 'Access token' }).click();
  await page.getByLabel('Token').fill('ops-token-123');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('user')).toHaveText(/ops \(operator\)/);
  await page.goto(`${switchboard.url}/services/k8s/shop/checkout`);
  await page.getByTestId('enable-traffic').click();
  const split = page.getByTestId('traffic-split');
  await expect(split).toHaveAttribute('data-weights', /blue:(100|0),green:(0|100)/);
  const readService = async () => (await (await fetch(`${kube.url}/api/v1/namespaces/shop/services/checkout`, { headers: { authorization: `Bearer ${kube.token}` } })).json()) as { spec: { selector: Record<string, string> }; metadata: { annotations: Record<string, string> } };
  const before = (await readService()).spec.selector.color;
  const target = before === 'blue' ? 'green' : 'blue';
  await page.getByTestId('flip').click();
  await page.getByTestId('confirm-flip').click();
  await expect(page.getByTestId('history-entry').first()).toContainText(`flip to ${target}`);
  const after = await readService();
  expect(after.spec.selector).toEqual({ app: 'checkout', color: target });
  expect(JSON.parse(after.metadata.annotations['switchboard.dev/traffic']!).weights[target]).toBe(100);
});

test('a Kubernetes service and a Consul service in one view; readiness live; API server down → stale, last-known-good kept', async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.open(switchboard.url);
  await expect(dashboard.count('consul/dc1/web', 'passing')).toHaveText('1');
  await expect(dashboard.count('k8s/shop/checkout', 'passing')).toHaveText('2');
  await expect(dashboard.source('k8s')).toHaveAttribute('data-state', 'ok');
  await expect(dashboard.source('k8s').getByTestId('source-detail')).toHaveText('· EndpointSlices discovery.k8s.io/v1');

  put('endpointslices', slice('checkout-x', 'checkout', [{ ip: '192.0.2.1', ready: true, pod: 'checkout-1' }, { ip: '192.0.2.2', ready: false, pod: 'checkout-2' }], 'v1'));
  await expect(dashboard.count('k8s/shop/checkout', 'critical')).toHaveText('1');

  await dashboard.service('k8s/shop/checkout').getByRole('link').click();
  // A Kubernetes scope is a namespace, not a datacenter.
  await expect(page.getByTestId('service-where')).toHaveText('Kubernetes k8s · namespace shop');
  const green = page.locator('[data-testid="instance-row"][data-instance-id="192.0.2.2:8080"]');
  await expect(green).toHaveAttribute('data-health', 'critical');
  await expect(green).toContainText('color=green');

  await kube.stop();
  await expect(page.getByTestId('stale-banner')).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('[data-testid="instance-row"]')).toHaveCount(2);

  // In the list, the stale source's services carry a badge and can be filtered on it.
  await page.goto(`${switchboard.url}/?badge=stale`);
  await expect(page.getByTestId('service-row')).toHaveCount(1);
  await expect(dashboard.service('k8s/shop/checkout').getByTestId('badge-stale')).toHaveText('source stale');
  await expect(page.getByTestId('badge-filter')).toHaveValue('stale');
});
