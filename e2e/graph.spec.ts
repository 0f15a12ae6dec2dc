/**
 * The live service graph against the zero-config demo (embedded registry, demo fleet, load
 * generator): the demo's edges (loadgen → order → inventory and payment, payment split per
 * subset under a canary policy), a readiness fault turning a node, an error fault turning its
 * subset edge red, an open breaker's badge, click-through to a service and to the calls of an
 * edge (per instance, per status code), filters kept in the URL across a reload, and axe.
 */
import { expect, test, type Page } from '@playwright/test';
import { GraphPage } from './pages/graphPage';
import { expectNoAxeViolations } from './support/axe';
import { startSwitchboard, type SwitchboardProcess } from './support/switchboardProcess';

const ORDER = 'embedded/dc1/order';
const INVENTORY = 'embedded/dc1/inventory';
const PAYMENT = 'embedded/dc1/payment';
let switchboard: SwitchboardProcess;
let token: string;

test.beforeAll(async () => {
  switchboard = await startSwitchboard(null);
  token = await switchboard.adminToken();
  // A canary on payment: the order → payment calls split into a blue and a green edge.
  const api = `${switchboard.url}/api/services/${PAYMENT}/traffic`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const body = JSON.stringify({ weights: { blue: 80, green: 20 }, subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } }, drain: [], reason: 'canary 20%' });
  await expect.poll(async () => (await fetch(api, { method: 'PUT', headers, body })).status, { timeout: 120_000 }).toBe(200);
});

test.afterAll(async () => {
  await switchboard?.stop();
});

async function signIn(page: Page): Promise<void> {
  await page.goto(`${switchboard.url}/signin#token=${token}`);
  await expect(page.getByTestId('user')).toHaveText(/admin \(admin\)/);
}

async function demo(id: string): Promise<string> {
  const services = (await (await fetch(`${switchboard.registry}/v1/agent/services`)).json()) as Record<string, { Port: number }>;
  return `http://127.0.0.1:${services[id]!.Port}`;
}

async function fault(id: string, body: Record<string, unknown> | null): Promise<void> {
  const r = await fetch(`${await demo(id)}/fault`, body ? { method: 'POST', body: JSON.stringify(body) } : { method: 'DELETE' });
  expect(r.status).toBe(200);
}

test('the demo graph: edges, a readiness fault, an error fault, an open breaker, click-through, filters in the URL', async ({ page }) => {
  await signIn(page);
  const graph = new GraphPage(page);
  await graph.open(switchboard.url, '?window=1m');

  // The demo's edges, the load generator as an external caller; payment split per subset.
  for (const id of [ORDER, INVENTORY, PAYMENT, 'external:loadgen']) await expect(graph.node(id)).toBeVisible({ timeout: 60_000 });
  await expect(graph.node('external:loadgen')).toHaveAttribute('data-health', 'none');
  for (const id of [`external:loadgen|${ORDER}|`, `${ORDER}|${INVENTORY}|`, `${ORDER}|${PAYMENT}|blue`, `${ORDER}|${PAYMENT}|green`]) {
    await expect(graph.edge(id)).toHaveCount(1, { timeout: 30_000 });
  }
  await expect(graph.edge(`${ORDER}|${PAYMENT}|blue`)).toHaveAttribute('data-severity', 'ok');
  await expect(graph.badge(PAYMENT, 'split')).toContainText('canary');
  // The demo's instances pass their first readiness probes within a few seconds of starting (longer on a busy CI machine).
  await expect(graph.node(INVENTORY)).toHaveAttribute('data-health', 'passing', { timeout: 60_000 });
  await expectNoAxeViolations(page, 'graph page (light)');

  // A readiness fault: the registry marks inventory-1 critical, the node turns degraded.
  await fault('inventory-1', { failReady: true });
  await expect(graph.node(INVENTORY)).toHaveAttribute('data-health', 'warning', { timeout: 20_000 });
  await fault('inventory-1', null);
  await expect(graph.node(INVENTORY)).toHaveAttribute('data-health', 'passing', { timeout: 20_000 });

  // An error fault on payment-2 (blue): the order → payment blue edge turns red; green stays.
  const blue = graph.edge(`${ORDER}|${PAYMENT}|blue`);
  const started = Date.now();
  await fault('payment-2', { errorRate: 1 });
  await expect(blue).toHaveAttribute('data-severity', 'error', { timeout: 15_000 });
  // Logged, not asserted (speed is for benchmarks): the demo's ~1.3 calls/s to payment-2, the SDK's
  // 1 s report interval and the graph's 250 ms reaction are all in it.
  console.log(`order → payment (blue) red ${Date.now() - started} ms after the fault`);
  await expect(graph.edge(`${ORDER}|${PAYMENT}|green`)).not.toHaveAttribute('data-severity', 'error');

  // Every call failing: the callers' breakers for payment-2 open, and the node says so.
  for (let i = 0; i < 30; i++) await (await fetch(`${switchboard.url}/gw/payment/work`, { headers: { authorization: `Bearer ${token}` } })).arrayBuffer();
  await expect(graph.badge(PAYMENT, 'breakers')).toContainText('1 open', { timeout: 20_000 });

  // Hover shows the numbers.
  await graph.node(PAYMENT).hover();
  await expect(page.getByTestId('graph-tooltip')).toContainText('open breakers');

  // Click an edge: the calls between order and payment, per instance and status code.
  await graph.clickEdge(`${ORDER}|${PAYMENT}|blue`);
  await expect(graph.panel).toBeVisible();
  await expect(graph.panel.locator('[data-testid="edge-instance"][data-instance-id="payment-2"]')).toBeVisible();
  await expect(graph.panel.locator('[data-testid="edge-instance"][data-instance-id="payment-2"]').getByTestId('status-500')).not.toHaveText('0');
  await expect(graph.panel.locator('[data-testid="edge-instance"][data-instance-id="payment-1"]').getByTestId('status-200')).not.toHaveText('0');
  expect(new URL(page.url()).searchParams.get('edge')).toBe(`${ORDER}→${PAYMENT}`);
  await fault('payment-2', null);

  // Filters live in the URL and survive a reload.
  await graph.filter('window').selectOption('15m');
  await graph.filter('hide-idle').check();
  await graph.filter('source').selectOption('embedded');
  await graph.filter('scope').selectOption('dc1');
  await page.getByTestId('toggle-table').click();
  await expect(graph.table).toBeVisible();
  const url = new URL(page.url());
  expect(Object.fromEntries(url.searchParams)).toMatchObject({ window: '15m', hideIdle: '1', source: 'embedded', scope: 'dc1', view: 'table' });
  await page.reload();
  await expect(graph.table).toBeVisible();
  await expect(graph.filter('window')).toHaveValue('15m');
  await expect(graph.filter('hide-idle')).toBeChecked();
  await expect(graph.filter('source')).toHaveValue('embedded');
  await expect(graph.filter('scope')).toHaveValue('dc1');
  await expect(graph.table.locator(`[data-testid="edge-row"][data-edge-id="${ORDER}|${INVENTORY}|"]`)).toBeVisible({ timeout: 20_000 });
  await expectNoAxeViolations(page, 'graph page, table of edges and calls panel (light)');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.getByTestId('toggle-table').click();
  await expect(graph.node(ORDER)).toBeVisible();
  await expectNoAxeViolations(page, 'graph page (dark)');

  // Click a node: its service page.
  await graph.node(ORDER).click();
  await expect(page).toHaveURL(/\/services\/embedded\/dc1\/order$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('order');

  // The header links the graph from every page.
  await page.getByTestId('nav-graph').click();
  await expect(page).toHaveURL(/\/graph$/);
});

test('with calls observed, / opens on the graph; list links and the header’s Services still open the list', async ({ page }) => {
  // Once the demo's calls have been reported (already so after the test above; not in a fresh worker).
  const observed = async () => ((await (await fetch(`${switchboard.url}/api/graph?window=15m`, { headers: { authorization: `Bearer ${token}` } })).json()) as { edges: unknown[] }).edges.length;
  await expect.poll(observed, { timeout: 60_000 }).toBeGreaterThan(0);
  await page.goto(`${switchboard.url}/`);
  await expect(page).toHaveURL(`${switchboard.url}/graph`);
  await expect(new GraphPage(page).canvas).toBeVisible();

  await page.getByTestId('nav-services').click();
  await expect(page).toHaveURL(`${switchboard.url}/services`);
  await expect(page.locator(`[data-testid="service-row"][data-service-id="${PAYMENT}"]`)).toBeVisible();

  // A link to a filtered list is a link to the list.
  await page.goto(`${switchboard.url}/?health=passing`);
  await expect(page.locator(`[data-testid="service-row"][data-service-id="${ORDER}"]`)).toBeVisible();
  await expect(page).toHaveURL(`${switchboard.url}/?health=passing`);
});

test('the graph streams over the page’s one WebSocket, beside the topology', async ({ page }) => {
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const graph = new GraphPage(page);
  await graph.open(switchboard.url, '?window=15m');
  await expect(graph.node(PAYMENT)).toBeVisible({ timeout: 30_000 });
  await expect(graph.edge(`${ORDER}|${INVENTORY}|`)).toHaveCount(1, { timeout: 30_000 });
  // By path: the page's socket subscribes in its query (`/api/ws?subscribe=gzip`).
  expect(sockets.filter((u) => new URL(u).pathname === '/api/ws')).toHaveLength(1);
});
