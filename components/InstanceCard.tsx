import type { Instance } from '@/protocol/model';
import { HealthBadge } from './HealthBadge';

export function InstanceCard({ instance: i }: { instance: Instance }) {
  const meta = Object.entries(i.meta);
  return (
    <section className={`instance ${i.health}`} data-testid="instance-row" data-instance-id={i.id} data-health={i.health} aria-label={`Instance ${i.address}:${i.port}`}>
      <div className="top">
        <span className="addr">{i.address}:{i.port}</span>
        <HealthBadge health={i.health} />
        <span className="meta">id {i.id}</span>
        {i.node && <span className="meta">node {i.node}</span>}
        <span className="tags">{i.tags.map((t) => <span className="tag" key={t}>{t}</span>)}</span>
      </div>
      {meta.length > 0 && (
        <div className="top" style={{ marginTop: 6 }}>
          {meta.map(([k, v]) => (
            <span className="kv" key={k}><b>{k}</b> <code>{v}</code></span>
          ))}
        </div>
      )}
      <div className="checks">
        {i.checks.length === 0 && <span className="meta">No health checks registered (Consul counts it as passing).</span>}
        {i.checks.map((c) => (
          <div className="check" key={`${c.nodeLevel ? 'node' : 'svc'}:${c.id}`} data-testid="check" data-status={c.status}>
            <HealthBadge health={c.status} />
            <div>
              <strong>{c.name}</strong>{' '}
              <span className="meta">{c.type || 'check'}{c.nodeLevel ? ' · node-level' : ''}</span>
              {c.output && (
                <details open={c.status !== 'passing'}>
                  <summary className="meta">output</summary>
                  <pre>{c.output}</pre>
                </details>
              )}
            </div>
          </div>
        ))}
      </div>
    </section>
  );
}
