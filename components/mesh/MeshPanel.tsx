'use client';
/**
 * Service page → Mesh: what Switchboard serves this service as over xDS (listener names to dial,
 * route split, clusters) and the data-plane clients subscribed to it — node id, resources,
 * version last ACKed, NACKs with the client's own error detail. Polls GET …/mesh (viewer).
 */
import { useQuery } from '@tanstack/react-query';
import { servicePath } from '@/protocol/model';
import { MeshResponse, type XdsClient } from '@/protocol/xds';
import { ApiError, getJson } from '@/lib/api';

export function MeshPanel({ serviceId }: { serviceId: string }) {
  const { data, error } = useQuery({
    queryKey: ['mesh', serviceId],
    queryFn: () => getJson(`/api/services/${servicePath(serviceId)}/mesh`, MeshResponse),
    refetchInterval: 5000,
    retry: (n, err) => !(err instanceof ApiError && err.status === 404) && n < 2,
  });
  // No xDS server configured (or this service is not served): nothing to show, say so once.
  if (error instanceof ApiError && error.status === 404) return null;
  return (
    <section className="panel" aria-labelledby="mesh-title" data-testid="mesh-panel">
      <div className="panel-head">
        <h2 id="mesh-title">Mesh</h2>
        {data && <span className="meta">gRPC clients dial {data.listeners.map((l) => `xds:///${l}`).join(' or ')}</span>}
      </div>
      {error && <p className="meta">Could not load the mesh view: {error.message}</p>}
      {data && (
        <>
          <p className="meta">
            Route <code>{data.route}</code> →{' '}
            {data.clusters.map((c, i) => (
              <span key={c.name}>
                {i > 0 && ', '}
                <code>{c.name}</code> {c.weight}% ({c.endpoints} endpoint{c.endpoints === 1 ? '' : 's'}
                {c.skipped.length > 0 && <span title={c.skipped.join('\n')}>, {c.skipped.length} left out</span>})
              </span>
            ))}
            . Versions: LDS {data.versions.listener}, RDS {data.versions.route}, CDS {data.versions.cluster}, EDS {data.versions.endpoint}.
          </p>
          {data.clients.length === 0 ? (
            <p className="meta">No xDS client subscribes to this service.</p>
          ) : (
            <table className="mesh-clients">
              <thead>
                <tr>
                  <th scope="col">Node</th>
                  <th scope="col">Resources (last ACKed version)</th>
                  <th scope="col">NACKs</th>
                </tr>
              </thead>
              <tbody>
                {data.clients.map((c) => (
                  <ClientRow key={c.id} client={c} />
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

function ClientRow({ client }: { client: XdsClient }) {
  return (
    <tr data-testid="mesh-client">
      <td>
        <strong>{client.nodeId || '(no node id)'}</strong>
        <div className="meta">
          {client.userAgent} · {client.peer} · as {client.user}
        </div>
      </td>
      <td>
        <ul>
          {client.subscriptions.map((s) => (
            <li key={s.type}>
              {s.type}: {s.wildcard ? 'all' : s.names.join(', ')} — ACKed {s.ackedVersion ?? 'nothing yet'}
              {s.awaitingAckSince && <span className="meta"> (v{s.sentVersion} sent {s.awaitingAckSince}, no answer yet)</span>}
              {s.heldSince && <span className="meta"> (answer held since {s.heldSince}: the registry is still being read)</span>}
            </li>
          ))}
        </ul>
        {client.problems.length > 0 && <div className="meta">Last problem: {client.problems[0]!.message}</div>}
      </td>
      <td>
        {client.nacks.length === 0
          ? 'none'
          : client.nacks.map((n) => (
              <div key={n.nonce} className="meta" role="note">
                {n.type} v{n.version} at {n.at}: {n.message}
              </div>
            ))}
      </td>
    </tr>
  );
}
