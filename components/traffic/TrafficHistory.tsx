'use client';
import { timeAgo } from '@/lib/timeAgo';
import { describeWeights, type AuditEntry } from '@/lib/useTraffic';
import { useNow } from '@/lib/useNow';

/** Who changed what, when and why — rejected attempts included — with one-click roll back. */
export function TrafficHistory({ entries, canRollBack, onRollBack }: { entries: AuditEntry[]; canRollBack: boolean; onRollBack: (entry: AuditEntry) => void }) {
  const now = useNow(5_000);
  if (entries.length === 0) return <p className="meta">No changes recorded yet.</p>;
  const currentId = entries.find((e) => e.outcome === 'applied')?.id;
  return (
    <ol className="history" aria-label="Traffic history">
      {entries.map((e) => (
        <li key={e.id} className={e.outcome} data-testid="history-entry" data-outcome={e.outcome} data-after={e.after ? Object.entries(e.after.weights).map(([n, w]) => `${n}:${w}`).join(',') : ''}>
          <div>
            <b>{e.by}</b> <time dateTime={e.at} title={e.at}>{timeAgo(e.at, now)}</time>
            {e.outcome === 'rejected' && <span className="badge critical">refused</span>}
            {e.forced && <span className="badge warning">forced</span>}
          </div>
          <div className="mono">
            {describeWeights(e.before)} → {e.after || e.outcome === 'applied' ? describeWeights(e.after) : 'an invalid change (not recorded)'}
          </div>
          <div className="meta">{e.outcome === 'rejected' ? e.error : e.reason || 'no reason given'}</div>
          {e.outcome === 'applied' && e.id !== currentId && (
            <button className="btn secondary small" disabled={!canRollBack} onClick={() => onRollBack(e)} data-testid="rollback">
              Roll back to this
            </button>
          )}
          {e.id === currentId && <span className="meta">current</span>}
        </li>
      ))}
    </ol>
  );
}
