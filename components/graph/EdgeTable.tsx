'use client';
import Link from 'next/link';
import { servicePath } from '@/protocol/model';
import type { GraphEdge, GraphNode } from '@/protocol/graph';
import { edgeSeverity, formatMs, formatPercent, formatRps } from './graphFilter';

/** The graph as a table: its text alternative (screen readers, copy-paste, a quick scan). */
export function EdgeTable({ nodes, edges, onSelect }: { nodes: ReadonlyMap<string, GraphNode>; edges: readonly GraphEdge[]; onSelect: (e: GraphEdge) => void }) {
  const label = (id: string) => {
    const n = nodes.get(id);
    if (!n) return id;
    return n.kind === 'service' ? <Link href={`/services/${servicePath(n.id)}`}>{n.name}</Link> : `${n.name} (external)`;
  };
  const sorted = [...edges].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return (
    <table className="edge-table" data-testid="edge-table">
      <caption>Observed calls, caller → callee (per subset when the callee has a traffic policy)</caption>
      <thead>
        <tr>
          <th scope="col">Caller</th>
          <th scope="col">Callee</th>
          <th scope="col">Subset</th>
          <th scope="col">rps</th>
          <th scope="col">Errors</th>
          <th scope="col">Errors now</th>
          <th scope="col">p99</th>
          <th scope="col">
            <span className="sr-only">Calls</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {sorted.map((e) => (
          <tr key={e.id} data-testid="edge-row" data-edge-id={e.id} data-severity={edgeSeverity(e)}>
            <td>{label(e.from)}</td>
            <td>{label(e.to)}</td>
            <td>{e.subset ?? '–'}</td>
            <td className="num">{formatRps(e.rps)}</td>
            <td className="num">{formatPercent(e.errorRate)}</td>
            <td className="num">{e.recentErrorRate === null ? '–' : formatPercent(e.recentErrorRate)}</td>
            <td className="num">{formatMs(e.p99)}</td>
            <td>
              <button type="button" className="btn-plain" onClick={() => onSelect(e)}>
                Calls
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
