'use client';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { sameOriginPath, SignInResponse } from '@/protocol/api';
import { ApiError, sendJson } from '@/lib/api';
import { useSession } from '@/lib/session';

type Mode = 'password' | 'token';

/**
 * The token of a one-click sign-in link (`/signin#token=…`, printed on the first start). A
 * fragment never leaves the browser, so the token reaches no server or proxy log; it is
 * removed from the address bar before anything else happens.
 */
function takeFragmentToken(): string | null {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (location.hash) history.replaceState(history.state, '', location.pathname + location.search);
  return token || null;
}

export default function SignInPage() {
  // The token form first: it is what the first start prints, and what a zero-config install has.
  // The server can say it has password users (`passwordSignIn` on GET /api/session) to open on those.
  const [mode, setMode] = useState<Mode>('token');
  const [name, setName] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const form = useRef<HTMLFormElement>(null);
  const [fromLink, setFromLink] = useState(false);
  const secretTyped = useRef(false);
  // The same query as the header's user menu: one request for both, checked against its Shape.
  const session = useSession();
  // Read in the effect below, before the session's: a link's token keeps the token form.
  const linkToken = useRef(false);
  const [signingInByLink, setSigningInByLink] = useState(false);

  useEffect(() => {
    const token = takeFragmentToken();
    if (!token) return;
    linkToken.current = true;
    setSigningInByLink(true);
    setMode('token');
    setSecret(token);
    setFromLink(true);
  }, []);
  // A server with password users opens on that form, unless the reader already chose or typed.
  const passwordSignIn = session.data?.passwordSignIn === true;
  useEffect(() => {
    if (passwordSignIn && !linkToken.current) setMode((m) => (m === 'token' && !secretTyped.current ? 'password' : m));
  }, [passwordSignIn]);
  // The method buttons wait for the server's answer: a click before it would be undone by it
  // (the page opening on the password form), and a click before hydration does nothing at all.
  const methodsReady = signingInByLink || !session.isPending;
  // A link's token goes through the same submit as a typed one, once it is in the form's state.
  useEffect(() => {
    if (fromLink && secret) {
      setFromLink(false);
      form.current?.requestSubmit();
    }
  }, [fromLink, secret]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = mode === 'password' ? { name, password: secret } : { token: secret };
    try {
      await sendJson('POST', '/api/session', body, SignInResponse, { csrfToken: null });
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.status === 0) return setError('Cannot reach Switchboard.');
      return setError(err instanceof ApiError ? err.message : 'Sign-in failed.');
    }
    // Only paths on this origin: `/\evil.example`, `//evil`, `https://…` all land on "/".
    location.assign(sameOriginPath(new URLSearchParams(location.search).get('next'), location.origin));
  }

  return (
    <form ref={form} className="signin" onSubmit={submit} aria-labelledby="signin-title">
      <h1 id="signin-title" style={{ marginTop: 0 }}>Sign in</h1>
      <div className="theme-toggle methods" role="group" aria-label="Sign in with">
        <button type="button" data-state={mode === 'token' ? 'on' : 'off'} aria-pressed={mode === 'token'} disabled={!methodsReady} onClick={() => setMode('token')}>Access token</button>
        <button type="button" data-state={mode === 'password' ? 'on' : 'off'} aria-pressed={mode === 'password'} disabled={!methodsReady} onClick={() => setMode('password')}>Name and password</button>
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
          <input id="token" type="password" autoComplete="off" value={secret} onChange={(e) => { secretTyped.current = true; setSecret(e.target.value); }} required autoFocus />
        </>
      )}
      {error && <p role="alert" className="error-box" style={{ padding: 0, textAlign: 'left' }}>{error}</p>}
      <button className="btn" type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  );
}
