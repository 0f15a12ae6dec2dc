'use client';
import { useSession } from '@/lib/session';
import { IntentLink } from './IntentLink';

/** Who is signed in, with sign-out; or a sign-in link for anonymous viewers. */
export function UserMenu() {
  const { data } = useSession();
  if (!data) return null;
  if (!data.user) return <IntentLink href="/signin" data-testid="signin-link">Sign in</IntentLink>;
  return (
    <span className="conn" data-testid="user">
      {data.user.name} ({data.user.role})
      <button
        className="btn secondary small"
        onClick={async () => {
          await fetch('/api/session', { method: 'DELETE' });
          location.reload();
        }}
      >
        Sign out
      </button>
    </span>
  );
}
