'use client';
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Rollout } from '@/protocol/rollout';
import styles from './rollout.module.css';

const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

interface Row {
  at: string;
  verdict: 'passed' | 'FAILED' | 'inconclusive';
  canaryErr: number;
  stableErr: number;
  canaryP99: number | null;
  stableP99: number | null;
}

/**
 * Canary against stable per analysis interval: error % and p99, thresholds drawn as dashed
 * lines, failed intervals as filled red squares (inconclusive ones hollow) — shape and a table
 * say it too, not colour alone.
 */
export function RolloutChart({ rollout }: { rollout: Rollout }) {
  const rows: Row[] = rollout.measurements.map((m) => ({
    at: m.at,
    verdict: m.ok === null ? 'inconclusive' : m.ok ? 'passed' : 'FAILED',
    canaryErr: Math.round(m.canary.errorRate * 1000) / 10,
    stableErr: Math.round(m.stable.errorRate * 1000) / 10,
    canaryP99: m.canary.p99Ms,
    stableP99: m.stable.p99Ms,
  }));
  if (rows.length === 0) return <p className="meta">No analysis yet: the first one comes after one interval ({rollout.analysis.interval}).</p>;
  const a = rollout.analysis;
  const failed = rows.filter((r) => r.verdict === 'FAILED').length;
  return (
    <>
      <div className={styles.charts}>
        <Chart title="Error % per interval" rows={rows} canary="canaryErr" stable="stableErr" threshold={a.maxErrorRate * 100} thresholdLabel={`max ${a.maxErrorRate * 100} %`} />
        <Chart title="p99 ms per interval" rows={rows} canary="canaryP99" stable="stableP99" threshold={a.maxP99Ms} thresholdLabel={a.maxP99Ms === null ? '' : `max ${a.maxP99Ms} ms`} />
      </div>
      <p className="meta" data-testid="rollout-intervals">
        {rows.length} interval{rows.length === 1 ? '' : 's'} analysed, {failed} failed{rows.at(-1) ? `; last: ${rows.at(-1)!.verdict}` : ''}.
      </p>
    </>
  );
}

function Chart({ title, rows, canary, stable, threshold, thresholdLabel }: { title: string; rows: Row[]; canary: keyof Row; stable: keyof Row; threshold: number | null; thresholdLabel: string }) {
  return (
    <figure className="chart" aria-label={title}>
      <figcaption className="meta">{title}</figcaption>
      <ResponsiveContainer width="100%" height={170}>
        <LineChart data={rows} margin={{ top: 8, right: 12, bottom: 0, left: -12 }}>
          <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
          <XAxis dataKey="at" tickFormatter={time} stroke="var(--muted)" fontSize={11} minTickGap={40} />
          <YAxis stroke="var(--muted)" fontSize={11} allowDecimals />
          <Tooltip labelFormatter={(t) => time(String(t))} contentStyle={{ background: 'var(--panel)', border: '1px solid var(--border)' }} />
          <Legend wrapperStyle={{ fontSize: 11 }} />
          {threshold !== null && <ReferenceLine y={threshold} stroke="var(--critical)" strokeDasharray="6 4" label={{ value: thresholdLabel, fill: 'var(--text)', fontSize: 11, position: 'insideTopRight' }} />}
          <Line type="monotone" dataKey={stable} name="stable" stroke="var(--muted)" dot={false} isAnimationActive={false} connectNulls />
          <Line type="monotone" dataKey={canary} name="canary" stroke="var(--accent)" isAnimationActive={false} connectNulls dot={<VerdictDot />} />
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}

function VerdictDot(props: { cx?: number; cy?: number; payload?: Row }) {
  const { cx, cy, payload } = props;
  if (cx === undefined || cy === undefined || !payload) return <g />;
  if (payload.verdict === 'FAILED') return <rect x={cx - 5} y={cy - 5} width={10} height={10} fill="var(--critical)" />;
  if (payload.verdict === 'inconclusive') return <circle cx={cx} cy={cy} r={4} fill="none" stroke="var(--muted)" />;
  return <circle cx={cx} cy={cy} r={3} fill="var(--accent)" />;
}
