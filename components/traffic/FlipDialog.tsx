'use client';
import * as Dialog from '@radix-ui/react-dialog';
import { useState } from 'react';
import { flipTarget, type TrafficPolicy } from '@/protocol/traffic';
import type { TrafficView } from '@/lib/useTraffic';

/** Blue ↔ green with a confirmation that says exactly what will receive traffic. */
export function FlipDialog({ serviceName, policy, subsets, disabled, onConfirm }: {
  serviceName: string;
  policy: TrafficPolicy;
  subsets: TrafficView['subsets'];
  disabled: boolean;
  onConfirm: (opts: { reason: string; force: boolean }) => void;
}) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [force, setForce] = useState(false);
  const flip = flipTarget(policy);
  if (!flip) return null;
  const health = subsets[flip.target];
  const empty = health !== undefined && health.passing === 0;
  return (
    <Dialog.Root open={open} onOpenChange={(o) => { setOpen(o); if (o) { setReason(''); setForce(false); } }}>
      <Dialog.Trigger asChild>
        <button className="btn" disabled={disabled} data-testid="flip">
          Flip to {flip.target}
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content className="dialog" aria-describedby="flip-desc">
          <Dialog.Title>Flip {serviceName} to {flip.target}?</Dialog.Title>
          <p id="flip-desc">
            <strong>{flip.target}</strong> will receive <strong>100%</strong> of {serviceName} traffic
            {health ? ` (${health.passing} of ${health.instances} instances passing)` : ''}; <strong>{flip.from}</strong> will receive none.
            Every client following the registry switches on its next watch wake-up.
          </p>
          {empty && (
            <p className="error-box" role="alert" style={{ padding: 8, textAlign: 'left' }}>
              {flip.target} has no passing instance. Flipping would send all traffic to nothing that can serve it.
              <label style={{ display: 'block', marginTop: 6 }}>
                <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> Force it anyway (recorded in the audit trail)
              </label>
            </p>
          )}
          <label htmlFor="flip-reason">Reason (for the audit trail)</label>
          <input id="flip-reason" className="input" value={reason} onChange={(e) => setReason(e.target.value)} placeholder={`flip to ${flip.target}`} />
          <div className="dialog-actions">
            <Dialog.Close asChild>
              <button className="btn secondary">Cancel</button>
            </Dialog.Close>
            <button
              className="btn"
              data-testid="confirm-flip"
              disabled={empty && !force}
              onClick={() => {
                onConfirm({ reason, force });
                setOpen(false);
              }}
            >
              Send all traffic to {flip.target}
            </button>
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
