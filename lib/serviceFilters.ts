/** Filtering and sorting of the service list; the state lives in the URL query. */
import type { Health, HealthCounts, ServiceSummary } from '@/protocol/model';
import { byName } from './topologyCache';

export type SortKey = 'name' | 'source' | 'instances' | 'health';
export type HealthFilter = Health | 'any';
/** Badges an SRE scans for: a traffic split or canary, drained instances, open breakers, a stale source. */
export type BadgeFilter = '' | 'split' | 'breakers' | 'drained' | 'stale';

export interface ServiceFilter {
  q: string;
  tag: string;
  health: HealthFilter;
  badge: BadgeFilter;
  sort: SortKey;
  desc: boolean;
}

export const DEFAULT_FILTER: ServiceFilter = { q: '', tag: '', health: 'any', badge: '', sort: 'name', desc: false };

export interface ServiceRow {
  service: ServiceSummary;
  counts: HealthCounts;
  worst: Health;
  instances: number;
}

const NO_SOURCES: ReadonlySet<string> = new Set();

const SEVERITY: Record<Health, number> = { critical: 3, warning: 2, unknown: 1, passing: 0 };

export function toRow(service: ServiceSummary): ServiceRow {
  const counts = service.counts;
  const worst: Health = counts.critical ? 'critical' : counts.warning ? 'warning' : counts.unknown ? 'unknown' : 'passing';
  return { service, counts, worst, instances: counts.passing + counts.warning + counts.critical + counts.unknown };
}

/** A split is "in progress" when weight is on more than one subset (a canary, or mid-flip). */
export function isSplit(s: Pick<ServiceSummary, 'weights'>): boolean {
  return s.weights !== null && Object.values(s.weights).filter((w) => w > 0).length > 1;
}

function hasBadge(s: ServiceSummary, badge: BadgeFilter, staleSources: ReadonlySet<string>): boolean {
  switch (badge) {
    case 'stale':
      return staleSources.has(s.sourceId);
    case '':
      return true;
    case 'split':
      return isSplit(s);
    case 'breakers':
      return s.breakersOpen > 0;
    case 'drained':
      return s.drained > 0;
  }
}

/**
 * `sorted` is the list in name order (kept that way by the cache), so the default view is one
 * filtering pass with no sort; other orders sort only what the filter kept. `staleSources`: ids
 * of sources that are stale or down (the summaries do not carry their source's state).
 */
export function filterRows(sorted: readonly ServiceSummary[], f: ServiceFilter, staleSources: ReadonlySet<string> = NO_SOURCES): ServiceRow[] {
  const q = f.q.trim().toLowerCase();
  const tag = f.tag.trim().toLowerCase();
  const out: ServiceRow[] = [];
  for (const s of sorted) {
    if (q && !s.name.toLowerCase().includes(q) && !s.id.toLowerCase().includes(q)) continue;
    if (tag && !s.tags.some((t) => t.toLowerCase() === tag)) continue;
    if (f.health !== 'any' && s.counts[f.health] === 0) continue;
    if (!hasBadge(s, f.badge, staleSources)) continue;
    out.push(toRow(s));
  }
  if (f.sort === 'name') return f.desc ? out.reverse() : out;
  const dir = f.desc ? -1 : 1;
  const name = (a: ServiceRow, b: ServiceRow) => byName(a.service, b.service);
  const cmp: Record<Exclude<SortKey, 'name'>, (a: ServiceRow, b: ServiceRow) => number> = {
    source: (a, b) => (a.service.sourceId + '/' + a.service.scope < b.service.sourceId + '/' + b.service.scope ? -1 : a.service.sourceId + '/' + a.service.scope > b.service.sourceId + '/' + b.service.scope ? 1 : name(a, b)),
    instances: (a, b) => a.instances - b.instances || name(a, b),
    health: (a, b) => SEVERITY[a.worst] - SEVERITY[b.worst] || a.counts[a.worst] - b.counts[b.worst] || name(a, b),
  };
  return out.sort((a, b) => dir * cmp[f.sort as Exclude<SortKey, 'name'>](a, b));
}

export function parseFilter(params: URLSearchParams): ServiceFilter {
  const health = params.get('health');
  const sort = params.get('sort');
  const badge = params.get('badge');
  return {
    q: params.get('q') ?? '',
    tag: params.get('tag') ?? '',
    health: health === 'passing' || health === 'warning' || health === 'critical' || health === 'unknown' ? health : 'any',
    badge: badge === 'split' || badge === 'breakers' || badge === 'drained' || badge === 'stale' ? badge : '',
    sort: sort === 'source' || sort === 'instances' || sort === 'health' ? sort : 'name',
    desc: params.get('desc') === '1',
  };
}

export function filterToQuery(f: ServiceFilter): string {
  const p = new URLSearchParams();
  if (f.q) p.set('q', f.q);
  if (f.tag) p.set('tag', f.tag);
  if (f.health !== 'any') p.set('health', f.health);
  if (f.badge) p.set('badge', f.badge);
  if (f.sort !== 'name') p.set('sort', f.sort);
  if (f.desc) p.set('desc', '1');
  const s = p.toString();
  return s ? `?${s}` : '';
}
