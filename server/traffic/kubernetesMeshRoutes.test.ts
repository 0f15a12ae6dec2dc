import { describe, expect, it } from 'vitest';
import type { TrafficPolicy } from '../../protocol/traffic';
import { planRouteWrite, ROUTE_ANNOTATION, ROUTE_BACKENDS_ANNOTATION, ROUTE_WEIGHTS_ANNOTATION, routeBinding, routeView, type RouteBinding, type RouteObject } from './kubernetesMeshRoutes';

const policy = (weights: Record<string, number>, by = 'alice'): TrafficPolicy => ({
  version: 1,
  subsets: Object.fromEntries(Object.keys(weights).map((s) => [s, { tags: [`color=${s}`] }])),
  weights,
  drain: [],
  updatedAt: '2026-11-30T08:00:00.000Z',
  updatedBy: by,
  reason: '',
});

const bind = (value: string, extra: Record<string, string> = {}, subsets = ['blue', 'green']) =>
  routeBinding({ namespace: 'shop', name: 'payment', annotations: { [ROUTE_ANNOTATION]: value, ...extra } }, subsets);

const binding = (kind: 'httproute' | 'virtualservice'): RouteBinding => {
  const b = bind(`${kind}/payment`);
  if (!b?.ok) throw new Error('binding');
  return b.binding;
};

const httpRoute = (rules: unknown[], annotations: Record<string, string> = {}): RouteObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'payment', namespace: 'shop', resourceVersion: '42', annotations },
  spec: { parentRefs: [{ name: 'gw' }], rules },
});

const virtualService = (http: unknown[]): RouteObject => ({
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'VirtualService',
  metadata: { name: 'payment', namespace: 'shop', resourceVersion: '7' },
  spec: { hosts: ['payment'], http },
});

const written = (plan: ReturnType<typeof planRouteWrite>) => {
  if (plan.kind !== 'write') throw new Error(`expected a write, got ${JSON.stringify(plan)}`);
  return plan.object;
};

describe('routeBinding', () => {
  it('is null for a Service without the annotation', () => {
    expect(routeBinding({ namespace: 'shop', name: 'payment', annotations: {} }, ['blue'])).toBeNull();
  });

  it('reads both kinds, case-insensitively, with <service>-<subset> backends', () => {
    expect(bind('HTTPRoute/payment')).toEqual({ ok: true, binding: { kind: 'HTTPRoute', namespace: 'shop', name: 'payment', service: 'payment', backends: { blue: 'payment-blue', green: 'payment-green' } } });
    expect(bind('virtualservice/pay.v2')).toMatchObject({ ok: true, binding: { kind: 'VirtualService', name: 'pay.v2' } });
  });

  it('takes backend names from the override annotation', () => {
    expect(bind('httproute/payment', { [ROUTE_BACKENDS_ANNOTATION]: '{"green":"payment-v2"}' })).toMatchObject({ ok: true, binding: { backends: { blue: 'payment-blue', green: 'payment-v2' } } });
  });

  it.each([
    ['gateway/payment', 'expected httproute/<name> or virtualservice/<name>'],
    ['httproute/', 'expected httproute/<name>'],
    ['httproute/Payment_1', 'expected httproute/<name>'],
    ['httproute/other-ns/payment', 'expected httproute/<name>'],
  ])('refuses %s, naming the annotation', (value, why) => {
    const b = bind(value);
    expect(b).toMatchObject({ ok: false, text: value });
    expect(!b?.ok && b?.why).toContain(`annotation ${ROUTE_ANNOTATION} on service shop/payment`);
    expect(!b?.ok && b?.why).toContain(why);
  });

  it('refuses a bad override and two subsets on one backend', () => {
    expect(bind('httproute/payment', { [ROUTE_BACKENDS_ANNOTATION]: '[1]' })).toMatchObject({ ok: false, why: expect.stringContaining('must be a JSON object') });
    expect(bind('httproute/payment', { [ROUTE_BACKENDS_ANNOTATION]: '{"blue":"Bad Name"}' })).toMatchObject({ ok: false });
    expect(bind('httproute/payment', { [ROUTE_BACKENDS_ANNOTATION]: '{"blue":"payment-green"}' })).toMatchObject({ ok: false, why: expect.stringContaining('both map to backend payment-green') });
  });
});

describe('HTTPRoute weights', () => {
  const b = binding('httproute');

  it('writes the weights to the subset backends, keeps everything else, records what it wrote', () => {
    const route = httpRoute([
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'payment-blue', port: 80, weight: 100 }, { name: 'payment-green', port: 80, weight: 0 }, { name: 'audit', port: 80, weight: 5 }] },
      { backendRefs: [{ name: 'legacy', port: 80 }] },
    ]);
    const plan = planRouteWrite(b, route, 'gateway.networking.k8s.io/v1', policy({ blue: 90, green: 10 }));
    const object = written(plan);
    expect((object.spec as { rules: unknown[] }).rules).toEqual([
      { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'payment-blue', port: 80, weight: 90 }, { name: 'payment-green', port: 80, weight: 10 }, { name: 'audit', port: 80, weight: 5 }] },
      { backendRefs: [{ name: 'legacy', port: 80 }] },
    ]);
    expect(object.metadata.resourceVersion).toBe('42'); // the precondition
    expect(JSON.parse(object.metadata.annotations![ROUTE_WEIGHTS_ANNOTATION]!)).toEqual({ payment: { weights: { blue: 90, green: 10 }, at: '2026-11-30T08:00:00.000Z', by: 'alice' } });
    expect(plan.kind === 'write' && plan.view).toEqual({
      kind: 'HTTPRoute', namespace: 'shop', name: 'payment', apiVersion: 'gateway.networking.k8s.io/v1',
      backends: { blue: 'payment-blue', green: 'payment-green' }, weights: { blue: 90, green: 10 }, inSync: true, writtenAt: '2026-11-30T08:00:00.000Z', writtenBy: 'alice',
    });
    expect(route.metadata.annotations).toEqual({}); // the input is not mutated
  });

  it('does not count backendRefs of another kind, group or namespace as the subset Service', () => {
    const route = httpRoute([{ backendRefs: [
      { name: 'payment-blue', weight: 1 },
      { name: 'payment-green', weight: 1 },
      { name: 'payment-green', namespace: 'other', weight: 7 },
      { name: 'payment-blue', group: 'example.com', kind: 'Bucket', weight: 3 },
    ] }]);
    const rules = (written(planRouteWrite(b, route, 'v', policy({ blue: 0, green: 100 }))).spec as { rules: { backendRefs: { weight: number }[] }[] }).rules;
    expect(rules[0]!.backendRefs.map((r) => r.weight)).toEqual([0, 100, 7, 3]);
  });

  it('splits a subset weight over several backendRefs to it, summing exactly', () => {
    const route = httpRoute([{ backendRefs: [{ name: 'payment-blue', port: 80 }, { name: 'payment-blue', port: 81 }, { name: 'payment-blue', port: 82 }, { name: 'payment-green', port: 80 }] }]);
    const rules = (written(planRouteWrite(b, route, 'v', policy({ blue: 80, green: 20 }))).spec as { rules: { backendRefs: { weight: number }[] }[] }).rules;
    expect(rules[0]!.backendRefs.map((r) => r.weight)).toEqual([27, 27, 26, 20]);
    expect(routeView(b, route, 'v', null).weights).toEqual({ blue: 3, green: 1 }); // unset weights count as Gateway API's 1
  });

  it('is unchanged when the route already carries the weights Switchboard recorded', () => {
    const first = written(planRouteWrite(b, httpRoute([{ backendRefs: [{ name: 'payment-blue' }, { name: 'payment-green' }] }]), 'v', policy({ blue: 50, green: 50 })));
    expect(planRouteWrite(b, first, 'v', policy({ blue: 50, green: 50 }, 'bob')).kind).toBe('unchanged');
  });

  it('refuses a rule that routes to one subset but has no backend for another that gets weight', () => {
    const route = httpRoute([{ backendRefs: [{ name: 'payment-blue', weight: 100 }] }]);
    expect(planRouteWrite(b, route, 'v', policy({ blue: 100, green: 0 })).kind).toBe('write');
    expect(planRouteWrite(b, route, 'v', policy({ blue: 90, green: 10 }))).toEqual({ kind: 'refused', why: 'HTTPRoute shop/payment spec.rules[0] routes to payment-blue but has no backend for subset "green" (expected payment-green), which gets 10%' });
  });

  it('refuses a route with no rule routing to the subsets, and a spec it cannot read', () => {
    expect(planRouteWrite(b, httpRoute([{ backendRefs: [{ name: 'other' }] }]), 'v', policy({ blue: 100, green: 0 }))).toMatchObject({ kind: 'refused', why: expect.stringContaining('HTTPRoute shop/payment has no rule routing to payment-blue or payment-green') });
    expect(planRouteWrite(b, { ...httpRoute([]), spec: { rules: 'x' } }, 'v', policy({ blue: 100, green: 0 }))).toMatchObject({ kind: 'refused', why: expect.stringContaining('spec.rules') });
    expect(routeView(b, httpRoute([]), 'v', null)).toMatchObject({ weights: null, inSync: false, error: expect.stringContaining('has no rule routing to') });
  });

  it('refuses to overwrite weights someone else changed since Switchboard wrote them, naming both', () => {
    const mine = written(planRouteWrite(b, httpRoute([{ backendRefs: [{ name: 'payment-blue' }, { name: 'payment-green' }] }]), 'v', policy({ blue: 100, green: 0 })));
    const edited = structuredClone(mine);
    (edited.spec as { rules: { backendRefs: { weight: number }[] }[] }).rules[0]!.backendRefs[1]!.weight = 30;
    const plan = planRouteWrite(b, edited, 'v', policy({ blue: 50, green: 50 }));
    expect(plan.kind).toBe('conflict');
    expect(plan.kind === 'conflict' && plan.why).toBe(
      'HTTPRoute shop/payment was changed outside Switchboard: spec.rules[0] now gives blue 100 / green 30, where Switchboard last wrote blue 100 / green 0 (alice, 2026-11-30T08:00:00.000Z). Nothing was written. ' +
        `Set the route's weights back, or remove its annotation ${ROUTE_WEIGHTS_ANNOTATION} to let Switchboard overwrite them.`,
    );
    expect(routeView(b, edited, 'v', policy({ blue: 100, green: 0 }))).toMatchObject({ weights: { blue: 100, green: 30 }, inSync: false });
    // An edit that already says what the new policy says is no conflict: only the record is written.
    (edited.spec as { rules: { backendRefs: { weight: number }[] }[] }).rules[0]!.backendRefs[0]!.weight = 70;
    expect(planRouteWrite(b, edited, 'v', policy({ blue: 70, green: 30 })).kind).toBe('write');
  });

  it('takes over a route Switchboard never wrote (or whose record is unreadable), and keeps other Services’ records', () => {
    const route = httpRoute([{ backendRefs: [{ name: 'payment-blue', weight: 3 }, { name: 'payment-green', weight: 9 }] }], { [ROUTE_WEIGHTS_ANNOTATION]: '{"ship":{"weights":{"a":1},"at":"t","by":"x"}}' });
    const object = written(planRouteWrite(b, route, 'v', policy({ blue: 100, green: 0 })));
    expect(Object.keys(JSON.parse(object.metadata.annotations![ROUTE_WEIGHTS_ANNOTATION]!))).toEqual(['ship', 'payment']);
    const garbled = httpRoute([{ backendRefs: [{ name: 'payment-blue', weight: 3 }, { name: 'payment-green', weight: 9 }] }], { [ROUTE_WEIGHTS_ANNOTATION]: 'not json' });
    expect(planRouteWrite(b, garbled, 'v', policy({ blue: 100, green: 0 })).kind).toBe('write');
  });
});

describe('VirtualService weights', () => {
  const b = binding('virtualservice');

  it('writes to destinations by subset Service host (short or FQDN) and by DestinationRule subset', () => {
    const route = virtualService([
      { name: 'split', route: [{ destination: { host: 'payment-blue', port: { number: 80 } }, weight: 100 }, { destination: { host: 'payment-green.shop.svc.cluster.local' }, weight: 0 }] },
      { route: [{ destination: { host: 'payment', subset: 'blue' }, weight: 50 }, { destination: { host: 'payment.shop', subset: 'green' }, weight: 50 }] },
      { route: [{ destination: { host: 'payment-blue.other.svc.cluster.local' } }] },
    ]);
    const object = written(planRouteWrite(b, route, 'networking.istio.io/v1beta1', policy({ blue: 25, green: 75 })));
    const http = (object.spec as { http: { route: { weight?: number }[] }[] }).http;
    expect(http.map((r) => r.route.map((d) => d.weight))).toEqual([[25, 75], [25, 75], [undefined]]);
    expect(routeView(b, object, 'v', policy({ blue: 25, green: 75 }))).toMatchObject({ weights: { blue: 25, green: 75 }, inSync: true, backends: { blue: 'payment-blue', green: 'payment-green.shop.svc.cluster.local' } });
  });

  it('reads a lone destination without a weight as all of the traffic (Istio)', () => {
    const route = virtualService([{ route: [{ destination: { host: 'payment-blue' } }] }]);
    expect(routeView(b, route, 'v', policy({ blue: 100, green: 0 }))).toMatchObject({ weights: { blue: 100 }, inSync: true });
    expect(planRouteWrite(b, route, 'v', policy({ blue: 0, green: 100 }))).toMatchObject({ kind: 'refused', why: expect.stringContaining('no backend for subset "green"') });
  });

  it('leaves a destination of the Service itself without a subset alone', () => {
    const route = virtualService([{ route: [{ destination: { host: 'payment' }, weight: 10 }, { destination: { host: 'payment', subset: 'blue' }, weight: 90 }, { destination: { host: 'payment', subset: 'green' }, weight: 0 }] }]);
    const http = (written(planRouteWrite(b, route, 'v', policy({ blue: 0, green: 100 }))).spec as { http: { route: { weight?: number }[] }[] }).http;
    expect(http[0]!.route.map((d) => d.weight)).toEqual([10, 0, 100]);
  });
});
