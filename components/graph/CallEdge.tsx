'use client';
import { BaseEdge, getBezierPath, type Edge, type EdgeProps } from '@xyflow/react';
import { memo } from 'react';
import type { GraphEdge } from '@/protocol/graph';
import { edgeSeverity, formatMs, formatPercent, formatRps } from './graphFilter';

/** `offset`: this edge's place among the subset edges of one caller → callee pair, so they do not overlap. */
export type CallFlowEdge = Edge<{ edge: GraphEdge; offset: number }, 'call'>;

/**
 * One caller → callee (→ subset) edge: coloured by error rate, labelled with rps, error % and
 * p99. Labels are SVG text (cheap at thousands of edges) and hidden by CSS when zoomed out.
 */
export const CallEdge = memo(function CallEdge({ id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, markerEnd }: EdgeProps<CallFlowEdge>) {
  const e = data!.edge;
  const shift = data!.offset * 14;
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY: sourceY + shift, targetX, targetY: targetY + shift, sourcePosition, targetPosition });
  const severity = edgeSeverity(e);
  const label = `${e.subset ? `${e.subset}: ` : ''}${formatRps(e.rps)} rps · ${formatPercent(Math.max(e.errorRate, e.recentErrorRate ?? 0))} · p99 ${formatMs(e.p99)}`;
  return (
    <g className={`gedge sev-${severity}`} data-testid="graph-edge" data-edge-id={e.id} data-severity={severity} data-subset={e.subset ?? ''}>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} interactionWidth={14} />
      <text className="gedge-label" x={labelX} y={labelY - 4} textAnchor="middle">
        {label}
      </text>
    </g>
  );
});
