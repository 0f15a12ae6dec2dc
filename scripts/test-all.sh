#!/usr/bin/env bash
# `npm test`: installs what the suites need (Consul 1.8.7, Debian chromium and bind9, a kube-apiserver
# built from Debian's source package), then runs every
# suite — typecheck + lint, unit, integration against real Consul, the production build, and
# Playwright end to end — and ends with one line "N passed, N failed" over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."
results=.cache/results
rm -rf "$results" && mkdir -p "$results"
: > "$results/checks.txt"

step() { # name, command... — records one pass/fail for steps that are not test runners
  local name=$1; shift
  echo "── $name"
  if "$@"; then echo "pass $name" >> "$results/checks.txt"; else echo "fail $name" >> "$results/checks.txt"; fi
}

echo "── installing test dependencies"
bash scripts/install-consul.sh > /dev/null || echo "fail install-consul" >> "$results/checks.txt"
bash scripts/install-prometheus.sh > /dev/null 2>&1 || echo "fail install-prometheus" >> "$results/checks.txt"
bash scripts/install-chromium.sh || echo "fail install-chromium" >> "$results/checks.txt"
bash scripts/install-bind9.sh || echo "fail install-bind9" >> "$results/checks.txt"
bash scripts/install-python-consul.sh > /dev/null || echo "fail install-python-consul" >> "$results/checks.txt"
# A real kube-apiserver for the Kubernetes adapter: built once (~5 min on 2 cores), cached in
# .cache/kube. It builds in the background (after the apt installs: it uses apt too) while the
# typecheck, lint and production build run; the suites wait for it.
mkdir -p .cache
( bash scripts/build-kube-apiserver.sh > /dev/null 2> .cache/kube-build.log || { tail -40 .cache/kube-build.log; echo "fail build-kube-apiserver" >> "$results/checks.txt"; } ) &
kube_build=$!

step typecheck npx tsc --noEmit -p .
step lint npx eslint --max-warnings 0 .
step build npx next build
echo "── waiting for the kube-apiserver build"
wait "$kube_build"
echo "── unit + integration (vitest)"
npx vitest run --reporter=default --reporter=json --outputFile="$results/vitest.json"
if grep -q '^pass build' "$results/checks.txt"; then
  echo "── end to end (playwright, Debian chromium)"
  npx playwright test
else
  echo "fail e2e-skipped-because-build-failed" >> "$results/checks.txt"
fi
node scripts/summarize-results.mjs "$results"
