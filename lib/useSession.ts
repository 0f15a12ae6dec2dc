'use client';
import { can } from '@/protocol/api';
import type { Session } from './session';

export { SESSION_KEY, useSession, type Role, type Session } from './session';

/** Whether this session may change traffic (the same permission table the server enforces). */
export function canOperate(session: Session | undefined): boolean {
  return can(session?.user?.role ?? session?.anonymousRole, 'traffic:write');
}
