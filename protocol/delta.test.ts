import { describe, expect, it } from 'vitest';
import { instance, service } from '../test/fixtures';
import { applyOps } from './delta';
import type { Topology } from './model';

const empty: Topology = { rev: 0, sources: [], services: [] };

describe('applyOps', () => {
  it('creates services and instances and keeps them sorted', () => {
    const web = service('p', 'dc1', 'web', []);
    const t = applyOps(
      empty,
      [
        { op: 'service.put', service: { id: web.id, sourceId: 'p', scope: 'dc1', name: 'web', tags: [] } },
        { op: 'instance.put', serviceId: web.id, instance: instance('b') },
        { op: 'instance.put', serviceId: web.id, instance: instance('a') },
      ],
      1,
    );
    expect(t.rev).toBe(1);
    expect(t.services[0]?.instances.map((i) => i.id)).toEqual(['a', 'b']);
  });

  it('does not mutate its input and keeps untouched services by identity', () => {
    const a = service('p', 'dc1', 'a', [instance('1')]);
    const b = service('p', 'dc1', 'b', [instance('1')]);
    const before: Topology = { rev: 1, sources: [], services: [a, b] };
    const frozen = structuredClone(before);
    const after = applyOps(before, [{ op: 'instance.delete', serviceId: a.id, instanceId: '1' }], 2);
    expect(before).toEqual(frozen);
    expect(after.services[1]).toBe(b);
    expect(after.services[0]?.instances).toEqual([]);
  });

  it('ignores instance ops for unknown services and removes a deleted service', () => {
    const t1 = applyOps(empty, [{ op: 'instance.put', serviceId: 'nope', instance: instance('x') }], 1);
    expect(t1.services).toEqual([]);
    const t2 = applyOps({ rev: 1, sources: [], services: [service('p', 'dc1', 'web', [])] }, [{ op: 'service.delete', serviceId: 'p/dc1/web' }], 2);
    expect(t2).toEqual({ rev: 2, sources: [], services: [] });
  });

  it('service.put updates the header and keeps instances', () => {
    const web = service('p', 'dc1', 'web', [instance('1')]);
    const t = applyOps({ rev: 1, sources: [], services: [web] }, [{ op: 'service.put', service: { id: web.id, sourceId: 'p', scope: 'dc1', name: 'web', tags: ['blue'] } }], 2);
    expect(t.services[0]).toMatchObject({ tags: ['blue'], instances: [instance('1')] });
  });
});
