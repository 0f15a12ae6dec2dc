'use client';
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { GraphWindow } from '@/protocol/graph';
import { LiveGraph, type LiveGraphSnapshot } from './liveGraph';

const INITIAL: LiveGraphSnapshot = { state: 'connecting', graph: null, version: 0, window: '5m', applyMs: 0 };

/** The live service graph over `window`, followed while the calling component is mounted. */
export function useGraph(window: GraphWindow): LiveGraphSnapshot {
  const [live, setLive] = useState<LiveGraph | null>(null);
  useEffect(() => {
    const conn = new LiveGraph(window);
    conn.start();
    setLive(conn);
    return () => conn.stop();
    // The connection outlives window changes: setWindow below re-watches on the same socket.
  }, []);
  useEffect(() => live?.setWindow(window), [live, window]);
  return useSyncExternalStore(live?.subscribe ?? noopSubscribe, live?.getSnapshot ?? (() => INITIAL), () => INITIAL);
}

const noopSubscribe = () => () => undefined;
