import type { Instance } from '@/protocol/model';
import Link from 'next/link';
import { HealthBadge } from './HealthBadge';

export interface DrainControl {
  drained: boolean;
  /** Absent when the viewer may not change traffic or the service has no policy; `why` says which. */
  toggle?: () => void;
  why?: string;
}

/** The same address:port as seen by another source (DNS cannot express health; Consul can). */
export interface LinkedInstance {
  serviceId: string;
  health: Instance['health'];
}

export function InstanceCard({ instance: i, drain, links = [] }: { instance: Instance; drain?: DrainControl; links?: LinkedInstance[] }) {
  const meta = Object.entries(i.meta);
  return (
    <section className={`instance ${i.health}`} data-testid="instance-row" data-instance-id={i.id} data-health={i.health} data-drained={drain?.drained ? 'true' : 'false'} aria-label={`Instance ${i.address}:${i.port}`}>
      <div className="top">
        <span className="addr">{i.address}:{i.port}</span>
        <HealthBadge health={i.health} />
        {drain?.drained && <span className="badge warning">draining</span>}
        {i.breaker && (
          <span
            className={`badge breaker-${i.breaker.state}`}
            data-testid="breaker"
            data-state={i.breaker.state}
            title={`Circuit breaker as ${i.breaker.clients} SDK client(s) see it: ${i.breaker.open} open, ${i.breaker.halfOpen} half-open`}
          >
            breaker {i.breaker.state}
            {i.breaker.state !== 'closed' && ` · ${i.breaker.state === 'open' ? i.breaker.open : i.breaker.halfOpen} of ${i.breaker.clients} client${i.breaker.clients === 1 ? '' : 's'}`}
          </span>
        )}
        {drain && (
          <button
            className="btn secondary small"
            aria-pressed={drain.drained}
            disabled={!drain.toggle}
            title={drain.why ?? (drain.drained ? 'Clients send it new requests again' : 'Clients stop sending it new requests; the registry still lists it')}
            onClick={drain.toggle}
            data-testid="drain-toggle"
          >
            {drain.drained ? 'Undrain' : 'Drain'}
          </button>
        )}
        <span className="meta">id {i.id}</span>
        {i.node && <span className="meta">node {i.node}</span>}
        <span className="tags">{i.tags.map((t) => <span className="tag" key={t}>{t}</span>)}</span>
      </div>
      {links.length > 0 && (
        <div className="top" style={{ marginTop: 6 }}>
          {links.map((l) => (
            <span key={l.serviceId} className="meta" data-testid="linked-instance" data-service-id={l.serviceId}>
              same instance in <Link href={`/services/${l.serviceId.split('/').map(encodeURIComponent).join('/')}`}>{l.serviceId}</Link> <HealthBadge health={l.health} />
            </span>
          ))}
        </div>
      )}
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
