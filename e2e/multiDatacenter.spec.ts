/** One Consul source with `datacenters: "all"` over two WAN-joined agents: both datacenters, live, in one view. */
import { expect, test } from '@playwright/test';
import { startConsulAgent, type ConsulAgent } from '../test/support/consulAgent';
import { DashboardPage } from './pages/DashboardPage';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

let dc1: ConsulAgent;
let dc2: ConsulAgent;
let switchboard: SwitchboardProcess;

test.beforeAll(async () => {
  dc1 = await startConsulAgent({ datacenter: 'dc1' });
  dc2 = await startConsulAgent({ datacenter: 'dc2' });
  await dc1.wanJoin(dc2);
  const check = (id: string) => ({ CheckID: `${id}-ttl`, TTL: '10m', Status: 'passing' });
  await dc1.registerService({ ID: 'web-east', Name: 'web', Port: 8080, Tags: ['east'], Check: check('web-east') });
  await dc2.registerService({ ID: 'web-west', Name: 'web', Port: 8080, Tags: ['west'], Check: check('web-west') });
  switchboard = await startSwitchboard({ sources: [{ kind: 'consul', name: 'global', address: dc1.httpAddr, datacenters: 'all' }] });
});

test.afterAll(async () => {
  await switchboard?.stop();
  await dc2?.stop();
  await dc1?.stop();
});

test('services of both datacenters appear through one agent and follow changes in the remote one', async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.open(switchboard.url);
  await expect(dashboard.source('global')).toContainText('dc1, dc2');
  await expect(dashboard.service('global/dc1/web')).toContainText('east');
  await expect(dashboard.service('global/dc2/web')).toContainText('west');

  // A check failing in dc2 reaches the browser through the dc1 agent's blocking queries (?dc=dc2).
  await dc2.failTtl('web-west-ttl', 'west region degraded');
  await expect(dashboard.count('global/dc2/web', 'critical')).toHaveText('1');
  await expect(dashboard.count('global/dc1/web', 'critical')).toHaveText('0');

  await page.goto(`${switchboard.url}/?health=critical`);
  await expect(page.getByTestId('service-row')).toHaveCount(1);
  await expect(dashboard.service('global/dc2/web')).toBeVisible();
});
