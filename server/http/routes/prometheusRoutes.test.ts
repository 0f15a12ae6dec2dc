import { describe, expect, it } from 'vitest';
import { PrometheusTargets } from '../../../protocol/api';
import type { Instance, Service } from '../../../protocol/model';
import { TopologyStore } from '../../topology/topologyStore';
import { serviceTargets, TargetsCache } from './prometheusRoutes';

function instance(id: string, over: Partial<Instance> = {}): Instance {
  return { id, address: '10.0.0.1', port: 8080, tags: [], meta: {}, node: null, health: 'passing', checks: [], ...over };
}

function service(sourceId: string, scope: string, name: string, instances: Instance[], traffic: Service['traffic'] = null): Service {
  return { id: `${sourceId}/${scope}/${name}`, sourceId, scope, name, tags: [], traffic, instances };
}

describe('GET /api/prometheus/targets', () => {
  it('labels each instance with source, scope, service, health, instance id and subset; honours metrics port and path', () => {
    const svc = service('prod', 'dc1', 'payment', [
      instance('node-1/payment-1', { tags: ['blue'] }),
      instance('node-2/payment-4', { tags: ['green', 'metrics_port=9100'], health: 'critical' }),
      instance('node-3/payment-9', { address: 'fe80::1', meta: { metrics_port: '9200', metrics_path: '/prom' } }),
      instance('node-4/bad-port', { meta: { metrics_port: '99999' } }),
      instance('node-5/no-address', { address: '' }),
    ], {
      version: 1,
      subsets: { blue: { tags: ['blue'] }, green: { tags: ['green'] } },
      weights: { blue: 90, green: 10 },
    } as unknown as Service['traffic']);
    expect(serviceTargets(svc)).toEqual([
      { targets: ['10.0.0.1:8080'], labels: { source: 'prod', scope: 'dc1', service: 'payment', health: 'passing', instance_id: 'payment-1', subset: 'blue' } },
      { targets: ['10.0.0.1:9100'], labels: { source: 'prod', scope: 'dc1', service: 'payment', health: 'critical', instance_id: 'payment-4', subset: 'green' } },
      { targets: ['[fe80::1]:9200'], labels: { source: 'prod', scope: 'dc1', service: 'payment', health: 'passing', instance_id: 'payment-9', __metrics_path__: '/prom' } },
      // An unusable metrics_port falls back to the service port.
      { targets: ['10.0.0.1:8080'], labels: { source: 'prod', scope: 'dc1', service: 'payment', health: 'passing', instance_id: 'bad-port' } },
    ]);
  });

  it('encodes every source of a 150,000-instance fleet as valid http_sd JSON, and re-encodes only what changed', async () => {
    const store = new TopologyStore();
    for (const [id, kind] of [['consul', 'consul'], ['k8s', 'kubernetes'], ['dns', 'dns']] as const) store.addSource({ id, kind, name: id, address: null });
    const perService = 50;
    for (const [sourceId, count] of [['consul', 1000], ['k8s', 1500], ['dns', 500]] as const) {
      const services = Array.from({ length: count }, (_, s) =>
        service(sourceId, 'a', `svc-${s}`, Array.from({ length: perService }, (_, i) => instance(`n${i}/svc-${s}-${i}`, { address: `10.${s % 250}.${i}.${s % 200}`, port: 8000 + i }))),
      );
      store.apply(sourceId, { type: 'scope.synced', scope: 'a', services });
    }
    const cache = new TargetsCache(store);
    const started = performance.now();
    const { chunks, bytes } = await cache.encoded();
    const ms = performance.now() - started;
    const text = Buffer.concat(chunks).toString();
    expect(text.length).toBe(bytes);
    const groups = PrometheusTargets.parse(JSON.parse(text));
    expect(groups).toHaveLength(150_000);
    expect(new Set(groups.map((g) => g.labels.source))).toEqual(new Set(['consul', 'k8s', 'dns']));

    // One instance's check flips: the next answer re-encodes that one service only.
    const svc = store.service('k8s/a/svc-7')!;
    store.apply('k8s', { type: 'service.changed', service: { ...svc, instances: svc.instances.map((i) => (i.id === 'n3/svc-7-3' ? { ...i, health: 'critical' as const } : i)) } });
    const again = performance.now();
    const next = await cache.encoded();
    const msAgain = performance.now() - again;
    const flipped = PrometheusTargets.parse(JSON.parse(Buffer.concat(next.chunks).toString())).find((g) => g.labels.source === 'k8s' && g.labels.instance_id === 'svc-7-3')!;
    expect(flipped.labels.health).toBe('critical');
    expect(await cache.encoded()).toBe(next);
    console.log(`http_sd for 150,000 instances: ${(bytes / 2 ** 20).toFixed(1)} MiB in ${chunks.length} buffers; first encoding ${Math.round(ms)} ms (yielding), after one check flip ${Math.round(msAgain)} ms`);
  }, 60_000);
});

describe('GET /api/prometheus/targets while a registry is still being read', () => {
  it('answers 503 with Retry-After rather than a partial list (Prometheus keeps its last targets on an error)', async () => {
    const { prometheusRoutes } = await import('./prometheusRoutes');
    const store = new TopologyStore();
    store.addSource({ id: 'prod', kind: 'consul', name: 'prod', address: null });
    store.apply('prod', { type: 'scope.synced', scope: 'dc1', services: [{ ...service('prod', 'dc1', 'web', []), pending: { passing: 3, warning: 0, critical: 0, unknown: 0 } }, service('prod', 'dc1', 'api', [instance('n/api-1')])] });
    const [route] = prometheusRoutes(store);
    const call = () => route!.handler({ res: fakeResponse() } as never);
    await expect(call()).rejects.toMatchObject({ status: 503, headers: { 'retry-after': '5' } });
    await expect(call()).rejects.toThrow(/the instances of 1 services are still being read/);
    store.apply('prod', { type: 'services.changed', services: [service('prod', 'dc1', 'web', [instance('n/web-1')])] });
    const res = fakeResponse();
    await route!.handler({ res } as never);
    expect(PrometheusTargets.parse(JSON.parse(res.body())).map((g) => g.labels.service).sort()).toEqual(['api', 'web']);
  });
});

/** Just enough of a ServerResponse for the route: the head and the chunks written. */
function fakeResponse() {
  const chunks: Buffer[] = [];
  const res = {
    writeHead: () => res,
    cork: () => undefined,
    uncork: () => undefined,
    write: (c: Buffer) => (chunks.push(Buffer.from(c)), true),
    end: (c?: Buffer) => {
      if (c) chunks.push(Buffer.from(c));
    },
    destroyed: false,
    body: () => Buffer.concat(chunks).toString(),
  };
  return res;
}
