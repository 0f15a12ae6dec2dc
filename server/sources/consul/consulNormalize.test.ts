import { describe, expect, it } from 'vitest';
import { ServiceEntries } from '../../../clients/consul/consulHttp';
import { toService } from './consulSource';

describe('toService (normalization)', () => {
  it('maps Consul health entries onto the model with stable ordering', () => {
    const parsed = ServiceEntries.parse([
      {
        Node: { Node: 'n2', Address: '10.0.0.2' },
        Service: { ID: 'web-b', Service: 'web', Tags: ['v2', 'blue'], Address: '', Port: 81, Meta: null },
        Checks: [
          { Node: 'n2', CheckID: 'web-b-ttl', Name: 'ttl', Status: 'warning', Output: 'slow', ServiceID: 'web-b', ServiceName: 'web', Type: 'ttl', ModifyIndex: 9 },
          { Node: 'n2', CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Output: 'ok', ServiceID: '', ServiceName: '', Type: '', ModifyIndex: 3 },
        ],
      },
      {
        Node: { Node: 'n1', Address: '10.0.0.1' },
        Service: { ID: 'web-a', Service: 'web', Tags: null, Address: '192.168.0.5', Port: 80, Meta: { z: '1', a: '2' } },
        Checks: [{ Node: 'n1', CheckID: 'maint', Name: 'm', Status: 'maintenance', Output: '', ServiceID: 'web-a', ServiceName: 'web', Type: '', ModifyIndex: 4 }],
      },
    ]);
    const svc = toService('prod', 'dc1', 'web', parsed);
    expect(svc.id).toBe('prod/dc1/web');
    expect(svc.tags).toEqual(['blue', 'v2']);
    expect(svc.instances.map((i) => [i.id, i.address, i.health])).toEqual([
      ['n1/web-a', '192.168.0.5', 'unknown'],
      ['n2/web-b', '10.0.0.2', 'warning'],
    ]);
    expect(Object.keys(svc.instances[0]!.meta)).toEqual(['a', 'z']);
    expect(svc.instances[1]!.meta).toEqual({});
    expect(svc.instances[1]!.checks.map((c) => [c.id, c.type, c.nodeLevel])).toEqual([
      ['serfHealth', 'serf', true],
      ['web-b-ttl', 'ttl', false],
    ]);
    expect(Object.keys(svc.instances[0]!)).toEqual(['id', 'address', 'port', 'tags', 'meta', 'node', 'health', 'checks']);
  });
});
