/** Page object for /signin: the access-token form (the default), name and password, the one-click link. */
import { expect, type Locator, type Page } from '@playwright/test';

export class SignInPage {
  constructor(readonly page: Page) {}

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/signin`);
    await expect(this.heading).toBeVisible();
  }

  get heading(): Locator {
    return this.page.getByRole('heading', { name: 'Sign in' });
  }

  method(name: 'Access token' | 'Name and password'): Locator {
    return this.page.getByRole('group', { name: 'Sign in with' }).getByRole('button', { name });
  }

  async withToken(token: string): Promise<void> {
    await this.method('Access token').click();
    await this.page.getByLabel('Token').fill(token);
    await this.page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async withPassword(name: string, password: string): Promise<void> {
    await this.method('Name and password').click();
    await this.page.getByLabel('Name', { exact: true }).fill(name);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /** The link a first start prints: `…/signin#token=…`. */
  static linkFrom(output: string): string {
    const m = /(https?:\/\/\S+\/signin#token=\S+)/.exec(output);
    if (!m) throw new Error(`no sign-in link in the output:\n${output}`);
    return m[1]!;
  }
}
