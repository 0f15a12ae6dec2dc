'use client';
import { useQuery } from '@tanstack/react-query';
import type { Role, SessionResponse } from '@/protocol/api';
import { getJson } from './api';
import { parseSessionResponse } from './wireShapes';

export type { Role };
export type Session = SessionResponse;

export const SESSION_KEY = ['session'] as const;

/**
 * Who is signed in (null user = anonymous), and the CSRF token changes must carry. The answer is
 * checked against its Shape written out in lib/wireShapes.ts, not protocol/api.ts's zod schema:
 * the header asks on every page, the list's first page included, and zod would be loaded and
 * run on the main thread before the first rows are painted. What a
 * session may do is in lib/useSession.ts (canOperate).
 */
export function useSession() {
  return useQuery({
    queryKey: SESSION_KEY,
    queryFn: () => getJson('/api/session', parseSessionResponse),
    staleTime: 60_000,
  });
}
