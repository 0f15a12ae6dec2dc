'use client';
import { useWindowVirtualizer } from '@tanstack/react-virtual';
import Link from 'next/link';
import { useLayoutEffect, useRef, useState } from 'react';
import { isSplit, type ServiceFilter, type ServiceRow, type SortKey } from '@/lib/serviceFilters';
import type { ServiceSummary } from '@/protocol/model';
import { HealthCountPills } from './HealthCountPills';

const ROW_HEIGHT = 44;

const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'name', label: 'Service' },
  { key: 'source', label: 'Source / DC' },
];

export function serviceHref(id: string): string {
  return `/services/${id.split('/').map(encodeURIComponent).join('/')}`;
}

/** Virtualized against the window scroll, so thousands of services cost a screenful of DOM. */
export function ServiceTable({ rows, filter, onSort }: { rows: ServiceRow[]; filter: ServiceFilter; onSort: (key: SortKey) => void }) {
  const listRef = useRef<HTMLDivElement>(null);
  const [offset, setOffset] = useState(0);
  useLayoutEffect(() => setOffset(listRef.current?.offsetTop ?? 0), []);
  const virtualizer = useWindowVirtualizer({ count: rows.length, estimateSize: () => ROW_HEIGHT, overscan: 12, scrollMargin: offset });

  const sortButton = (key: SortKey, label: string) => (
    <button type="button" onClick={() => onSort(key)} aria-sort={filter.sort === key ? (filter.desc ? 'descending' : 'ascending') : undefined}>
      {label}
      {filter.sort === key && <span aria-hidden>{filter.desc ? '▼' : '▲'}</span>}
    </button>
  );

  return (
    <div className="table" role="table" aria-label="Services" aria-rowcount={rows.length}>
      <div className="thead" role="row">
        {COLUMNS.map((c) => (
          <span role="columnheader" key={c.key}>{sortButton(c.key, c.label)}</span>
        ))}
        <span role="columnheader">Tags</span>
        <span role="columnheader">{sortButton('instances', 'Instances')}</span>
        <span role="columnheader">{sortButton('health', 'Health (pass / warn / crit)')}</span>
      </div>
      <div ref={listRef} style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
        {virtualizer.getVirtualItems().map((item) => {
          const { service, counts, instances } = rows[item.index]!;
          return (
            <div
              key={service.id}
              role="row"
              className="trow"
              data-testid="service-row"
              data-service-id={service.id}
              style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${item.start - virtualizer.options.scrollMargin}px)` }}
            >
              <span role="cell" className="name">
                <Link href={serviceHref(service.id)}>{service.name}</Link>
                <Badges service={service} />
              </span>
              <span role="cell" className="where">{service.sourceId} / {service.scope}</span>
              <span role="cell" className="tags">
                {service.tags.slice(0, 6).map((t) => (
                  <span className="tag" key={t}>{t}</span>
                ))}
                {service.tags.length > 6 && <span className="tag">+{service.tags.length - 6}</span>}
              </span>
              <span role="cell" className="mono">{instances}</span>
              <span role="cell"><HealthCountPills counts={counts} /></span>
            </div>
          );
        })}
      </div>
    </div>
  );
}

/** What an SRE scans the list for: a split or canary in progress, drained instances, open breakers. */
function Badges({ service: s }: { service: ServiceSummary }) {
  const split = isSplit(s);
  return (
    <>
      {split && s.weights && (
        <span className="badge split" data-testid="badge-split" title="Traffic is split across subsets">
          {Object.entries(s.weights).filter(([, w]) => w > 0).map(([k, w]) => `${k} ${w}%`).join(' / ')}
        </span>
      )}
      {s.drained > 0 && <span className="badge warning" data-testid="badge-drained">{s.drained} drained</span>}
      {s.breakersOpen > 0 && (
        <span className="badge breaker-open" data-testid="badge-breakers">{s.breakersOpen} breaker{s.breakersOpen === 1 ? '' : 's'} open</span>
      )}
    </>
  );
}
