import { describe, expect, it } from 'vitest';
import type { ServiceSummary } from '@/protocol/model';
import { instance, service } from '@/test/fixtures';
import { stepService } from './serviceFrames';
import { stepSummary, type SummaryCache } from './topologyCache';

const summary = (name: string, critical = 0): ServiceSummary => ({
  id: `p/dc1/${name}`, sourceId: 'p', scope: 'dc1', name, tags: [], counts: { passing: 1, warning: 0, critical, unknown: 0 }, weights: null, drained: 0, breakersOpen: 0,
});

function cache(...names: string[]): SummaryCache {
  const step = stepSummary(undefined, { type: 'snapshot', rev: 1, sources: [], services: names.map((n) => summary(n)) });
  if (step.kind !== 'apply') throw new Error('snapshot must apply');
  return step.value;
}

describe('stepSummary', () => {
  it('keeps the list sorted by name from a snapshot', () => {
    expect(cache('web', 'api', 'db').sorted.map((s) => s.name)).toEqual(['api', 'db', 'web']);
  });

  it('updates one row in place, inserts and deletes in order, without re-sorting the rest', () => {
    const c = cache('api', 'db', 'web');
    const untouched = c.sorted[0];
    const step = stepSummary(c, {
      type: 'delta', fromRev: 1, rev: 2,
      ops: [{ op: 'summary.put', service: summary('db', 2) }, { op: 'summary.put', service: summary('cart') }, { op: 'summary.delete', serviceId: 'p/dc1/web' }],
    });
    expect(step.kind).toBe('apply');
    if (step.kind !== 'apply') return;
    expect(step.value.rev).toBe(2);
    expect(step.value.sorted.map((s) => s.name)).toEqual(['api', 'cart', 'db']);
    expect(step.value.byId.get('p/dc1/db')?.counts.critical).toBe(2);
    expect(step.value.sorted[0]).toBe(untouched);
    expect(step.value).not.toBe(c);
  });

  it('asks to resync on a gap, ignores deltas it already has, and re-applies overlapping ones', () => {
    const c = cache('api');
    expect(stepSummary(c, { type: 'delta', fromRev: 3, rev: 4, ops: [] })).toEqual({ kind: 'resync', sinceRev: 1 });
    expect(stepSummary(undefined, { type: 'delta', fromRev: 3, rev: 4, ops: [] })).toEqual({ kind: 'resync', sinceRev: undefined });
    expect(stepSummary(c, { type: 'delta', fromRev: 0, rev: 1, ops: [] })).toEqual({ kind: 'ignore' });
    expect(stepSummary(c, { type: 'delta', fromRev: 0, rev: 2, ops: [{ op: 'summary.put', service: summary('api') }] }).kind).toBe('apply');
  });

  it('takes a heartbeat as "you have everything up to here"', () => {
    const c = cache('api');
    const step = stepSummary(c, { type: 'heartbeat', rev: 5, serverTime: '' });
    expect(step.kind === 'apply' && step.value.rev).toBe(5);
    expect(stepSummary(c, { type: 'heartbeat', rev: 1, serverTime: '' })).toEqual({ kind: 'ignore' });
  });
});

describe('stepService', () => {
  const web = service('p', 'dc1', 'web', [instance('a'), instance('b')]);

  it('replaces on a full copy and applies deltas that follow', () => {
    const step = stepService(undefined, { type: 'service', serviceId: web.id, rev: 3, service: web });
    expect(step).toEqual({ kind: 'apply', value: { rev: 3, service: web } });
    const next = stepService({ rev: 3, service: web }, { type: 'service.delta', serviceId: web.id, fromRev: 3, rev: 5, ops: [{ op: 'instance.delete', serviceId: web.id, instanceId: 'a' }] });
    expect(next.kind === 'apply' && next.value.service?.instances.map((i) => i.id)).toEqual(['b']);
    const gone = stepService({ rev: 3, service: web }, { type: 'service.delta', serviceId: web.id, fromRev: 3, rev: 4, ops: [{ op: 'service.delete', serviceId: web.id }] });
    expect(gone.kind === 'apply' && gone.value.service).toBeNull();
  });

  it('resyncs from its revision on a gap', () => {
    expect(stepService({ rev: 3, service: web }, { type: 'service.delta', serviceId: web.id, fromRev: 4, rev: 5, ops: [] })).toEqual({ kind: 'resync', sinceRev: 3 });
    expect(stepService({ rev: 3, service: web }, { type: 'service.delta', serviceId: web.id, fromRev: 2, rev: 3, ops: [] })).toEqual({ kind: 'ignore' });
  });
});
