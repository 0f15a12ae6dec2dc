'use client';
import type { MeshRoute } from '@/protocol/api';
import { own } from '@/protocol/traffic';
import { timeAgo } from '@/lib/timeAgo';
import { useNow } from '@/lib/useNow';

/** "HTTPRoute shop/payment": how the panel (and every server message) names a route. */
export function routeName(route: Pick<MeshRoute, 'kind' | 'namespace' | 'name'>): string {
  return `${route.kind ?? 'route'} ${route.namespace}/${route.name}`;
}

/**
 * Kubernetes: the HTTPRoute or VirtualService the Service is bound to, which every change also
 * writes, with the weights read back from it (per subset, and the backend that carries each).
 */
export function MeshRouteNote({ route, order }: { route: MeshRoute; order: string[] }) {
  const now = useNow(5_000);
  if (route.kind === null) {
    return (
      <div className="alert" role="alert" data-testid="mesh-route">
        Mesh route binding unusable: {route.error}
      </div>
    );
  }
  const weights = route.weights;
  const names = [...order, ...Object.keys(weights ?? {}).filter((n) => !order.includes(n))];
  return (
    <div className="mesh-route" data-testid="mesh-route" data-kind={route.kind} data-in-sync={route.inSync} data-weights={weights ? names.map((n) => `${n}:${own(weights, n) ?? 0}`).join(',') : ''}>
      <p className="meta">
        Weights also written to <b>{routeName(route)}</b>
        {route.apiVersion && <span className="mono"> ({route.apiVersion})</span>}
        {route.writtenAt ? (
          <>
            {' '}— last by {route.writtenBy},{' '}
            <time dateTime={route.writtenAt} title={route.writtenAt}>
              {timeAgo(route.writtenAt, now)}
            </time>
          </>
        ) : (
          ' — not written by Switchboard yet'
        )}
      </p>
      {route.error ? (
        <div className="alert" role="alert">
          {route.error}
        </div>
      ) : (
        <p className="meta">
          The route holds{' '}
          <span className="mono">
            {names.map((n) => `${n} ${own(weights ?? {}, n) ?? 0} → ${own(route.backends, n) ?? '(no backend)'}`).join(' · ')}
          </span>{' '}
          {route.inSync ? (
            <span className="badge passing">matches the policy</span>
          ) : (
            <span className="badge warning">differs from the policy</span>
          )}
          {!route.inSync && route.writtenAt && <> — changed outside Switchboard; the next change is refused until the route is set back or its annotation switchboard.dev/route-weights is removed.</>}
        </p>
      )}
    </div>
  );
}
