'use client';
import { useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useEffect, useState } from 'react';
import type { Service } from '@/protocol/model';
import { ConflictBody } from '@/protocol/api';
import { weightOf } from '@/protocol/traffic';
import { canOperate, useSession } from '@/lib/useSession';
import { describeWeights, historyKey, trafficKey, useTrafficHistory, useTrafficMutation, useTrafficView } from '@/lib/useTraffic';
import { CanarySlider } from './CanarySlider';
import { FlipDialog } from './FlipDialog';
import { MeshRouteNote, routeName } from './MeshRouteNote';
import { SplitBar } from './SplitBar';
import { TrafficHistory } from './TrafficHistory';

/** Per service: the live split, flip, canary slider, history with roll back, or "enable". */
export function TrafficPanel({ service }: { service: Service }) {
  const qc = useQueryClient();
  const session = useSession();
  const allowed = canOperate(session.data);
  const view = useTrafficView(service.id);
  const history = useTrafficHistory(service.id);
  const mutation = useTrafficMutation(service.id);
  const [draft, setDraft] = useState<number | null>(null);

  // Changes made elsewhere (another operator, the CLI, a direct KV write) arrive through the
  // live topology; fetch the view (for its ModifyIndex) and history again when they do.
  const live = service.traffic ?? null;
  const liveStamp = live ? `${live.updatedAt}|${live.updatedBy}|${JSON.stringify(live.weights)}|${live.drain.join(',')}` : 'none';
  useEffect(() => {
    if (mutation.isPending) return;
    void qc.invalidateQueries({ queryKey: trafficKey(service.id), exact: true });
    void qc.invalidateQueries({ queryKey: historyKey(service.id) });
  }, [liveStamp]); // only a change of the live policy should refetch

  if (view.isPending) return <section className="panel traffic" aria-busy="true"><h2>Traffic</h2><div className="skeleton" /></section>;
  if (view.error) {
    return (
      <section className="panel traffic" aria-labelledby="traffic-title">
        <h2 id="traffic-title">Traffic</h2>
        <p className="meta">{view.error.message}</p>
      </section>
    );
  }
  const policy = view.data.policy;
  const names = policy ? Object.keys(policy.subsets) : [];
  const [stable, canary] = names as [string | undefined, string | undefined];
  const weights = policy && draft !== null && stable && canary ? { [stable]: 100 - draft, [canary]: draft } : policy?.weights;

  return (
    <section className="panel traffic" aria-labelledby="traffic-title" data-testid="traffic-panel">
      <div className="panel-head">
        <h2 id="traffic-title">Traffic</h2>
        {policy && <span className="meta">last changed by {policy.updatedBy}{policy.reason ? ` — ${policy.reason}` : ''}</span>}
        {!allowed && (
          <span className="meta">
            Read-only. <Link href={`/signin?next=${encodeURIComponent(`/services/${service.id}`)}`}>Sign in as an operator</Link> to change traffic.
          </span>
        )}
      </div>
      {view.data.invalid && (
        <div className="alert" role="alert" data-testid="traffic-invalid">
          The registry holds a traffic policy Switchboard cannot use ({view.data.invalid}). Clients ignore it. Enabling traffic control replaces it.
        </div>
      )}
      {!policy ? (
        <div className="enable">
          <p className="meta">No traffic policy: clients spread requests over every passing instance. Enable traffic control to split traffic between the subsets its instances’ tags define (e.g. blue and green).</p>
          <button className="btn" disabled={!allowed || mutation.isPending} onClick={() => mutation.mutate({ kind: 'enable' })} data-testid="enable-traffic">
            Enable traffic control
          </button>
        </div>
      ) : (
        <>
          <SplitBar order={names} weights={weights!} subsets={view.data.subsets} />
          {view.data.meshRoute && <MeshRouteNote route={view.data.meshRoute} order={names} />}
          <div className="traffic-controls">
            <FlipDialog serviceName={service.name} policy={policy} subsets={view.data.subsets} disabled={!allowed || mutation.isPending} onConfirm={({ reason, force }) => mutation.mutate({ kind: 'flip', reason, force })} />
            {stable && canary && names.length === 2 && (
              <CanarySlider
                stable={stable}
                canary={canary}
                value={weightOf(policy, canary)}
                disabled={!allowed}
                onDraft={setDraft}
                onCommit={(v) => mutation.mutate({ kind: 'set', weights: { [stable]: 100 - v, [canary]: v }, reason: `${canary} ${v}%` })}
              />
            )}
          </div>
        </>
      )}
      <Outcome mutation={mutation} />
      <h3>History</h3>
      {history.data ? (
        <TrafficHistory entries={history.data} canRollBack={allowed && !mutation.isPending} onRollBack={(e) => mutation.mutate({ kind: 'rollback', id: e.id })} />
      ) : (
        <p className="meta">{history.error ? history.error.message : 'Loading…'}</p>
      )}
    </section>
  );
}

function Outcome({ mutation }: { mutation: ReturnType<typeof useTrafficMutation> }) {
  const err = mutation.error;
  if (err?.status === 409) {
    const conflict = ConflictBody.safeParse(err.body).data?.current;
    // The mesh route was changed by someone else (not the policy): the server's message names it.
    const route = conflict?.meshRoute;
    if (route?.kind && err.message.startsWith(routeName(route))) {
      return (
        <div className="alert" role="alert" data-testid="mesh-route-conflict">
          Your change was not applied: {err.message}
        </div>
      );
    }
    const current = conflict?.policy ?? null;
    return (
      <div className="alert" role="alert" data-testid="traffic-conflict">
        Someone else changed this policy first{current ? ` (${current.updatedBy}: ${describeWeights(current)})` : ''}. Your change was not applied; the split above is the registry’s current one.
      </div>
    );
  }
  if (err) return <div className="alert" role="alert" data-testid="traffic-error">{err.message}</div>;
  return (
    <div className="sr-only" role="status" aria-live="polite">
      {mutation.isSuccess && mutation.data.policy ? `Saved: ${describeWeights(mutation.data.policy)}` : ''}
    </div>
  );
}
