'use client';
import * as Tooltip from '@radix-ui/react-tooltip';
import type { ReactElement } from 'react';
import type { SourceStatus } from '@/protocol/model';

/**
 * The hover/focus detail of a registry chip whose source reports an error. Its own module,
 * loaded only when such a chip is shown (SourceStatusStrip): Radix Tooltip and its positioning
 * engine are ≈60 KB of JavaScript every page would otherwise load and compile before its first render.
 */
export default function SourceErrorTooltip({ source: s, children }: { source: SourceStatus; children: ReactElement }) {
  return (
    <Tooltip.Provider delayDuration={200}>
      <Tooltip.Root>
        <Tooltip.Trigger asChild>{children}</Tooltip.Trigger>
        <Tooltip.Portal>
          <Tooltip.Content className="tooltip" sideOffset={6}>
            {s.address && <div>{s.address}</div>}
            <div>Last error: {s.lastError}</div>
          </Tooltip.Content>
        </Tooltip.Portal>
      </Tooltip.Root>
    </Tooltip.Provider>
  );
}
