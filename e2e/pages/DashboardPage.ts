/** Page object for the service list and status strip (stable data-testid hooks). */
import { expect, type Locator, type Page } from '@playwright/test';

export class DashboardPage {
  constructor(readonly page: Page) {}

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/services`);
    await expect(this.connection).toHaveAttribute('data-state', 'live');
  }

  get connection(): Locator {
    return this.page.getByTestId('connection');
  }

  get staleBanner(): Locator {
    return this.page.getByTestId('stale-banner');
  }

  service(id: string): Locator {
    return this.page.locator(`[data-testid="service-row"][data-service-id="${id}"]`);
  }

  source(id: string): Locator {
    return this.page.locator(`[data-testid="source-status"][data-source-id="${id}"]`);
  }

  count(id: string, health: 'passing' | 'warning' | 'critical'): Locator {
    return this.service(id).getByTestId(`count-${health}`);
  }

  async search(text: string): Promise<void> {
    await this.page.getByTestId('search').fill(text);
  }
}

export class ServicePage {
  constructor(readonly page: Page) {}

  async open(baseUrl: string, id: string): Promise<void> {
    await this.page.goto(`${baseUrl}/services/${id.split('/').map(encodeURIComponent).join('/')}`);
    await expect(this.page.getByRole('heading', { level: 1 })).toHaveText(id.split('/').slice(2).join('/'));
  }

  get split(): Locator {
    return this.page.getByTestId('traffic-split');
  }

  /** The canary slider's thumb (role slider), named "<canary> share". */
  get canarySlider(): Locator {
    return this.page.getByTestId('canary-slider');
  }

  get history(): Locator {
    return this.page.getByTestId('history-entry');
  }

  get charts(): Locator {
    return this.page.getByTestId('service-charts');
  }

  get flipButton(): Locator {
    return this.page.getByTestId('flip');
  }

  instance(id: string): Locator {
    return this.page.locator(`[data-testid="instance-row"][data-instance-id="${id}"]`);
  }

  instanceWithText(text: string): Locator {
    return this.page.locator('[data-testid="instance-row"]').filter({ hasText: text });
  }
}
