import type { HealthCounts } from '@/protocol/model';

const KINDS = ['passing', 'warning', 'critical'] as const;

export function HealthCountPills({ counts }: { counts: HealthCounts }) {
  return (
    <span className="counts">
      {KINDS.map((k) => (
        <span key={k} className={`count ${k}${counts[k] === 0 ? ' zero' : ''}`} title={`${counts[k]} ${k}`} aria-label={`${counts[k]} ${k}`} data-testid={`count-${k}`}>
          {counts[k]}
        </span>
      ))}
    </span>
  );
}
