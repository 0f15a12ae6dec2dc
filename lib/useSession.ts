'use client';
import { useQuery } from '@tanstack/react-query';
import { getJson } from './api';

export type Role = 'client' | 'viewer' | 'operator' | 'admin';
export interface Session {
  user: { name: string; role: Role } | null;
  anonymousRole: Role | null;
  csrfToken: string | null;
}

export const SESSION_KEY = ['session'] as const;

/** Who is signed in (null user = anonymous), and the CSRF token changes must carry. */
export function useSession() {
  return useQuery({ queryKey: SESSION_KEY, queryFn: () => getJson<Session>('/api/session'), staleTime: 60_000 });
}

export function canOperate(session: Session | undefined): boolean {
  const role = session?.user?.role ?? session?.anonymousRole;
  return role === 'operator' || role === 'admin';
}
