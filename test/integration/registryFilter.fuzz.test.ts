/**
 * `?filter=` fuzzed against real Consul 1.8.7: random expressions from go-bexpr's grammar
 * (valid and invalid selectors, every operator, values as strings, numbers and bare words,
 * and/or/not/parentheses, and truncated expressions for syntax errors) are sent to the same
 * data on both; they must return the same set, or refuse with the same status and text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRegistry, type EmbeddedRegistry } from '../../registry/embeddedRegistry';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';

const NODE = 'fuzz-node';
let consul: ConsulAgent;
let embedded: EmbeddedRegistry;
let dataDir: string;

const services = [
  { ID: 'fz-1', Name: 'fz', Port: 8080, Tags: ['blue', 'v1'], Meta: { color: 'blue', env: 'prod' }, status: 'passing' },
  { ID: 'fz-2', Name: 'fz', Port: 8081, Tags: ['green'], Meta: { color: 'green' }, status: 'warning' },
  { ID: 'fz-3', Name: 'fz', Port: 80, Address: '10.0.0.3', Tags: [], Meta: {}, status: 'critical' },
  { ID: 'web-a', Name: 'fz', Port: 0, Tags: ['a', 'b'], Meta: { env: '' }, status: 'passing' },
];

async function put(base: string, path: string, body?: unknown) {
  const r = await fetch(`${base}${path}`, { method: 'PUT', body: body === undefined ? undefined : JSON.stringify(body) });
  expect(r.status, await r.text()).toBe(200);
}

beforeAll(async () => {
  consul = await startConsulAgent({ datacenter: 'dc1', node: NODE });
  dataDir = mkdtempSync(join(tmpdir(), 'sb-filter-'));
  embedded = await startEmbeddedRegistry({ dataDir, httpPort: 0, nodeName: NODE });
  for (const base of [consul.httpAddr, embedded.httpAddr]) {
    for (const s of services) {
      await put(base, '/v1/agent/service/register', { ID: s.ID, Name: s.Name, Port: s.Port, Address: s.Address, Tags: s.Tags, Meta: s.Meta, Check: { CheckID: `${s.ID}-ttl`, Name: `ttl ${s.ID}`, TTL: '10m', Status: s.status === 'passing' ? 'critical' : 'passing' } });
      // Every update changes the status: Consul's agent defers an output-only change to the catalog (check_update_interval).
      const verb = s.status === 'passing' ? 'pass' : s.status === 'warning' ? 'warn' : 'fail';
      await put(base, `/v1/agent/check/${verb}/${s.ID}-ttl?note=out-${s.ID}`);
    }
  }
}, 90_000);

afterAll(async () => {
  await embedded?.close();
  await consul?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const words = ['blue', 'green', 'critical', 'passing', 'warning', 'true', 'false', 'fz', 'a', 'v1', 'prod', 'Service', 'T'];
const strings = ['blue', 'green', 'a', 'fz-1', 'web-a', 'critical', 'passing', 'warning', '8080', '', 'fz', 'ttl', 'out-fz-2', 'prod', 'dc1', NODE, '127.0.0.1', '10.0.0.3'];
const regexes = ['^fz', '[0-9]+$', 'a|b', '.', '^$', 'blue', '^(fz|web)-[13a]$', 'o.t-'];
const numbers = ['80', '8080', '0', '1', '-1', '1.5', '8081', '007'];

const value = fc.oneof(
  fc.constantFrom(...strings).map((s) => JSON.stringify(s)),
  fc.constantFrom(...strings).map((s) => `\`${s}\``),
  fc.constantFrom(...numbers),
  fc.constantFrom(...words),
);
const regexValue = fc.constantFrom(...regexes).map((s) => JSON.stringify(s));

function exprOf(selectors: string[]) {
  const sel = fc.constantFrom(...selectors);
  const match = fc.oneof(
    fc.tuple(sel, fc.constantFrom('==', '!=', 'contains', 'not contains'), value).map(([s, op, v]) => `${s} ${op} ${v}`),
    fc.tuple(sel, fc.constantFrom('matches', 'not matches'), regexValue).map(([s, op, v]) => `${s} ${op} ${v}`),
    fc.tuple(sel, fc.constantFrom('is empty', 'is not empty')).map(([s, op]) => `${s} ${op}`),
    fc.tuple(value, fc.constantFrom('in', 'not in'), sel).map(([v, op, s]) => `${v} ${op} ${s}`),
  );
  const { expr } = fc.letrec<{ expr: string }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      match,
      fc.tuple(tie('expr'), fc.constantFrom('and', 'or'), tie('expr')).map(([l, op, r]) => `${l} ${op} ${r}`),
      tie('expr').map((e) => `not ${e}`),
      tie('expr').map((e) => `(${e})`),
    ),
  }));
  // Now and then a cut-off or spaced-out expression, for Consul's syntax errors.
  return fc.oneof(
    { weight: 6, arbitrary: expr },
    { weight: 1, arbitrary: fc.tuple(expr, fc.nat()).map(([e, n]) => e.slice(0, n % (e.length + 1))) },
    { weight: 1, arbitrary: expr.map((e) => ` ${e.replace(/ /g, '  ')} `) },
  );
}

async function both(path: string, filter: string): Promise<[{ status: number; text: string }, { status: number; text: string }]> {
  const q = `${path}${path.includes('?') ? '&' : '?'}filter=${encodeURIComponent(filter)}`;
  const [a, b] = await Promise.all([fetch(`${consul.httpAddr}${q}`), fetch(`${embedded.httpAddr}${q}`)]);
  return [
    { status: a.status, text: await a.text() },
    { status: b.status, text: await b.text() },
  ];
}

function ids(text: string, pick: (e: Record<string, unknown>) => string): string[] {
  const body = JSON.parse(text) as Record<string, unknown>[] | Record<string, Record<string, unknown>>;
  const list = Array.isArray(body) ? body : Object.values(body);
  return list.map(pick).sort();
}

const cases: { name: string; path: string; selectors: string[]; pick: (e: Record<string, unknown>) => string; skip?: (id: string) => boolean }[] = [
  {
    name: 'health/service',
    path: '/v1/health/service/fz',
    selectors: ['Service.ID', 'Service.Service', 'Service.Tags', 'Service.Meta', 'Service.Meta.color', 'Service.Meta.env', 'Service.Port', 'Service.Address', 'Service.EnableTagOverride', 'Service.Weights.Passing', 'Service.Weights', 'Checks', 'Checks.Status', 'Checks.CheckID', 'Checks.Output', 'Checks.ServiceTags', 'Checks.Type', 'Node.Node', 'Node.Meta', 'Node.Datacenter', 'Node.Address', 'Service.Nope', 'Foo', 'Service.Meta.color.x', 'Service.Proxy.DestinationServiceName', 'Service.Connect.Native'],
    pick: (e) => (e.Service as { ID: string }).ID,
  },
  {
    name: 'catalog/service',
    path: '/v1/catalog/service/fz',
    selectors: ['ServiceID', 'ServiceName', 'ServiceTags', 'ServiceMeta', 'ServiceMeta.color', 'ServicePort', 'ServiceAddress', 'Node', 'NodeMeta', 'Datacenter', 'ServiceWeights.Warning', 'ServiceEnableTagOverride', 'Status', 'ServiceKind'],
    pick: (e) => e.ServiceID as string,
  },
  {
    name: 'health/state/any',
    path: '/v1/health/state/any',
    selectors: ['Status', 'CheckID', 'Name', 'Output', 'ServiceID', 'ServiceName', 'ServiceTags', 'Type', 'Node', 'Notes', 'Definition', 'Service.ID'],
    pick: (e) => e.CheckID as string,
  },
  {
    name: 'agent/services',
    path: '/v1/agent/services',
    selectors: ['ID', 'Service', 'Tags', 'Meta', 'Meta.color', 'Port', 'Address', 'Weights.Passing', 'Kind'],
    pick: (e) => e.ID as string,
  },
];

describe('?filter= fuzzed: embedded registry vs real Consul 1.8.7', () => {
  for (const c of cases) {
    it(`${c.name}: same set or the same refusal`, async () => {
      await fc.assert(
        fc.asyncProperty(exprOf(c.selectors), async (filter) => {
          const [real, ours] = await both(c.path, filter);
          expect({ filter, status: ours.status }).toEqual({ filter, status: real.status });
          if (real.status === 200) expect({ filter, ids: ids(ours.text, c.pick) }).toEqual({ filter, ids: ids(real.text, c.pick) });
          else expect({ filter, text: ours.text }).toEqual({ filter, text: real.text });
        }),
        { numRuns: 250 },
      );
    }, 120_000);
  }
});
