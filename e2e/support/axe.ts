/**
 * axe-core (WCAG 2.1 A and AA rules) over the page as it is now. Fails with every violation
 * spelled out — rule, impact, the element and why — so a report reads without a trace viewer.
 */
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';

export const WCAG21_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

export async function expectNoAxeViolations(page: Page, state: string): Promise<void> {
  // Transitions (the split bar's width) settle first, or axe measures colours mid-animation.
  await page.waitForTimeout(300);
  const { violations } = await new AxeBuilder({ page }).withTags(WCAG21_AA).analyze();
  const report = violations.flatMap((v) =>
    v.nodes.map((n) => `${v.id} (${v.impact}) ${n.target.join(' ')}\n    ${n.failureSummary?.replace(/\n/g, '\n    ')}\n    ${n.html.slice(0, 200)}`),
  );
  expect(report, `axe violations on ${state}:\n${report.join('\n')}`).toEqual([]);
}
