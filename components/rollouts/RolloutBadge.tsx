import type { RolloutBadge as Badge } from '@/protocol/rollout';

const LABEL: Record<Badge['state'], string> = { Progressing: 'rolling out', Paused: 'rollout paused', Promoted: 'rolled out', Aborted: 'rollout aborted', Failed: 'rollout failed' };
const TONE: Record<Badge['state'], string> = { Progressing: 'passing', Paused: 'warning', Promoted: 'unknown', Aborted: 'unknown', Failed: 'critical' };

/** The service list's rollout badge: in words (never colour alone), with the step. Finished successful rollouts are not shown. */
export function RolloutBadge({ rollout }: { rollout: Badge | undefined }) {
  if (!rollout || rollout.state === 'Promoted' || rollout.state === 'Aborted') return null;
  return (
    <span className={`badge ${TONE[rollout.state]}`} data-testid="badge-rollout" title={`Rollout ${rollout.state}, step ${rollout.step} of ${rollout.steps}`}>
      {LABEL[rollout.state]} {rollout.state === 'Failed' ? '' : `${rollout.step}/${rollout.steps}`}
    </span>
  );
}
