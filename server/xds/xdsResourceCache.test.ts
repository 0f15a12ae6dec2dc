import { describe, expect, it } from 'vitest';
import type { Service } from '../../protocol/model';
import { instance, service } from '../../test/fixtures';
import { XdsResourceCache } from './xdsResourceCache';

describe('XdsResourceCache with services listed before their instances are read (pending)', () => {
  it('serves nothing for a pending service (never zero endpoints), names it for any of its resource names, and serves it once read', () => {
    const services = new Map<string, Service>();
    const put = (s: Service) => services.set(s.id, s);
    put({ ...service('prod', 'dc1', 'payment', []), pending: { passing: 3, warning: 0, critical: 0, unknown: 0 } });
    put(service('prod', 'dc1', 'orders', [instance('n1/orders-1')]));
    const cache = new XdsResourceCache({ service: (id) => services.get(id) });

    const first = cache.update(services.keys());
    expect([...first.endpoint]).toEqual(['prod/dc1/orders']);
    expect(cache.get('endpoint', 'prod/dc1/payment')).toBeUndefined();
    expect(cache.get('listener', 'payment')).toBeUndefined();

    // Whatever name a data plane asks by, the pending service behind it is found…
    for (const [type, name] of [['listener', 'payment'], ['listener', 'payment.dc1.prod'], ['route', 'prod/dc1/payment'], ['cluster', 'prod/dc1/payment'], ['endpoint', 'prod/dc1/payment#blue']] as const) {
      expect(cache.pendingServicesFor(type, name), `${type} ${name}`).toEqual(['prod/dc1/payment']);
    }
    // …and served names, unknown names and hostile ones find nothing.
    expect(cache.pendingServicesFor('listener', 'orders')).toEqual([]);
    expect(cache.pendingServicesFor('cluster', 'nope')).toEqual([]);
    expect(cache.pendingServicesFor('listener', '.'.repeat(500))).toEqual([]);

    put(service('prod', 'dc1', 'payment', [instance('n1/payment-1'), instance('n2/payment-2')]));
    const read = cache.update(['prod/dc1/payment']);
    expect([...read.endpoint]).toEqual(['prod/dc1/payment']);
    expect([...read.listener].sort()).toEqual(['payment', 'payment.dc1.prod']);
    expect(cache.pendingServicesFor('listener', 'payment')).toEqual([]);
  });
});
