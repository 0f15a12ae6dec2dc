/**
 * The browser's WebSocket to /api/ws. Frames are validated, then applied to the react-query
 * cache entry ['topology'] through `stepTopology`. Renders are batched (~250 ms) and frames
 * are only buffered while the tab is hidden; reconnects back off with jitter and resume from
 * the last applied revision, so the server sends only what was missed.
 */
import type { QueryClient } from '@tanstack/react-query';
import type { Topology } from '@/protocol/model';
import { HEARTBEAT_MS, ServerMessage } from '@/protocol/realtime';
import { stepTopology } from './topologyCache';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export const TOPOLOGY_KEY = ['topology'] as const;

export interface LiveTopologyOptions {
  /** @default 250 */
  batchMs?: number;
  /** @default WebSocket */
  WebSocketImpl?: typeof WebSocket;
}

export class LiveTopology {
  private ws: WebSocket | null = null;
  private state: ConnectionState = 'connecting';
  private readonly listeners = new Set<() => void>();
  private pending: ServerMessage[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private stopped = false;
  private readonly batchMs: number;
  private readonly WS: typeof WebSocket;

  constructor(
    private readonly queryClient: QueryClient,
    options: LiveTopologyOptions = {},
  ) {
    this.batchMs = options.batchMs ?? 250;
    this.WS = options.WebSocketImpl ?? WebSocket;
  }

  start(): void {
    this.stopped = false;
    document.addEventListener('visibilitychange', this.onVisibility);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    document.removeEventListener('visibilitychange', this.onVisibility);
    for (const t of [this.flushTimer, this.retryTimer, this.watchdog]) if (t) clearTimeout(t);
    this.ws?.close();
    this.ws = null;
  }

  getState = (): ConnectionState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    for (const l of this.listeners) l();
  }

  private current(): Topology | undefined {
    return this.queryClient.getQueryData<Topology>(TOPOLOGY_KEY);
  }

  private connect(): void {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/ws`;
    const ws = new this.WS(url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.send({ type: 'subscribe', sinceRev: this.current()?.rev });
      this.setState('live');
      this.armWatchdog();
    };
    ws.onmessage = (ev) => {
      this.armWatchdog();
      let parsed;
      try {
        parsed = ServerMessage.safeParse(JSON.parse(String(ev.data)));
      } catch {
        return;
      }
      if (!parsed.success) return;
      this.pending.push(parsed.data);
      if (!document.hidden) this.scheduleFlush();
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      this.flush();
      this.setState('reconnecting');
      void this.retry();
    };
  }

  private async retry(): Promise<void> {
    // A refused upgrade looks like a plain close; ask the API whether we are signed in.
    try {
      const r = await fetch('/api/sources', { headers: { accept: 'application/json' } });
      if (r.status === 401) {
        this.setState('unauthorized');
        return;
      }
    } catch {
      // server unreachable: keep retrying
    }
    const delay = Math.min(15_000, 500 * 2 ** this.attempt) * (0.5 + Math.random() * 0.5);
    this.attempt++;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** No frame (not even a heartbeat) for 2.5 heartbeats: the connection is dead even if TCP says otherwise. */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.ws?.close(), HEARTBEAT_MS * 2.5);
  }

  private send(msg: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, this.batchMs);
  }

  private onVisibility = (): void => {
    if (!document.hidden) this.flush();
  };

  /** Applies every buffered frame in order, then writes the cache once (one render). */
  private flush(): void {
    if (this.pending.length === 0) return;
    const frames = this.pending;
    this.pending = [];
    let topology = this.current();
    let changed = false;
    for (const msg of frames) {
      const step = stepTopology(topology, msg);
      if (step.kind === 'apply') {
        topology = step.topology;
        changed = true;
      } else if (step.kind === 'resync') {
        this.send({ type: 'subscribe', sinceRev: step.sinceRev });
        break;
      }
    }
    if (changed && topology) this.queryClient.setQueryData(TOPOLOGY_KEY, topology);
  }
}
