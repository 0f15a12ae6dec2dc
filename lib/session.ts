'use client';
import { useQuery } from '@tanstack/react-query';
import type { Role, SessionResponse } from '@/protocol/api';
import { getJson } from './api';

export type { Role };
export type Session = SessionResponse;

export const SESSION_KEY = ['session'] as const;

/**
 * Who is signed in (null user = anonymous), and the CSRF token changes must carry. The answer's
 * schema (protocol/api.ts, zod) is imported beside the first request, not with the page: the
 * header asks on every page, the list's first page included (see lib/wireShapes.ts). What a
 * session may do is in lib/useSession.ts (canOperate).
 */
export function useSession() {
  return useQuery({
    queryKey: SESSION_KEY,
    queryFn: () => getJson('/api/session', import('@/protocol/api').then((m) => m.SessionResponse)),
    staleTime: 60_000,
  });
}
