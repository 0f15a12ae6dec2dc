import type { TrafficView } from '@/lib/useTraffic';
import { own } from '@/protocol/traffic';

// Dark enough for white labels at >= 4.5:1 (WCAG 1.4.3).
const PALETTE = ['#6f4fc9', '#a65a14', '#1d7585', '#b03a6e'];
export function subsetColor(name: string, index: number): string {
  if (name === 'blue') return '#3565d1';
  if (name === 'green') return '#1f7a45';
  return PALETTE[index % PALETTE.length]!;
}

/** The live split as a bar with numbers, and each subset's instance health under it. */
export function SplitBar({ order, weights, subsets }: { order: string[]; weights: Record<string, number>; subsets: TrafficView['subsets'] }) {
  // In the policy's subset order, whatever order the weights object happens to have.
  const entries = order.map((name) => [name, own(weights, name) ?? 0] as const);
  const label = entries.map(([n, w]) => `${n} ${w}%`).join(', ');
  return (
    <div className="split">
      <div className="split-bar" role="img" aria-label={`Traffic split: ${label}`} data-testid="traffic-split" data-weights={entries.map(([n, w]) => `${n}:${w}`).join(',')}>
        {entries.map(([name, w], i) =>
          w > 0 ? (
            <span key={name} style={{ width: `${w}%`, background: subsetColor(name, i) }}>
              {w >= 8 ? `${name} ${w}%` : ''}
            </span>
          ) : null,
        )}
      </div>
      <ul className="split-legend">
        {entries.map(([name, w], i) => {
          const h = own(subsets, name);
          const none = h && h.passing === 0;
          return (
            <li key={name} data-testid="subset" data-subset={name}>
              <i className="swatch" style={{ background: subsetColor(name, i) }} />
              <b>{name}</b> <span className="num">{w}%</span>
              {h && (
                <span className={none ? 'subset-health bad' : 'subset-health'}>
                  {h.passing}/{h.instances} passing
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
