import type { HealthCounts } from '@/protocol/model';

const KINDS = ['passing', 'warning', 'critical'] as const;

/** Passing / warning / critical counts; a screen reader hears "5 passing", not a bare "5". */
export function HealthCountPills({ counts }: { counts: HealthCounts }) {
  return (
    <span className="counts">
      {KINDS.map((k) => (
        <span key={k} className={`count ${k}${counts[k] === 0 ? ' zero' : ''}`} title={`${counts[k]} ${k}`}>
          <span data-testid={`count-${k}`}>{counts[k]}</span>
          <span className="sr-only"> {k}</span>
        </span>
      ))}
    </span>
  );
}
