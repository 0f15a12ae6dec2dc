import { describe, expect, it } from 'vitest';
import { check, instance, service } from '@/test/fixtures';
import { DEFAULT_FILTER, filterRows, filterToQuery, parseFilter, toRows } from './serviceFilters';

const rows = toRows([
  service('prod', 'dc1', 'web', [instance('a'), instance('b', { checks: [check('critical')] })], ['blue']),
  service('prod', 'dc2', 'api', [instance('a', { checks: [check('warning')] })], ['v2']),
  service('lab', 'dc1', 'payment', [instance('a'), instance('b'), instance('c')], ['green']),
]);

const names = (f: Partial<typeof DEFAULT_FILTER>) => filterRows(rows, { ...DEFAULT_FILTER, ...f }).map((r) => r.service.id);

describe('service filters', () => {
  it('counts health per service and finds the worst', () => {
    expect(rows[0]).toMatchObject({ counts: { passing: 1, critical: 1, warning: 0, unknown: 0 }, worst: 'critical' });
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

  it('round-trips through the URL and ignores junk', () => {
    const f = { q: 'web', tag: 'blue', health: 'critical' as const, sort: 'health' as const, desc: true };
    expect(parseFilter(new URLSearchParams(filterToQuery(f)))).toEqual(f);
    expect(parseFilter(new URLSearchParams('health=bogus&sort=zzz'))).toEqual(DEFAULT_FILTER);
    expect(filterToQuery(DEFAULT_FILTER)).toBe('');
  });
});
