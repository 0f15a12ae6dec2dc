/**
 * Property: whatever the route looks like and whatever the (valid) policy, a planned write gives
 * the policy's backends weights summing to 100 in every rule that routes to them, reads back as
 * exactly the policy, leaves every other backend and rule as it was, and a second plan is a
 * no-op. When it refuses, some rule really lacks a backend for a subset that gets weight.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TrafficPolicy } from '../../protocol/traffic';
import { planRouteWrite, ROUTE_ANNOTATION, routeBinding, routeView, type RouteObject } from './kubernetesMeshRoutes';

const SUBSETS = ['blue', 'green', 'canary', 'v3'];

/** 1–4 subsets with integer weights summing to 100. */
const weights = fc
  .tuple(fc.subarray(SUBSETS, { minLength: 1 }), fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 3, maxLength: 3 }))
  .map(([names, cuts]) => {
    const marks = [0, ...cuts.slice(0, names.length - 1).sort((a, b) => a - b), 100];
    return Object.fromEntries(names.map((n, i) => [n, marks[i + 1]! - marks[i]!]));
  });

/** A backend: one of the subset Services (maybe not in this policy) or someone else's. */
const backend = fc.oneof(
  fc.constantFrom(...SUBSETS.map((s) => `payment-${s}`)),
  fc.constantFrom('audit', 'payment', 'legacy', 'payment-blue-2'),
);
const rules = fc.array(fc.array(fc.record({ name: backend, weight: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }) }), { maxLength: 6 }), { maxLength: 4 });

const policyOf = (w: Record<string, number>): TrafficPolicy => ({
  version: 1,
  subsets: Object.fromEntries(Object.keys(w).map((s) => [s, { tags: [`color=${s}`] }])),
  weights: w,
  drain: [],
  updatedAt: '2026-11-30T08:00:00.000Z',
  updatedBy: 'alice',
  reason: '',
});

type Ref = { name: string; weight?: number };

function asRoute(kind: 'HTTPRoute' | 'VirtualService', list: Ref[][]): RouteObject {
  const clean = (r: Ref) => (r.weight === undefined ? { name: r.name } : r);
  const spec =
    kind === 'HTTPRoute'
      ? { rules: list.map((refs) => ({ backendRefs: refs.map(clean) })) }
      : { http: list.map((refs) => ({ route: refs.map((r) => ({ destination: { host: r.name }, ...(r.weight === undefined ? {} : { weight: r.weight }) })) })) };
  return { metadata: { name: 'payment', namespace: 'shop', resourceVersion: '1' }, spec };
}

function refsOf(kind: 'HTTPRoute' | 'VirtualService', route: RouteObject): Ref[][] {
  if (kind === 'HTTPRoute') return (route.spec as { rules: { backendRefs: Ref[] }[] }).rules.map((r) => r.backendRefs);
  return (route.spec as { http: { route: { destination: { host: string }; weight?: number }[] }[] }).http.map((r) => r.route.map((d) => ({ name: d.destination.host, weight: d.weight })));
}

describe.each(['HTTPRoute', 'VirtualService'] as const)('%s weight rewrite (property)', (kind) => {
  it('sums to 100 over the policy backends, reads back as the policy, leaves the rest alone, and is idempotent', () => {
    fc.assert(
      fc.property(weights, rules, (w, list) => {
        const policy = policyOf(w);
        const bound = routeBinding({ namespace: 'shop', name: 'payment', annotations: { [ROUTE_ANNOTATION]: `${kind.toLowerCase()}/payment` } }, Object.keys(w));
        if (!bound?.ok) throw new Error('binding');
        const known = new Set(Object.values(bound.binding.backends));
        const route = asRoute(kind, list);
        const plan = planRouteWrite(bound.binding, route, 'v', policy);
        const routesToUs = list.filter((refs) => refs.some((r) => known.has(r.name)));
        if (routesToUs.length === 0) {
          expect(plan.kind).toBe('refused');
          return;
        }
        const lacking = routesToUs.some((refs) => Object.entries(w).some(([s, v]) => v > 0 && !refs.some((r) => r.name === `payment-${s}`)));
        if (lacking) {
          expect(plan).toMatchObject({ kind: 'refused', why: expect.stringContaining('has no backend for subset') });
          return;
        }
        // Switchboard never wrote this route, so it is taken over: always a write.
        expect(plan.kind).toBe('write');
        if (plan.kind !== 'write') return;
        const after = refsOf(kind, plan.object);
        list.forEach((refs, i) => {
          const ours = refs.some((r) => known.has(r.name));
          refs.forEach((r, j) => {
            if (!ours || !known.has(r.name)) expect(after[i]![j]).toEqual(r.weight === undefined ? { name: r.name, ...(kind === 'VirtualService' ? { weight: undefined } : {}) } : r);
          });
          if (ours) expect(after[i]!.filter((r) => known.has(r.name)).reduce((a, r) => a + r.weight!, 0)).toBe(100);
        });
        expect(plan.view).toMatchObject({ inSync: true });
        for (const [s, v] of Object.entries(w)) expect(plan.view.weights![s] ?? 0).toBe(v);
        expect(routeView(bound.binding, plan.object, 'v', policy).inSync).toBe(true);
        expect(planRouteWrite(bound.binding, plan.object, 'v', { ...policy, updatedBy: 'bob' }).kind).toBe('unchanged');
      }),
      { numRuns: 400 },
    );
  });
});

describe('hostile routes and annotations (property)', () => {
  const json = fc.jsonValue({ maxDepth: 5 });
  // Backend names that hit the policy's subsets, `constructor` included, or anything at all.
  const backendName = fc.oneof(fc.constantFrom('payment-blue', 'payment-constructor', 'constructor-blue', 'constructor-constructor', 'toString-blue', 'payment', 'constructor'), json);
  const weight = fc.oneof(fc.integer({ min: -5, max: 200 }), json);
  const specs = fc.oneof(
    json,
    fc.record({ rules: fc.array(fc.record({ backendRefs: fc.oneof(json, fc.array(fc.oneof(fc.record({ name: backendName, weight }), fc.record({ name: backendName, weight, kind: json, namespace: json }, { requiredKeys: ['name'] })), { minLength: 1 })) })) }),
    fc.record({ http: fc.array(fc.record({ route: fc.oneof(json, fc.array(fc.record({ destination: fc.oneof(json, fc.record({ host: backendName, subset: fc.constantFrom('blue', 'constructor', '__proto__') })), weight }))) })) }),
  );
  const names = fc.constantFrom('payment', 'constructor', 'toString', 'hasOwnProperty');

  it('never throws: a plan is a write, a refusal or a conflict, and the view always answers', () => {
    fc.assert(
      fc.property(fc.constantFrom('httproute', 'virtualservice'), names, specs, fc.option(fc.oneof(fc.string(), fc.constant('{"constructor":"payment-x"}')), { nil: undefined, freq: 2 }), fc.option(fc.oneof(fc.string(), json.map((j) => JSON.stringify(j))), { nil: undefined }), (kind, svc, spec, backends, record) => {
        const annotations: Record<string, string> = { [ROUTE_ANNOTATION]: `${kind}/r` };
        if (backends !== undefined) annotations['switchboard.dev/route-backends'] = backends;
        const bound = routeBinding({ namespace: 'shop', name: svc, annotations }, ['blue', 'constructor']);
        if (!bound?.ok) return;
        const route: RouteObject = { metadata: { name: 'r', annotations: record === undefined ? {} : { 'switchboard.dev/route-weights': record } }, spec };
        const plan = planRouteWrite(bound.binding, route, 'v', policyOf({ blue: 40, constructor: 60 }));
        expect(['write', 'refused', 'conflict', 'unchanged']).toContain(plan.kind);
        const view = routeView(bound.binding, route, 'v', null);
        for (const w of Object.values(view.weights ?? {})) expect(typeof w).toBe('number');
      }),
      { numRuns: 500 },
    );
  });
});
