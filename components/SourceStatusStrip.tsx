'use client';
import { lazy, Suspense } from 'react';
import type { SourceStatus } from '@/protocol/model';
import { timeAgo } from '@/lib/timeAgo';
import { useNow } from '@/lib/useNow';
import { useTopology } from '@/lib/useTopology';
import { XdsStatusChip } from './XdsStatusChip';

// Loaded only when a chip has an error to explain (see SourceErrorTooltip).
const SourceErrorTooltip = lazy(() => import('./SourceErrorTooltip'));

/** One chip per registry: state, time since the last good sync, and the last error. */
export function SourceStatusStrip() {
  const { data } = useTopology();
  const now = useNow();
  if (!data) return null;
  return (
    <nav className="strip" aria-label="Registry status">
      {data.sources.length === 0 && <span className="source-chip">No registries configured</span>}
      {data.sources.map((s) => (
        <SourceChip key={s.id} source={s} now={now} />
      ))}
      <XdsStatusChip />
    </nav>
  );
}

function SourceChip({ source: s, now }: { source: SourceStatus; now: number }) {
  const chip = (
    <span className="source-chip" data-testid="source-status" data-source-id={s.id} data-state={s.state} tabIndex={s.lastError ? 0 : -1}>
      <span className={`dot ${s.state}`} aria-hidden />
      <strong>{s.name}</strong>
      <span>{s.kind}{s.scopes.length ? ` · ${s.scopes.join(', ')}` : ''}</span>
      <span>· {s.state}</span>
      <span title={s.lastSyncAt ?? undefined}>· synced {timeAgo(s.lastSyncAt, now)}</span>
      {s.detail && <span className="meta" data-testid="source-detail">· {s.detail}</span>}
      {s.lastError && s.state !== 'ok' && <span className="err">· {s.lastError}</span>}
    </span>
  );
  if (!s.lastError) return chip;
  // Until the tooltip's code is in, the chip shows without it.
  return (
    <Suspense fallback={chip}>
      <SourceErrorTooltip source={s}>{chip}</SourceErrorTooltip>
    </Suspense>
  );
}
