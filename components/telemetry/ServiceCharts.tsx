'use client';
import { useMemo, useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Instance } from '@/protocol/model';
import { useServiceTelemetry, type SeriesPoint } from '@/lib/useTelemetry';

const time = (t: number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** Request rate, error rate and p50/p99 latency over the last 15 minutes, for the service or one instance. */
export function ServiceCharts({ serviceId, instances }: { serviceId: string; instances: Instance[] }) {
  const { data, error } = useServiceTelemetry(serviceId);
  const [scope, setScope] = useState<string>('');
  const points: SeriesPoint[] = useMemo(() => (scope ? data?.instances[scope] : data?.service) ?? [], [data, scope]);
  const rows = points.map((p) => ({ ...p, errorPct: p.errorRate === null ? null : Math.round(p.errorRate * 1000) / 10 }));
  const callers = [...new Set((data?.reporters ?? []).map((r) => r.caller))];

  return (
    <section className="panel" aria-labelledby="charts-title" data-testid="service-charts">
      <div className="panel-head">
        <h2 id="charts-title">Requests from SDK clients</h2>
        <span className="meta">{callers.length ? `reported by ${callers.join(', ')}` : 'no SDK client reports this service yet'}</span>
        <label className="meta">
          Show{' '}
          <select value={scope} onChange={(e) => setScope(e.target.value)} aria-label="Chart scope">
            <option value="">all instances</option>
            {instances.map((i) => (
              <option key={i.id} value={i.id}>{i.id}</option>
            ))}
          </select>
        </label>
      </div>
      {error && <p className="meta">Could not load request metrics: {error.message}</p>}
      {data?.unavailable ? (
        // The store could not answer (Prometheus down or refusing): say so rather than draw "no requests".
        <p className="meta" role="status" data-testid="charts-unavailable">
          Request metrics are unavailable from the {data.store === 'prometheus' ? 'Prometheus' : 'telemetry'} store: {data.unavailable}
        </p>
      ) : rows.length === 0 ? (
        <p className="meta">No requests in the last 15 minutes.</p>
      ) : (
        <div className="charts">
          <Chart title="Requests/s" rows={rows} lines={[{ key: 'rps', name: 'req/s', color: 'var(--accent)' }]} />
          <Chart title="Errors %" rows={rows} lines={[{ key: 'errorPct', name: 'errors %', color: 'var(--critical)' }]} />
          <Chart title="Latency ms" rows={rows} lines={[{ key: 'p50', name: 'p50', color: 'var(--passing)' }, { key: 'p99', name: 'p99', color: 'var(--warning)' }]} />
        </div>
      )}
    </section>
  );
}

function Chart({ title, rows, lines }: { title: string; rows: object[]; lines: { key: string; name: string; color: string }[] }) {
  return (
    <figure className="chart" aria-label={title}>
      <figcaption className="meta">{title}</figcaption>
      <ResponsiveContainer width="100%" height={160}>
        <LineChart data={rows} margin={{ top: 4, right: 8, bottom: 0, left: -16 }}>
          <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
          <XAxis dataKey="t" tickFormatter={time} stroke="var(--muted)" fontSize={11} minTickGap={40} />
          <YAxis stroke="var(--muted)" fontSize={11} allowDecimals />
          <Tooltip labelFormatter={(t) => time(Number(t))} contentStyle={{ background: 'var(--panel)', border: '1px solid var(--border)' }} />
          {lines.length > 1 && <Legend wrapperStyle={{ fontSize: 11 }} />}
          {lines.map((l) => (
            <Line key={l.key} type="monotone" dataKey={l.key} name={l.name} stroke={l.color} dot={false} isAnimationActive={false} connectNulls />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </figure>
  );
}
