'use client';
import { useId, useState } from 'react';
import type { StartRolloutBody } from '@/protocol/rollout';
import type { z } from 'zod';
import styles from './rollout.module.css';

export const PRESETS = {
  steady: { label: '5 → 25 → 50 → 100, 2 minutes each', steps: [{ weight: 5, pause: '2m' }, { weight: 25, pause: '2m' }, { weight: 50, pause: '2m' }, { weight: 100 }] },
  gated: { label: '20 / 40 / 60 / 80 / 100, wait for me at 40', steps: [{ weight: 20, pause: '2m' }, { weight: 40 }, { weight: 60, pause: '2m' }, { weight: 80, pause: '2m' }, { weight: 100 }] },
} as const;
type Preset = keyof typeof PRESETS;

/** "Start rollout": canary subset, a step preset, and the analysis thresholds. Labelled, keyboard-only usable. */
export function StartRolloutForm({ subsets, hasPolicy, defaultCanary, pending, onStart, onCancel }: { subsets: string[]; hasPolicy: boolean; defaultCanary: string | undefined; pending: boolean; onStart: (body: z.input<typeof StartRolloutBody>) => void; onCancel: () => void }) {
  const id = useId();
  const [canary, setCanary] = useState(defaultCanary ?? subsets[0] ?? '');
  const [preset, setPreset] = useState<Preset>('steady');
  const [maxErrorPct, setMaxErrorPct] = useState('1');
  const [maxP99, setMaxP99] = useState('500');
  const [interval, setInterval] = useState('30s');
  const [minRequests, setMinRequests] = useState('50');
  const [failureLimit, setFailureLimit] = useState('2');
  const [reason, setReason] = useState('');

  return (
    <form
      className={styles.form}
      aria-label="Start rollout"
      data-testid="rollout-form"
      onSubmit={(e) => {
        e.preventDefault();
        onStart({
          ...(canary ? { canary } : {}),
          steps: PRESETS[preset].steps.map((s) => ({ ...s })),
          analysis: { interval, minRequests: Number(minRequests), failureLimit: Number(failureLimit), maxErrorRate: Number(maxErrorPct) / 100, maxP99Ms: Number(maxP99) },
          reason,
        });
      }}
    >
      {subsets.length > 0 && (
        <label>
          Canary subset
          <select value={canary} onChange={(e) => setCanary(e.target.value)} data-testid="rollout-canary">
            {subsets.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
      )}
      {!hasPolicy && <p className="meta">No traffic policy yet: starting the rollout enables traffic control from the blue/green tags first.</p>}
      <fieldset>
        <legend>Steps</legend>
        {(Object.keys(PRESETS) as Preset[]).map((p) => (
          <label key={p}>
            <input type="radio" name={`${id}-preset`} value={p} checked={preset === p} onChange={() => setPreset(p)} data-testid={`rollout-preset-${p}`} />
            {PRESETS[p].label}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Analysis (canary against stable, every interval)</legend>
        <div className={styles.thresholds}>
          <Field label="Max error rate (%)" value={maxErrorPct} onChange={setMaxErrorPct} type="number" step="0.1" min="0" max="100" testId="rollout-max-error" />
          <Field label="Max p99 (ms)" value={maxP99} onChange={setMaxP99} type="number" min="1" testId="rollout-max-p99" />
          <Field label="Interval (e.g. 30s)" value={interval} onChange={setInterval} type="text" testId="rollout-interval" />
          <Field label="Min canary requests" value={minRequests} onChange={setMinRequests} type="number" min="1" testId="rollout-min-requests" />
          <Field label="Failed intervals before rollback" value={failureLimit} onChange={setFailureLimit} type="number" min="1" testId="rollout-failure-limit" />
        </div>
      </fieldset>
      <label>
        Reason
        <input type="text" value={reason} onChange={(e) => setReason(e.target.value)} placeholder="release 1.4" maxLength={500} />
      </label>
      <div className={styles.actions}>
        <button type="submit" className="btn" disabled={pending} data-testid="rollout-submit">Start rollout</button>
        <button type="button" className="btn secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function Field({ label, value, onChange, testId, ...input }: { label: string; value: string; onChange: (v: string) => void; testId: string; type: string; step?: string; min?: string; max?: string }) {
  return (
    <label>
      {label}
      <input {...input} value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId} required />
    </label>
  );
}
