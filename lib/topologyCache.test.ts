import { describe, expect, it } from 'vitest';
import type { Topology } from '@/protocol/model';
import { instance, service } from '@/test/fixtures';
import { stepTopology } from './topologyCache';

const t1: Topology = { rev: 1, sources: [], services: [service('p', 'dc1', 'web', [instance('a')])] };

describe('stepTopology', () => {
  it('replaces everything on a snapshot', () => {
    expect(stepTopology(t1, { type: 'snapshot', topology: { rev: 9, sources: [], services: [] } })).toEqual({ kind: 'apply', topology: { rev: 9, sources: [], services: [] } });
  });

  it('applies a delta that starts at our revision', () => {
    const step = stepTopology(t1, { type: 'delta', fromRev: 1, rev: 2, ops: [{ op: 'instance.delete', serviceId: 'p/dc1/web', instanceId: 'a' }] });
    expect(step.kind).toBe('apply');
    expect(step.kind === 'apply' && step.topology.services[0]?.instances).toEqual([]);
    expect(step.kind === 'apply' && step.topology.rev).toBe(2);
  });

  it('asks to resync on a gap, and ignores deltas it already has', () => {
    expect(stepTopology(t1, { type: 'delta', fromRev: 3, rev: 4, ops: [] })).toEqual({ kind: 'resync', sinceRev: 1 });
    expect(stepTopology(undefined, { type: 'delta', fromRev: 3, rev: 4, ops: [] })).toEqual({ kind: 'resync', sinceRev: undefined });
    expect(stepTopology(t1, { type: 'delta', fromRev: 0, rev: 1, ops: [] })).toEqual({ kind: 'ignore' });
  });

  it('resyncs when a heartbeat shows we fell behind', () => {
    expect(stepTopology(t1, { type: 'heartbeat', rev: 5, serverTime: '' })).toEqual({ kind: 'resync', sinceRev: 1 });
    expect(stepTopology(t1, { type: 'heartbeat', rev: 1, serverTime: '' })).toEqual({ kind: 'ignore' });
  });
});
