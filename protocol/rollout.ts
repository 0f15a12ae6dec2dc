/**
 * The rollout contract (DESIGN.md "Rollouts (progressive delivery)"): what is stored beside the
 * traffic policy (Consul key `switchboard/rollout/<service>`, Kubernetes annotation
 * `switchboard.dev/rollout`), what the REST API takes and answers, and what the UI and CLI show.
 * Imports nothing of ours but protocol/.
 */
import { z } from 'zod';
import { SubsetName } from './traffic';

/** `500ms`, `30s`, `2m`, `1h`: what `pause` and `analysis.interval` take. */
export const DURATION = /^(\d{1,7})(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of a duration string; null when it is not one. */
export function durationMs(text: string): number | null {
  const m = DURATION.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : null;
}

/** 90_000 → "1m30s", 2_000 → "2s": for status lines. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.round(ms / 1_000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${rest || (!h && !m) ? `${rest}s` : ''}`;
}

export const Duration = z.string().refine((s) => durationMs(s) !== null, 'a duration such as 500ms, 30s, 2m or 1h');

export const RolloutStep = z.strictObject({
  weight: z.number().int('weights are integers').min(1, 'weights are 1-100').max(100, 'weights are 1-100'),
  /** How long the step holds before the next one; without it the step waits for a promote. */
  pause: Duration.optional(),
});
export type RolloutStep = z.infer<typeof RolloutStep>;

export const ANALYSIS_DEFAULTS = { interval: '30s', minRequests: 50, failureLimit: 2, maxErrorRate: 0.01, maxErrorRateVsStable: 2, maxP99Ms: 500, maxP99VsStable: 1.5 } as const;

export const Analysis = z.strictObject({
  interval: Duration.refine((s) => {
    const ms = durationMs(s)!;
    return ms >= 500 && ms <= 3_600_000;
  }, 'between 500ms and 1h').default(ANALYSIS_DEFAULTS.interval),
  /** Fewer canary requests than this in an interval: inconclusive (holds the step, never promotes). */
  minRequests: z.number().int().min(1, 'at least 1').max(1_000_000_000).default(ANALYSIS_DEFAULTS.minRequests),
  /** Consecutive failed intervals that fail the rollout. */
  failureLimit: z.number().int().min(1, 'at least 1').max(100, 'at most 100').default(ANALYSIS_DEFAULTS.failureLimit),
  /** 0-1: the canary's error rate may not exceed this. */
  maxErrorRate: z.number().min(0, 'a rate 0-1').max(1, 'a rate 0-1').default(ANALYSIS_DEFAULTS.maxErrorRate),
  /** ≥ 1: the canary's error rate may not exceed this many times the stable one (null: not checked). */
  maxErrorRateVsStable: z.number().min(1, 'a ratio ≥ 1').max(1000, 'a ratio ≤ 1000').nullable().default(ANALYSIS_DEFAULTS.maxErrorRateVsStable),
  /** The canary's p99 latency may not exceed this (ms; null: not checked). */
  maxP99Ms: z.number().gt(0, 'more than 0 ms').max(600_000, 'at most 600000 ms').nullable().default(ANALYSIS_DEFAULTS.maxP99Ms),
  /** ≥ 1: the canary's p99 may not exceed this many times the stable one (null: not checked). */
  maxP99VsStable: z.number().min(1, 'a ratio ≥ 1').max(1000, 'a ratio ≤ 1000').nullable().default(ANALYSIS_DEFAULTS.maxP99VsStable),
});
export type Analysis = z.infer<typeof Analysis>;

export const SubsetMetrics = z.object({
  requests: z.number().int().min(0),
  /** 0-1; 0 without requests. */
  errorRate: z.number().min(0).max(1),
  /** null without requests. */
  p99Ms: z.number().nullable(),
});
export type SubsetMetrics = z.infer<typeof SubsetMetrics>;

export const Measurement = z.object({
  at: z.string(),
  /** 1-based step the interval ran in. */
  step: z.number().int(),
  canary: SubsetMetrics,
  stable: SubsetMetrics,
  /** true: passed; false: failed; null: inconclusive (too few canary requests). */
  ok: z.boolean().nullable(),
  /** Why it failed or was inconclusive, e.g. "canary error rate 21.4 % > 1 %". */
  why: z.string().optional(),
});
export type Measurement = z.infer<typeof Measurement>;

export const RolloutState = z.enum(['Progressing', 'Paused', 'Promoted', 'Aborted', 'Failed']);
export type RolloutState = z.infer<typeof RolloutState>;

/** Measurements kept in the stored rollout (newest last). */
export const MAX_MEASUREMENTS = 60;

export const Rollout = z
  .strictObject({
    version: z.literal(1),
    stable: SubsetName,
    canary: SubsetName,
    steps: z.array(RolloutStep).min(1, 'at least one step').max(50, 'at most 50 steps'),
    analysis: Analysis,
    state: RolloutState,
    /** 1-based index of the current step. */
    step: z.number().int().min(1),
    /** When the current step (or state) began. */
    since: z.string(),
    measurements: z.array(Measurement).max(MAX_MEASUREMENTS).default([]),
    startedBy: z.string(),
    reason: z.string().default(''),
    /** Consecutive failed intervals so far. */
    failures: z.number().int().min(0).default(0),
    /** Paused: how far into its pause the step was when paused (ms), so a resume continues the clock. */
    elapsedMs: z.number().int().min(0).optional(),
    /**
     * The canary weight this rollout last wrote to the traffic policy. Once it equals what the
     * state wants, the rollout leaves the policy alone: a finished rollout never fights a later
     * manual change, and a new leader knows whether the last weight change landed.
     */
    applied: z.number().int().min(0).max(100).nullable().default(null),
    /** What happened last, for people: "canary error rate 21.4 % > 1 % for 2 intervals", "paused by bob". */
    message: z.string().default(''),
    updatedAt: z.string(),
    updatedBy: z.string(),
  })
  .superRefine((r, ctx) => {
    for (const issue of stepProblems(r.steps)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    if (r.step > r.steps.length) ctx.addIssue({ code: 'custom', path: ['step'], message: `step ${r.step} of ${r.steps.length}` });
    if (r.stable === r.canary) ctx.addIssue({ code: 'custom', path: ['canary'], message: 'canary and stable must be different subsets' });
  });
export type Rollout = z.infer<typeof Rollout>;

/** Steps strictly increasing and ending at 100. */
export function stepProblems(steps: readonly { weight: number }[]): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  steps.forEach((s, i) => {
    const before = steps[i - 1];
    if (before && s.weight <= before.weight) out.push({ path: ['steps', i, 'weight'], message: `steps.${i}.weight: must be more than the step before (${before.weight}), got ${s.weight}` });
  });
  const last = steps.at(-1);
  if (last && last.weight !== 100) out.push({ path: ['steps'], message: `steps: the last step must be 100, got ${last.weight}` });
  return out;
}

export const TERMINAL: ReadonlySet<RolloutState> = new Set(['Promoted', 'Aborted', 'Failed']);
export const isActive = (r: Pick<Rollout, 'state'> | null | undefined): boolean => !!r && !TERMINAL.has(r.state);

/** The canary weight a rollout wants in force: the step's while running, all or nothing once over. */
export function desiredCanaryWeight(r: Pick<Rollout, 'state' | 'step' | 'steps'>): number {
  switch (r.state) {
    case 'Progressing':
    case 'Paused':
      return r.steps[r.step - 1]!.weight;
    case 'Promoted':
      return 100;
    case 'Aborted':
    case 'Failed':
      return 0;
  }
}

// ── REST ────────────────────────────────────────────────────────────────────────────────────

/** PUT …/rollout: start one. Subsets default to the policy's (stable: most weight, canary: the other). */
export const StartRolloutBody = z.strictObject({
  canary: SubsetName.optional(),
  stable: SubsetName.optional(),
  steps: z.array(RolloutStep).min(1, 'at least one step').max(50, 'at most 50 steps'),
  analysis: Analysis.default(Analysis.parse({})),
  reason: z.string().max(500).default(''),
});
export type StartRolloutBody = z.infer<typeof StartRolloutBody>;

/** POST …/rollout/promote|pause|resume|abort. */
export const RolloutActionBody = z.strictObject({ reason: z.string().max(500).optional() });
export const RolloutAction = z.enum(['promote', 'pause', 'resume', 'abort']);
export type RolloutAction = z.infer<typeof RolloutAction>;

/** Who drives rollouts of the service's source. */
export const ControllerStatus = z.object({
  /** leader: this replica acts; follower: another does (holder); single-replica: no election possible (detail says why). */
  mode: z.enum(['leader', 'follower', 'single-replica', 'starting']),
  holder: z.string().nullable(),
  detail: z.string(),
});
export type ControllerStatus = z.infer<typeof ControllerStatus>;

/** GET|PUT …/rollout and every action. */
export const RolloutView = z.object({
  rollout: Rollout.nullable(),
  /** The stored rollout's compare-and-set version (Consul ModifyIndex; a revision on Kubernetes). */
  modifyIndex: z.number().int(),
  /** Set when the registry holds something at the rollout's place that is not a valid rollout. */
  invalid: z.string().optional(),
  /** The canary's weight in the traffic policy now (null: no policy). */
  canaryWeight: z.number().int().nullable(),
  controller: ControllerStatus,
});
export type RolloutView = z.infer<typeof RolloutView>;

/** 409 on a lost race or a second rollout: the rollout the registry holds now. */
export const RolloutConflictBody = z.object({ error: z.string(), current: z.object({ rollout: Rollout.nullable(), modifyIndex: z.number().int() }) });

/** What the service list shows of a rollout. */
export const RolloutBadge = z.object({ state: RolloutState, step: z.number().int(), steps: z.number().int() });
export type RolloutBadge = z.infer<typeof RolloutBadge>;

/** "rollout payment step 2/4: green 25%" — the audit reason of every weight change a rollout makes. */
export function rolloutReason(service: string, r: Pick<Rollout, 'state' | 'step' | 'steps' | 'canary' | 'stable' | 'message'>): string {
  const w = desiredCanaryWeight(r);
  switch (r.state) {
    case 'Progressing':
    case 'Paused':
      return `rollout ${service} step ${r.step}/${r.steps.length}: ${r.canary} ${w}%`;
    case 'Promoted':
      return `rollout ${service} promoted: ${r.canary} 100%`;
    case 'Aborted':
    case 'Failed':
      return `rollout ${service} ${r.state.toLowerCase()}: ${r.stable} 100%${r.message ? ` (${r.message})` : ''}`;
  }
}
