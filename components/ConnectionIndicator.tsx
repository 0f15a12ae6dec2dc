'use client';
import { useConnectionState } from '@/lib/useTopology';

const LABEL = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting… (showing last data)', unauthorized: 'Signed out' } as const;

export function ConnectionIndicator() {
  const state = useConnectionState();
  return (
    <span className="conn" data-testid="connection" data-state={state} role="status" aria-live="polite">
      <span className={`dot ${state}`} aria-hidden />
      {LABEL[state]}
    </span>
  );
}
