'use client';
import { useState } from 'react';
import type { Service } from '@/protocol/model';
import { durationMs, formatDuration, isActive, type Rollout } from '@/protocol/rollout';
import { weightOf } from '@/protocol/traffic';
import { useNow } from '@/lib/useNow';
import { useRolloutMutation, useRolloutView } from '@/lib/useRollout';
import { useSession } from '@/lib/useSession';
import { can } from '@/protocol/api';
import { RolloutChart } from './RolloutChart';
import { StartRolloutForm } from './StartRolloutForm';
import { StepsTimeline } from './StepsTimeline';
import styles from './rollout.module.css';

/** Per service: the rollout (steps, time left, live weight, analysis chart, actions) or "Start rollout". */
export function RolloutPanel({ service }: { service: Service }) {
  const session = useSession();
  const allowed = can(session.data?.user?.role ?? session.data?.anonymousRole, 'rollout:write');
  const view = useRolloutView(service.id);
  const mutation = useRolloutMutation(service.id);
  const [starting, setStarting] = useState(false);
  const now = useNow(1000);

  if (view.isPending) return <section className="panel" aria-busy="true"><h2>Rollout</h2><div className="skeleton" /></section>;
  const data = view.data;
  const r = data?.rollout ?? null;
  const policy = service.traffic ?? null;
  // Without a policy, starting enables one from the blue/green tags: offer those subsets.
  const subsets = policy ? Object.keys(policy.subsets) : colourSubsets(service.tags);
  const defaultCanary = policy ? (subsets.length === 2 ? [...subsets].sort((a, b) => weightOf(policy, a) - weightOf(policy, b))[0] : undefined) : subsets.includes('green') ? 'green' : undefined;

  return (
    <section className="panel" aria-labelledby="rollout-title" data-testid="rollout-panel">
      <div className="panel-head">
        <h2 id="rollout-title">Rollout</h2>
        {r && <span className={`badge ${tone(r)}`} data-testid="rollout-state">{r.state}</span>}
        {data && <span className="meta" data-testid="rollout-controller">controller: {data.controller.mode}{data.controller.holder ? ` (${data.controller.holder})` : ''}{data.controller.mode === 'single-replica' ? ` — ${data.controller.detail}` : ''}</span>}
      </div>
      {view.error && <p className="meta">{view.error.message}</p>}
      {data?.invalid && <div className="alert" role="alert">The registry holds a rollout Switchboard cannot read ({data.invalid}). Starting a new one replaces it.</div>}
      {r && (
        <>
          <div className={styles.facts}>
            <span data-testid="rollout-step">Step {r.step} of {r.steps.length}</span>
            <span data-testid="rollout-weight">{r.canary} (canary) {data!.canaryWeight ?? '?'}% · {r.stable} (stable) {data!.canaryWeight === null ? '?' : 100 - data!.canaryWeight}%</span>
            {isActive(r) && <span data-testid="rollout-time-left">{timeLeft(r, now)}</span>}
            <span className="meta">started by {r.startedBy}{r.reason ? ` — ${r.reason}` : ''}</span>
          </div>
          <StepsTimeline rollout={r} />
          {r.message && (
            <p className={r.state === 'Failed' ? styles.failed : 'meta'} role={r.state === 'Failed' ? 'alert' : undefined} data-testid="rollout-message">
              {r.state === 'Failed' ? 'Rolled back: ' : ''}{r.message}
            </p>
          )}
          <RolloutChart rollout={r} />
          {isActive(r) && (
            <div className={styles.actions}>
              <button className="btn" disabled={!allowed || mutation.isPending} onClick={() => mutation.mutate({ kind: 'promote' })} data-testid="rollout-promote">Promote to next step</button>
              {r.state === 'Paused' ? (
                <button className="btn secondary" disabled={!allowed || mutation.isPending} onClick={() => mutation.mutate({ kind: 'resume' })} data-testid="rollout-resume">Resume</button>
              ) : (
                <button className="btn secondary" disabled={!allowed || mutation.isPending} onClick={() => mutation.mutate({ kind: 'pause' })} data-testid="rollout-pause">Pause</button>
              )}
              <button className="btn secondary" disabled={!allowed || mutation.isPending} onClick={() => mutation.mutate({ kind: 'abort' })} data-testid="rollout-abort">Abort (all traffic to {r.stable})</button>
            </div>
          )}
        </>
      )}
      {!r && !starting && <p className="meta">No rollout. A rollout moves traffic to a new release step by step and rolls it back by itself if its error rate or latency is worse than the thresholds.</p>}
      {!isActive(r) && !starting && (
        <button className="btn" disabled={!allowed} onClick={() => setStarting(true)} data-testid="rollout-start">Start rollout</button>
      )}
      {starting && !isActive(r) && (
        <StartRolloutForm
          subsets={subsets}
          hasPolicy={policy !== null}
          defaultCanary={defaultCanary}
          pending={mutation.isPending}
          onCancel={() => setStarting(false)}
          onStart={(body) => mutation.mutate({ kind: 'start', body }, { onSuccess: () => setStarting(false) })}
        />
      )}
      {mutation.error ? (
        <div className="alert" role="alert" data-testid="rollout-error">
          {mutation.error.status === 409 ? `Someone else changed this rollout first: ${mutation.error.message}` : mutation.error.message}
        </div>
      ) : (
        <div className="sr-only" role="status" aria-live="polite">{mutation.isSuccess && mutation.data.rollout ? `Rollout ${mutation.data.rollout.state}, step ${mutation.data.rollout.step}` : ''}</div>
      )}
    </section>
  );
}

/** The subsets "Enable traffic control" would make from colour tags (`blue`, or `color=blue` on Kubernetes). */
function colourSubsets(tags: readonly string[]): string[] {
  const colours = new Set(tags.map((t) => (t.includes('=') ? t.slice(t.indexOf('=') + 1) : t)).filter((c) => c === 'blue' || c === 'green'));
  return colours.size === 2 ? ['blue', 'green'] : [];
}

function tone(r: Rollout): string {
  switch (r.state) {
    case 'Progressing':
      return 'passing';
    case 'Paused':
      return 'warning';
    case 'Failed':
      return 'critical';
    case 'Promoted':
    case 'Aborted':
      return 'unknown';
  }
}

function timeLeft(r: Rollout, now: number): string {
  const pause = r.steps[r.step - 1]?.pause;
  if (!pause) return 'waits for a promote';
  const elapsed = r.state === 'Paused' ? (r.elapsedMs ?? 0) : now - Date.parse(r.since);
  const left = Math.max(0, durationMs(pause)! - elapsed);
  if (r.state === 'Paused') return `paused with ${formatDuration(left)} left`;
  return left > 0 ? `${formatDuration(left)} left in this step` : 'step time is up: moves on after a passing interval';
}
