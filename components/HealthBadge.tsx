import type { Health } from '@/protocol/model';

export function HealthBadge({ health }: { health: Health }) {
  return (
    <span className={`badge ${health}`}>
      <span className={`dot ${health}`} aria-hidden />
      {health}
    </span>
  );
}
