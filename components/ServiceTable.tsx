'use client';
import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { IntentLink } from './IntentLink';
import { useLayoutEffect, useRef, useState } from 'react';
import { isSplit, type ServiceFilter, type ServiceRow, type SortKey } from '@/lib/serviceFilters';
import type { ServiceSummary } from '@/protocol/model';
import { HealthCountPills } from './HealthCountPills';
import { RolloutBadge } from './rollouts/RolloutBadge';

const ROW_HEIGHT = 44;

const COLUMNS: { key: SortKey; label: string }[] = [
  { key: 'name', label: 'Service' },
  { key: 'source', label: 'Source / DC' },
];

export function serviceHref(id: string): string {
  return `/services/${id.split('/').map(encodeURIComponent).join('/')}`;
}

/** Virtualized against the window scroll, so thousands of services cost a screenful of DOM. */
export function ServiceTable({ rows, filter, onSort, staleSources }: {
  rows: ServiceRow[];
  filter: ServiceFilter;
  onSort: (key: SortKey) => void;
  /** Sources whose data is last-known-good (stale) or missing (down): their services get a badge. */
  staleSources: ReadonlyMap<string, 'stale' | 'down'>;
}) {
  const listRef = useRef<HTMLDivElement>(null);
  const [offset, setOffset] = useState(0);
  useLayoutEffect(() => setOffset(listRef.current?.offsetTop ?? 0), []);
  const virtualizer = useWindowVirtualizer({ count: rows.length, estimateSize: () => ROW_HEIGHT, overscan: 12, scrollMargin: offset });

  // aria-sort belongs on the column header (ARIA allows it there, not on the button inside).
  const sortHeader = (key: SortKey, label: string) => (
    <span role="columnheader" key={key} aria-sort={filter.sort === key ? (filter.desc ? 'descending' : 'ascending') : 'none'}>
      <button type="button" onClick={() => onSort(key)} data-testid={`sort-${key}`}>
        {label}
        {filter.sort === key && <span aria-hidden>{filter.desc ? '▼' : '▲'}</span>}
      </button>
    </span>
  );

  return (
    // Only a screenful of rows is in the DOM: aria-rowcount/aria-rowindex tell a screen reader where it is.
    <div className="table" role="table" aria-label="Services" aria-rowcount={rows.length + 1}>
      <div role="rowgroup">
        <div className="thead" role="row" aria-rowindex={1}>
          {COLUMNS.map((c) => sortHeader(c.key, c.label))}
          <span role="columnheader">Tags</span>
          {sortHeader('instances', 'Instances')}
          {sortHeader('health', 'Health (pass / warn / crit)')}
        </div>
      </div>
      <div ref={listRef} role="rowgroup" style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
        {virtualizer.getVirtualItems().map((item) => {
          const { service, counts, instances } = rows[item.index]!;
          return (
            <div
              key={service.id}
              role="row"
              aria-rowindex={item.index + 2}
              className="trow"
              data-testid="service-row"
              data-service-id={service.id}
              style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${item.start - virtualizer.options.scrollMargin}px)` }}
            >
              <span role="cell" className="name">
                <IntentLink href={serviceHref(service.id)}>{service.name}</IntentLink>
                <Badges service={service} sourceState={staleSources.get(service.sourceId)} />
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

/**
 * What an SRE scans the list for: a split or canary in progress, drained instances, open
 * breakers, a source that is not live. Each says in words what its colour says.
 */
function Badges({ service: s, sourceState }: { service: ServiceSummary; sourceState: 'stale' | 'down' | undefined }) {
  const split = isSplit(s);
  return (
    <>
      {sourceState && (
        <span className="badge stale" data-testid="badge-stale" title={`${s.sourceId} is ${sourceState}: this is its last-known-good data`}>
          {sourceState === 'stale' ? 'source stale' : 'source down'}
        </span>
      )}
      {split && s.weights && (
        <span className="badge split" data-testid="badge-split" title="Traffic is split across subsets">
          <span className="sr-only">traffic split: </span>
          {Object.entries(s.weights).filter(([, w]) => w > 0).map(([k, w]) => `${k} ${w}%`).join(' / ')}
        </span>
      )}
      <RolloutBadge rollout={s.rollout} />
      {s.drained > 0 && <span className="badge warning" data-testid="badge-drained">{s.drained} drained</span>}
      {s.breakersOpen > 0 && (
        <span className="badge breaker-open" data-testid="badge-breakers">{s.breakersOpen} breaker{s.breakersOpen === 1 ? '' : 's'} open</span>
      )}
    </>
  );
}
