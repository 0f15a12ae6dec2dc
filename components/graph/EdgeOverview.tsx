'use client';
import { memo, useMemo } from 'react';
import type { GraphEdge } from '@/protocol/graph';
import { edgeSeverity, type EdgeSeverity } from './graphFilter';
import { NODE_HEIGHT, NODE_WIDTH, type Point } from './graphLayout';

const ORDER: EdgeSeverity[] = ['idle', 'ok', 'warn', 'error'];

/**
 * Every edge as one SVG path per colour: what the graph draws when it is zoomed out and large.
 * Thousands of React Flow edges are thousands of DOM nodes that each pan frame re-rasterizes;
 * four paths inside the viewport (ViewportPortal) pan with its CSS transform at no React cost.
 * Not interactive: zoom in (or use the table of edges) to hover and click single edges.
 */
export const EdgeOverview = memo(function EdgeOverview({ edges, positions }: { edges: readonly GraphEdge[]; positions: ReadonlyMap<string, Point> }) {
  const paths = useMemo(() => {
    const parts: Record<EdgeSeverity, string[]> = { idle: [], ok: [], warn: [], error: [] };
    for (const e of edges) {
      const a = positions.get(e.from);
      const b = positions.get(e.to);
      if (!a || !b) continue;
      const sx = a.x + NODE_WIDTH;
      const sy = a.y + NODE_HEIGHT / 2;
      const tx = b.x;
      const ty = b.y + NODE_HEIGHT / 2;
      const dx = Math.max(40, Math.abs(tx - sx) / 2);
      parts[edgeSeverity(e)].push(`M${sx.toFixed(0)} ${sy.toFixed(0)}C${(sx + dx).toFixed(0)} ${sy.toFixed(0)} ${(tx - dx).toFixed(0)} ${ty.toFixed(0)} ${tx.toFixed(0)} ${ty.toFixed(0)}`);
    }
    return parts;
  }, [edges, positions]);
  return (
    <svg className="edge-overview" data-testid="edge-overview" data-error-count={paths.error.length} data-warn-count={paths.warn.length} aria-hidden="true">
      {ORDER.map((sev) => (paths[sev].length ? <path key={sev} className={`ov-${sev}`} d={paths[sev].join('')} /> : null))}
    </svg>
  );
});
