/**
 * Parts of the fleet's summary for components that show little of it (see useTopologySelect):
 * each returns plain data, so react-query's structural sharing hands back the same object while
 * that part is unchanged and the component does not render again.
 */
import type { SourceKind, SourceStatus } from '@/protocol/model';
import type { SummaryCache } from './topologyCache';

/** The kind and name of one registry: what a service page says about where the service lives. */
export function sourceLabelOf(sourceId: string): (summary: SummaryCache) => { kind: SourceKind; name: string } | undefined {
  return (summary) => {
    const s = summary.sources.find((x) => x.id === sourceId);
    return s && { kind: s.kind, name: s.name };
  };
}

export type UnreachableSource = SourceStatus & { state: 'stale' | 'down' };

/** The registries that are stale or down: what the stale banner lists and the list's badge filter marks. */
export function unreachableSources(summary: SummaryCache): UnreachableSource[] {
  return summary.sources.filter((s): s is UnreachableSource => s.state === 'stale' || s.state === 'down');
}
