import { describe, expect, it } from 'vitest';
import { check, instance, service } from '@/test/fixtures';
import { summarize } from '@/protocol/model';
import { DEFAULT_FILTER, filterRows, filterToQuery, parseFilter } from './serviceFilters';
import { byName } from './topologyCache';

const list = [
  service('prod', 'dc1', 'web', [instance('a'), instance('b', { checks: [check('critical')] })], ['blue']),
  service('prod', 'dc2', 'api', [instance('a', { checks: [check('warning')] })], ['v2']),
  service('lab', 'dc1', 'payment', [instance('a'), instance('b'), instance('c')], ['green']),
].map((s) => summarize(s, s.instances)).sort(byName);
const rows = filterRows(list, DEFAULT_FILTER);

const names = (f: Partial<typeof DEFAULT_FILTER>) => filterRows(list, { ...DEFAULT_FILTER, ...f }).map((r) => r.service.id);

describe('service filters', () => {
  it('counts health per service and finds the worst', () => {
    expect(rows.find((r) => r.service.name === 'web')).toMatchObject({ counts: { passing: 1, critical: 1, warning: 0, unknown: 0 }, worst: 'critical', instances: 2 });
  });

  it('filters by name, tag and health', () => {
    expect(names({ q: 'PAY' })).toEqual(['lab/dc1/payment']);
    expect(names({ tag: 'blue' })).toEqual(['prod/dc1/web']);
    expect(names({ health: 'warning' })).toEqual(['prod/dc2/api']);
    expect(names({ q: 'dc2' })).toEqual(['prod/dc2/api']);
  });

  it('sorts by each column, both directions', () => {
    expect(names({})).toEqual(['prod/dc2/api', 'lab/dc1/payment', 'prod/dc1/web']);
    expect(names({ sort: 'instances', desc: true })).toEqual(['lab/dc1/payment', 'prod/dc1/web', 'prod/dc2/api']);
    expect(names({ sort: 'health', desc: true })).toEqual(['prod/dc1/web', 'prod/dc2/api', 'lab/dc1/payment']);
    expect(names({ sort: 'source' })).toEqual(['lab/dc1/payment', 'prod/dc1/web', 'prod/dc2/api']);
  });

  it('filters by badge: a split in progress, drained instances, open breakers', () => {
    const withBadges = list.map((s) =>
      s.name === 'web' ? { ...s, weights: { blue: 80, green: 20 } } : s.name === 'api' ? { ...s, weights: { blue: 100, green: 0 }, breakersOpen: 1 } : { ...s, drained: 2 },
    );
    const by = (badge: typeof DEFAULT_FILTER.badge) => filterRows(withBadges, { ...DEFAULT_FILTER, badge }).map((r) => r.service.name);
    expect(by('split')).toEqual(['web']);
    expect(by('breakers')).toEqual(['api']);
    expect(by('drained')).toEqual(['payment']);
    expect(filterRows(withBadges, { ...DEFAULT_FILTER, badge: 'stale' }, new Set(['lab'])).map((r) => r.service.id)).toEqual(['lab/dc1/payment']);
  });

  it('round-trips through the URL and ignores junk', () => {
    const f = { q: 'web', tag: 'blue', health: 'critical' as const, badge: 'split' as const, sort: 'health' as const, desc: true };
    expect(parseFilter(new URLSearchParams(filterToQuery(f)))).toEqual(f);
    expect(parseFilter(new URLSearchParams('health=bogus&sort=zzz'))).toEqual(DEFAULT_FILTER);
    expect(filterToQuery(DEFAULT_FILTER)).toBe('');
  });
});
