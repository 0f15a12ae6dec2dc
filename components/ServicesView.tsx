'use client';
import { usePathname, useSearchParams } from 'next/navigation';
import { useDeferredValue, useEffect, useMemo, useRef, useState } from 'react';
import { filterRows, filterToQuery, parseFilter, type ServiceFilter, type SortKey } from '@/lib/serviceFilters';
import { useTopology, useTopologySelect } from '@/lib/useTopology';
import { unreachableSources } from '@/lib/topologySelectors';
import { ServiceTable } from './ServiceTable';

const EMPTY: never[] = [];

export function ServicesView() {
  const { data, error, isPending } = useTopology();
  const params = useSearchParams();
  const pathname = usePathname();
  const fromUrl = useMemo(() => parseFilter(new URLSearchParams(params.toString())), [params]);
  // The search box owns its text (typing must never wait for navigation); the URL mirrors it.
  const [q, setQ] = useState(fromUrl.q);
  const filter = useMemo(() => ({ ...fromUrl, q }), [fromUrl, q]);
  const deferred = useDeferredValue(filter);
  const search = useRef<HTMLInputElement>(null);

  // "/" focuses search, as in most SRE tools.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (e.key === '/' && !['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName)) {
        e.preventDefault();
        search.current?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // history.replaceState is synchronous and Next keeps useSearchParams in step with it.
  const update = (patch: Partial<ServiceFilter>) => window.history.replaceState(null, '', `${pathname}${filterToQuery({ ...filter, ...patch })}`);
  const onSort = (key: SortKey) => update(filter.sort === key ? { desc: !filter.desc } : { sort: key, desc: key === 'health' || key === 'instances' });

  const all = data?.sorted ?? EMPTY;
  const { data: unreachable = EMPTY } = useTopologySelect(unreachableSources);
  const staleSources = useMemo(() => new Map(unreachable.map((s) => [s.id, s.state] as const)), [unreachable]);
  // `all` is updated in place by the live cache; `data` is the object that changes with it.
  const staleIds = useMemo(() => new Set(staleSources.keys()), [staleSources]);
  const rows = useMemo(() => filterRows(data?.sorted ?? EMPTY, deferred, staleIds), [data, deferred, staleIds]);
  const allTags = useMemo(() => [...new Set((data?.sorted ?? EMPTY).flatMap((s) => s.tags))].sort(), [data]);
  const instanceCount = useMemo(() => rows.reduce((n, r) => n + r.instances, 0), [rows]);

  return (
    <section aria-labelledby="services-title">
      <h1 id="services-title" className="sr-only">Services</h1>
      <div className="toolbar">
        <label className="sr-only" htmlFor="search">Search services</label>
        <input id="search" ref={search} type="search" data-testid="search" placeholder="Search services…  ( / )" value={filter.q} onChange={(e) => {
            setQ(e.target.value);
            update({ q: e.target.value });
          }} />
        <label className="sr-only" htmlFor="tag">Tag</label>
        <select id="tag" value={filter.tag} onChange={(e) => update({ tag: e.target.value })}>
          <option value="">All tags</option>
          {allTags.map((t) => (
            <option key={t} value={t}>{t}</option>
          ))}
        </select>
        <label className="sr-only" htmlFor="badge">Badge</label>
        <select
          id="badge"
          data-testid="badge-filter"
          value={filter.badge}
          onChange={(e) => update({ badge: e.target.value as ServiceFilter['badge'] })}
        >
          <option value="">Any badge</option>
          <option value="split">Traffic split / canary</option>
          <option value="breakers">Open breakers</option>
          <option value="drained">Drained instances</option>
          <option value="stale">Source stale or down</option>
        </select>
        <label className="sr-only" htmlFor="health">Health</label>
        <select id="health" value={filter.health} onChange={(e) => update({ health: e.target.value as ServiceFilter['health'] })}>
          <option value="any">Any health</option>
          <option value="critical">Has critical</option>
          <option value="warning">Has warning</option>
          <option value="passing">Has passing</option>
        </select>
        {data && (
          <span className="summary" aria-live="polite">
            {rows.length} of {all.length} services · {instanceCount} instances
          </span>
        )}
      </div>
      {isPending && !data ? (
        <div className="table" aria-busy="true">
          {Array.from({ length: 6 }, (_, i) => <div key={i} className="skeleton" />)}
        </div>
      ) : error && !data ? (
        <div className="table error-box" role="alert">Could not load services: {error.message}</div>
      ) : all.length === 0 ? (
        <div className="table empty">
          No services registered in {data?.sources.map((s) => s.name).join(', ') || 'any configured registry'} yet.
        </div>
      ) : rows.length === 0 ? (
        <div className="table empty">No services match these filters.</div>
      ) : (
        <ServiceTable rows={rows} filter={filter} onSort={onSort} staleSources={staleSources} />
      )}
    </section>
  );
}
