'use client';
import { useContext, useEffect, useState, useSyncExternalStore } from 'react';
import type { GraphWindow } from '@/protocol/graph';
import { LiveGraph, type LiveGraphSnapshot } from './liveGraph';
import { LiveTopologyContext } from './liveTopologyContext';

const INITIAL: LiveGraphSnapshot = { state: 'connecting', graph: null, version: 0, window: '5m', applyMs: 0 };

/** The live service graph over `window`, on the page's WebSocket, followed while the calling component is mounted. */
export function useGraph(window: GraphWindow): LiveGraphSnapshot {
  const connection = useContext(LiveTopologyContext);
  const [live, setLive] = useState<LiveGraph | null>(null);
  useEffect(() => {
    if (!connection) return;
    const graph = new LiveGraph(window, connection);
    graph.start();
    setLive(graph);
    return () => graph.stop();
    // The stream outlives window changes: setWindow below re-watches on the same socket.
  }, [connection]);
  useEffect(() => live?.setWindow(window), [live, window]);
  return useSyncExternalStore(live?.subscribe ?? noopSubscribe, live?.getSnapshot ?? (() => INITIAL), () => INITIAL);
}

const noopSubscribe = () => () => undefined;
