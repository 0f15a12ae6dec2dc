'use client';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';

export default function SignInPage() {
  const router = useRouter();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const res = await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) }).catch(() => null);
    setBusy(false);
    if (!res) return setError('Cannot reach Switchboard.');
    if (!res.ok) return setError(((await res.json().catch(() => null)) as { error?: string } | null)?.error ?? `Sign-in failed (${res.status})`);
    const next = new URLSearchParams(location.search).get('next');
    // Only same-site paths: never bounce a user to another origin after sign-in.
    location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : '/');
    router.refresh();
  }

  return (
    <form className="signin" onSubmit={submit} aria-labelledby="signin-title">
      <h1 id="signin-title" style={{ marginTop: 0 }}>Sign in</h1>
      <p className="meta">Use the access token your Switchboard administrator gave you.</p>
      <label htmlFor="token">Token</label>
      <input id="token" type="password" autoComplete="current-password" value={token} onChange={(e) => setToken(e.target.value)} required autoFocus />
      {error && <p role="alert" className="error-box" style={{ padding: 0, textAlign: 'left' }}>{error}</p>}
      <button className="btn" type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  );
}
