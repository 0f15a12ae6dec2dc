'use client';
import { useQuery } from '@tanstack/react-query';
import { getJson } from '@/lib/api';
import { GraphEdgeDetail, type GraphNode, type GraphWindow } from '@/protocol/graph';
import { formatMs, formatPercent, formatRps } from './graphFilter';

/** The calls between two nodes over the window: per callee instance, per status code. Refreshed every 2 s. */
export function EdgePanel({ from, to, window, nodes, onClose }: { from: string; to: string; window: GraphWindow; nodes: ReadonlyMap<string, GraphNode>; onClose: () => void }) {
  const q = new URLSearchParams({ caller: from, callee: to, window });
  const { data, error, isPending } = useQuery({
    queryKey: ['graph-edge', from, to, window],
    queryFn: () => getJson(`/api/graph/edge?${q}`, GraphEdgeDetail),
    refetchInterval: 2000,
  });
  const name = (id: string) => nodes.get(id)?.name ?? id;
  const codes = [...new Set((data?.instances ?? []).flatMap((i) => Object.keys(i.statuses)))].sort();
  return (
    <aside className="edge-panel" data-testid="edge-panel" aria-labelledby="edge-panel-title">
      <div className="edge-panel-head">
        <h2 id="edge-panel-title">
          {name(from)} → {name(to)}
        </h2>
        <button type="button" className="btn-plain" onClick={onClose} aria-label="Close the calls panel">
          ✕
        </button>
      </div>
      <p className="meta">Calls over the last {window}, per instance of {name(to)} and per status code.</p>
      {isPending ? <p className="meta">Loading…</p> : null}
      {error ? <p className="alert">{(error as Error).message}</p> : null}
      {data && data.instances.length === 0 ? <p className="meta">No calls in this window.</p> : null}
      {data && data.instances.length > 0 ? (
        <table className="edge-calls">
          <thead>
            <tr>
              <th scope="col">Instance</th>
              <th scope="col">Subset</th>
              <th scope="col">rps</th>
              <th scope="col">Errors</th>
              <th scope="col">p99</th>
              {codes.map((c) => (
                <th scope="col" key={c}>
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {data.instances.map((i) => (
              <tr key={i.instanceId} data-testid="edge-instance" data-instance-id={i.instanceId}>
                <th scope="row" className="mono">
                  {i.instanceId}
                </th>
                <td>{i.subset ?? '–'}</td>
                <td className="num">{formatRps(i.rps)}</td>
                <td className="num">
                  {i.errors} ({formatPercent(i.errorRate)})
                </td>
                <td className="num">{formatMs(i.p99)}</td>
                {codes.map((c) => (
                  <td className="num" key={c} data-testid={`status-${c}`}>
                    {i.statuses[c] ?? 0}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </aside>
  );
}
