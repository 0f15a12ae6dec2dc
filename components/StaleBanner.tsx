'use client';
import { timeAgo } from '@/lib/timeAgo';
import { useNow } from '@/lib/useNow';
import { useTopologySelect } from '@/lib/useTopology';
import { unreachableSources } from '@/lib/topologySelectors';

/** Says plainly when what is shown is last-known-good rather than live. */
export function StaleBanner() {
  const { data: bad = [] } = useTopologySelect(unreachableSources);
  const now = useNow();
  if (bad.length === 0) return null;
  return (
    <div className="banner" role="alert" data-testid="stale-banner">
      {bad.map((s) => (
        <div key={s.id}>
          <strong>{s.name} is unreachable.</strong>
          {s.state === 'stale'
            ? `Showing last-known-good data from ${timeAgo(s.lastSyncAt, now)}; it may be out of date.`
            : 'It has not answered since Switchboard started, so it contributes no services.'}{' '}
          {s.lastError && <span className="mono">({s.lastError})</span>}
        </div>
      ))}
    </div>
  );
}
