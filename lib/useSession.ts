'use client';
import { useQuery } from '@tanstack/react-query';
import { can, SessionResponse, type Role } from '@/protocol/api';
import { getJson } from './api';

export type { Role };
export type Session = SessionResponse;

export const SESSION_KEY = ['session'] as const;

/** Who is signed in (null user = anonymous), and the CSRF token changes must carry. */
export function useSession() {
  return useQuery({ queryKey: SESSION_KEY, queryFn: () => getJson('/api/session', SessionResponse), staleTime: 60_000 });
}

/** Whether this session may change traffic (the same permission table the server enforces). */
export function canOperate(session: Session | undefined): boolean {
  return can(session?.user?.role ?? session?.anonymousRole, 'traffic:write');
}
