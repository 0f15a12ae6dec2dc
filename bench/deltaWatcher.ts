/**
 * A WebSocket client of Switchboard for benchmarks: subscribes to the summary (and watches the
 * services named in `watch`), waits for the snapshot, and resolves waiters with the arrival
 * time of the first delta — summary or service — whose JSON matches.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { ServerMessage } from '../protocol/realtime';

export interface DeltaWatcher {
  /** Resolves with performance.now() when a matching delta arrives; rejects after `timeoutMs`. */
  waitFor(match: (json: string) => boolean, timeoutMs?: number): Promise<number>;
  close(): void;
}

export async function watchDeltas(port: number, options: { watch?: string[]; headers?: Record<string, string> } = {}): Promise<DeltaWatcher> {
  const waiters: { match: (json: string) => boolean; resolve: (t: number) => void }[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws`, { headers: options.headers });
  let snapshot = false;
  ws.on('message', (data) => {
    const t = performance.now();
    const text = data.toString();
    const msg = ServerMessage.parse(JSON.parse(text));
    if (msg.type === 'snapshot') snapshot = true;
    if (msg.type !== 'delta' && msg.type !== 'service.delta') return;
    for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.match(text)) waiters.splice(i, 1)[0]!.resolve(t);
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'subscribe' }));
  for (const serviceId of options.watch ?? []) ws.send(JSON.stringify({ type: 'watch', serviceId }));
  while (!snapshot) await sleep(10);
  return {
    waitFor: (match, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching delta within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ match, resolve: (t) => (clearTimeout(timer), resolve(t)) });
      }),
    close: () => ws.close(),
  };
}
