import type { Rollout } from '@/protocol/rollout';
import styles from './rollout.module.css';

/** The steps in order; the current one is marked (aria-current) and outlined, finished ones muted. */
export function StepsTimeline({ rollout }: { rollout: Rollout }) {
  const active = rollout.state === 'Progressing' || rollout.state === 'Paused';
  return (
    <ol className={styles.timeline} aria-label="Rollout steps" data-testid="rollout-steps">
      {rollout.steps.map((s, i) => {
        const n = i + 1;
        const current = n === rollout.step;
        const cls = [styles.step, current ? styles.current : '', n < rollout.step ? styles.done : ''].join(' ');
        return (
          <li key={n} className={cls} aria-current={current ? 'step' : undefined}>
            <span className="sr-only">Step {n}: </span>
            {s.weight}%{s.pause ? ` · ${s.pause}` : s.weight === 100 ? '' : ' · waits for promote'}
            {current && !active && <span className="sr-only"> ({rollout.state})</span>}
          </li>
        );
      })}
    </ol>
  );
}
