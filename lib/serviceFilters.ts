/** Filtering and sorting of the service list; the state lives in the URL query. */
import { healthCounts, type Health, type HealthCounts, type Service } from '@/protocol/model';

export type SortKey = 'name' | 'source' | 'instances' | 'health';
export type HealthFilter = Health | 'any';

export interface ServiceFilter {
  q: string;
  tag: string;
  health: HealthFilter;
  sort: SortKey;
  desc: boolean;
}

export const DEFAULT_FILTER: ServiceFilter = { q: '', tag: '', health: 'any', sort: 'name', desc: false };

export interface ServiceRow {
  service: Service;
  counts: HealthCounts;
  worst: Health;
}

const SEVERITY: Record<Health, number> = { critical: 3, warning: 2, unknown: 1, passing: 0 };

export function toRows(services: readonly Service[]): ServiceRow[] {
  return services.map((service) => {
    const counts = healthCounts(service.instances);
    const worst: Health = counts.critical ? 'critical' : counts.warning ? 'warning' : counts.unknown ? 'unknown' : 'passing';
    return { service, counts, worst };
  });
}

export function filterRows(rows: readonly ServiceRow[], f: ServiceFilter): ServiceRow[] {
  const q = f.q.trim().toLowerCase();
  const tag = f.tag.trim().toLowerCase();
  const out = rows.filter(
    (r) =>
      (!q || r.service.name.toLowerCase().includes(q) || r.service.id.toLowerCase().includes(q)) &&
      (!tag || r.service.tags.some((t) => t.toLowerCase() === tag)) &&
      (f.health === 'any' || r.counts[f.health] > 0),
  );
  const dir = f.desc ? -1 : 1;
  const byName = (a: ServiceRow, b: ServiceRow) => a.service.name.localeCompare(b.service.name) || a.service.id.localeCompare(b.service.id);
  const cmp: Record<SortKey, (a: ServiceRow, b: ServiceRow) => number> = {
    name: byName,
    source: (a, b) => `${a.service.sourceId}/${a.service.scope}`.localeCompare(`${b.service.sourceId}/${b.service.scope}`) || byName(a, b),
    instances: (a, b) => a.service.instances.length - b.service.instances.length || byName(a, b),
    health: (a, b) => SEVERITY[a.worst] - SEVERITY[b.worst] || a.counts[a.worst] - b.counts[b.worst] || byName(a, b),
  };
  return out.sort((a, b) => dir * cmp[f.sort](a, b));
}

export function parseFilter(params: URLSearchParams): ServiceFilter {
  const health = params.get('health');
  const sort = params.get('sort');
  return {
    q: params.get('q') ?? '',
    tag: params.get('tag') ?? '',
    health: health === 'passing' || health === 'warning' || health === 'critical' || health === 'unknown' ? health : 'any',
    sort: sort === 'source' || sort === 'instances' || sort === 'health' ? sort : 'name',
    desc: params.get('desc') === '1',
  };
}

export function filterToQuery(f: ServiceFilter): string {
  const p = new URLSearchParams();
  if (f.q) p.set('q', f.q);
  if (f.tag) p.set('tag', f.tag);
  if (f.health !== 'any') p.set('health', f.health);
  if (f.sort !== 'name') p.set('sort', f.sort);
  if (f.desc) p.set('desc', '1');
  const s = p.toString();
  return s ? `?${s}` : '';
}
