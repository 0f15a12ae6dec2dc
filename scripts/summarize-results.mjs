// Totals over all suites: vitest JSON, Playwright JSON and the pass/fail lines of other steps.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.cache/results';
let passed = 0;
let failed = 0;
const failures = [];

// vitest.json (every suite but those that start a kube-apiserver) and vitest-kube.json (those).
const vitestFiles = existsSync(dir) ? readdirSync(dir).filter((f) => /^vitest.*\.json$/.test(f)).sort() : [];
for (const name of vitestFiles) {
  const v = JSON.parse(readFileSync(join(dir, name), 'utf8'));
  passed += v.numPassedTests;
  failed += v.numFailedTests;
  for (const f of v.testResults ?? []) {
    for (const a of f.assertionResults ?? []) if (a.status === 'failed') failures.push(`vitest: ${a.fullName}`);
    // A file that failed with no failed test in it: its hooks (beforeAll) or its import failed, so its
    // tests were skipped, not run. That is a failure, counted once for the file.
    const anyTestFailed = (f.assertionResults ?? []).some((a) => a.status === 'failed');
    if (f.status === 'failed' && !anyTestFailed) {
      failed += 1;
      failures.push(`vitest: ${f.name} (suite failed: ${String(f.message ?? '').split('\n')[0].slice(0, 200)})`);
    }
  }
}
if (!vitestFiles.includes('vitest.json')) {
  failed += 1;
  failures.push('vitest: no results (runner crashed)');
}

const e2eFile = join(dir, 'e2e.json');
if (existsSync(e2eFile)) {
  const e = JSON.parse(readFileSync(e2eFile, 'utf8'));
  passed += e.stats.expected;
  failed += e.stats.unexpected + (e.stats.flaky ?? 0);
  if (e.stats.expected + e.stats.unexpected === 0) {
    failed += 1;
    failures.push('e2e: no test ran');
  }
  const walk = (suite, prefix) => {
    for (const s of suite.suites ?? []) walk(s, `${prefix}${s.title} › `);
    for (const spec of suite.specs ?? []) if (!spec.ok) failures.push(`e2e: ${prefix}${spec.title}`);
  };
  for (const s of e.suites ?? []) walk(s, '');
} else if (readFileSync(join(dir, 'checks.txt'), 'utf8').includes('pass build')) {
  failed += 1;
  failures.push('e2e: no results (runner crashed)');
}

for (const line of readFileSync(join(dir, 'checks.txt'), 'utf8').split('\n').filter(Boolean)) {
  const [status, name] = line.split(' ');
  if (status === 'pass') passed += 1;
  else {
    failed += 1;
    failures.push(`step: ${name}`);
  }
}

if (failures.length) console.log(`\nFailures:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
