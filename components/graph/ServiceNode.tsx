'use client';
import { Handle, Position, type Node, type NodeProps } from '@xyflow/react';
import { memo } from 'react';
import type { GraphNode } from '@/protocol/graph';

export type ServiceFlowNode = Node<{ node: GraphNode }, 'service'>;

const HEALTH_LABEL: Record<GraphNode['health'], string> = { passing: 'healthy', warning: 'degraded', critical: 'down', unknown: 'unknown', none: '' };

/** One service (or external caller): coloured by health, with its badges. Memoized: re-renders only when its record changes. */
export const ServiceNode = memo(function ServiceNode({ data }: NodeProps<ServiceFlowNode>) {
  const n = data.node;
  const where = n.kind === 'external' ? 'external caller' : `${n.sourceId} · ${n.scope}`;
  return (
    <div className={`gnode ${n.kind} health-${n.health}`} data-testid="graph-node" data-node-id={n.id} data-health={n.health}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="gnode-name">{n.name}</div>
      <div className="gnode-where">
        {where}
        {n.counts ? ` · ${n.counts.passing}/${n.counts.passing + n.counts.warning + n.counts.critical + n.counts.unknown} ok` : ''}
        {HEALTH_LABEL[n.health] ? <span className="sr-only"> ({HEALTH_LABEL[n.health]})</span> : null}
      </div>
      <div className="gnode-badges">
        {n.breakersOpen > 0 ? (
          <span className="gbadge breaker" data-testid="badge-breakers" title={`${n.breakersOpen} instance(s) with an open breaker, seen open by ${n.breakerClients} client view(s)`}>
            ⚡ {n.breakersOpen} open{n.breakerClients > 0 ? ` · ${n.breakerClients} clients` : ''}
          </span>
        ) : null}
        {n.split ? (
          <span className="gbadge split" data-testid="badge-split" title={Object.entries(n.split.weights).map(([k, w]) => `${k} ${w}%`).join(', ')}>
            {n.split.kind === 'canary' ? `canary ${Object.entries(n.split.weights).map(([k, w]) => `${k} ${w}`).join('/')}` : `→ ${Object.entries(n.split.weights).find(([, w]) => w === 100)?.[0] ?? ''}`}
          </span>
        ) : null}
        {n.rollout && (n.rollout.state === 'Progressing' || n.rollout.state === 'Paused') ? (
          <span className="gbadge rollout" data-testid="badge-rollout">
            rollout {n.rollout.step}/{n.rollout.steps}
          </span>
        ) : null}
        {n.stale ? (
          <span className="gbadge stale" data-testid="badge-stale">
            stale
          </span>
        ) : null}
      </div>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});
