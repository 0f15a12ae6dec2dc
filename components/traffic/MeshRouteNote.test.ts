import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { MeshRoute } from '@/protocol/api';
import { MeshRouteNote } from './MeshRouteNote';

const route: MeshRoute = {
  kind: 'HTTPRoute', namespace: 'shop', name: 'payment', apiVersion: 'gateway.networking.k8s.io/v1',
  backends: { blue: 'payment-blue', green: 'payment-green' }, weights: { blue: 90, green: 10 }, inSync: true,
  writtenAt: '2026-11-30T08:00:00.000Z', writtenBy: 'alice',
};
const text = (r: MeshRoute) => renderToStaticMarkup(createElement(MeshRouteNote, { route: r, order: ['blue', 'green'] })).replace(/<[^>]+>/g, '');

describe('MeshRouteNote', () => {
  it('says where the weights are written and what the route holds', () => {
    const t = text(route);
    expect(t).toContain('Weights also written to HTTPRoute shop/payment (gateway.networking.k8s.io/v1) — last by alice');
    expect(t).toContain('blue 90 → payment-blue · green 10 → payment-green');
    expect(t).toContain('matches the policy');
  });

  it('says when the route was changed outside Switchboard, and shows errors', () => {
    expect(text({ ...route, weights: { blue: 50, green: 50 }, inSync: false })).toContain('differs from the policy — changed outside Switchboard');
    expect(text({ ...route, weights: null, inSync: false, error: 'get HTTPRoute shop/payment: forbidden by Kubernetes RBAC' })).toContain('forbidden by Kubernetes RBAC');
    expect(text({ ...route, kind: null, name: 'gateway/x', error: 'annotation switchboard.dev/route on service shop/payment is "gateway/x"' })).toBe('Mesh route binding unusable: annotation switchboard.dev/route on service shop/payment is &quot;gateway/x&quot;');
  });
});
