'use client';
import { useEffect, useState } from 'react';

/**
 * True once the browser has had an idle moment since mount (or `timeoutMs` passed): for work
 * nobody waits for on the first paint — a status chip's first poll and the zod it imports —
 * which would otherwise take the main thread while the list's first rows wait to be painted.
 */
export function useIdle(timeoutMs = 2_000): boolean {
  const [idle, setIdle] = useState(false);
  useEffect(() => {
    if (typeof requestIdleCallback !== 'function') {
      const t = setTimeout(() => setIdle(true), 0);
      return () => clearTimeout(t);
    }
    const handle = requestIdleCallback(() => setIdle(true), { timeout: timeoutMs });
    return () => cancelIdleCallback(handle);
  }, [timeoutMs]);
  return idle;
}
