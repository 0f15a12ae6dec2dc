/** Page object for /graph: nodes, edges (by id), badges, filters, the calls panel and the table of edges. */
import { expect, type Locator, type Page } from '@playwright/test';

export class GraphPage {
  constructor(readonly page: Page) {}

  async open(baseUrl: string, query = ''): Promise<void> {
    await this.page.goto(`${baseUrl}/graph${query}`);
    await expect(this.page.getByRole('heading', { name: 'Service graph' })).toBeVisible();
  }

  /** A node by graph id: a service id (`embedded/dc1/order`) or `external:<caller>`. */
  node(id: string): Locator {
    return this.page.locator(`[data-testid="graph-node"][data-node-id="${id}"]`);
  }

  /** An edge by id: `<from>|<to>|<subset or empty>`. */
  edge(id: string): Locator {
    return this.page.locator(`[data-testid="graph-edge"][data-edge-id="${id}"]`);
  }

  /** Clicks an edge where React Flow listens (its wide, invisible interaction path). */
  async clickEdge(id: string): Promise<void> {
    await this.edge(id).locator('path.react-flow__edge-interaction').dispatchEvent('click');
  }

  badge(nodeId: string, kind: 'breakers' | 'split' | 'rollout' | 'stale'): Locator {
    return this.node(nodeId).getByTestId(`badge-${kind}`);
  }

  get panel(): Locator {
    return this.page.getByTestId('edge-panel');
  }

  get table(): Locator {
    return this.page.getByTestId('edge-table');
  }

  get canvas(): Locator {
    return this.page.getByTestId('graph-canvas');
  }

  filter(name: 'source' | 'scope' | 'window' | 'hide-idle'): Locator {
    return this.page.getByTestId(`filter-${name}`);
  }
}
