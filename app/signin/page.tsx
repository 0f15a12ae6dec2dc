'use client';
import { useState, type FormEvent } from 'react';

type Mode = 'password' | 'token';

export default function SignInPage() {
  const [mode, setMode] = useState<Mode>('password');
  const [name, setName] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = mode === 'password' ? { name, password: secret } : { token: secret };
    const res = await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => null);
    setBusy(false);
    if (!res) return setError('Cannot reach Switchboard.');
    if (!res.ok) return setError(((await res.json().catch(() => null)) as { error?: string } | null)?.error ?? `Sign-in failed (${res.status})`);
    const next = new URLSearchParams(location.search).get('next');
    // Only same-site paths: never bounce a user to another origin after sign-in.
    location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : '/');
  }

  return (
    <form className="signin" onSubmit={submit} aria-labelledby="signin-title">
      <h1 id="signin-title" style={{ marginTop: 0 }}>Sign in</h1>
      <div className="theme-toggle" role="group" aria-label="Sign in with" style={{ marginBottom: 12 }}>
        <button type="button" data-state={mode === 'password' ? 'on' : 'off'} aria-pressed={mode === 'password'} onClick={() => setMode('password')}>Name and password</button>
        <button type="button" data-state={mode === 'token' ? 'on' : 'off'} aria-pressed={mode === 'token'} onClick={() => setMode('token')}>Access token</button>
      </div>
      {mode === 'password' ? (
        <>
          <label htmlFor="name">Name</label>
          <input id="name" autoComplete="username" value={name} onChange={(e) => setName(e.target.value)} required autoFocus />
          <label htmlFor="password">Password</label>
          <input id="password" type="password" autoComplete="current-password" value={secret} onChange={(e) => setSecret(e.target.value)} required />
        </>
      ) : (
        <>
          <p className="meta">An access token from your Switchboard administrator — or, on a fresh install, the admin token Switchboard printed when it first started.</p>
          <label htmlFor="token">Token</label>
          <input id="token" type="password" autoComplete="off" value={secret} onChange={(e) => setSecret(e.target.value)} required autoFocus />
        </>
      )}
      {error && <p role="alert" className="error-box" style={{ padding: 0, textAlign: 'left' }}>{error}</p>}
      <button className="btn" type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  );
}
