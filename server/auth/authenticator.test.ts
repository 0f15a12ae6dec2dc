import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Authenticator, hasRole, sameOrigin } from './authenticator';

const users = [
  { name: 'alice', role: 'operator' as const, token: 'alice-token' },
  { name: 'vic', role: 'viewer' as const, token: 'vic-token' },
];

describe('Authenticator', () => {
  it('resolves bearer tokens, rejects unknown ones, falls back to the anonymous role', () => {
    const auth = new Authenticator({ users, anonymousRole: null });
    expect(auth.authenticate({ headers: { authorization: 'Bearer alice-token' } })).toEqual({ name: 'alice', role: 'operator', via: 'bearer' });
    expect(auth.authenticate({ headers: { authorization: 'Bearer wrong' } })).toBe('invalid');
    expect(auth.authenticate({ headers: {} })).toBeNull();
    const open = new Authenticator({ users, anonymousRole: 'viewer' });
    expect(open.authenticate({ headers: {} })).toEqual({ name: 'anonymous', role: 'viewer', via: 'anonymous' });
  });

  it('issues sessions that expire', () => {
    let now = 0;
    const auth = new Authenticator({ users, anonymousRole: null, sessionTtlMs: 1000, now: () => now });
    const { id: sid } = auth.createSession({ name: 'vic', role: 'viewer' });
    const req = { headers: { cookie: `other=1; sb_session=${encodeURIComponent(sid)}` } };
    expect(auth.authenticate(req)).toEqual({ name: 'vic', role: 'viewer', via: 'session' });
    now = 1001;
    expect(auth.authenticate(req)).toBeNull();
  });

  it('ranks roles', () => {
    expect(hasRole({ name: 'a', role: 'admin', via: 'bearer' }, 'operator')).toBe(true);
    expect(hasRole({ name: 'v', role: 'viewer', via: 'bearer' }, 'operator')).toBe(false);
    expect(hasRole(null, 'viewer')).toBe(false);
  });

  it('checks the Origin against Host', () => {
    expect(sameOrigin({ headers: { origin: 'http://127.0.0.1:3000', host: '127.0.0.1:3000' } })).toBe(true);
    expect(sameOrigin({ headers: { origin: 'http://evil.example', host: '127.0.0.1:3000' } })).toBe(false);
    expect(sameOrigin({ headers: { host: '127.0.0.1:3000' } })).toBe(false);
  });

  it('signs people in by password, held as a scrypt hash', async () => {
    const auth = new Authenticator({ users: [{ name: 'pat', role: 'operator', password: 'correct horse' }], anonymousRole: null });
    expect(await auth.userForPassword('pat', 'correct horse')).toEqual({ name: 'pat', role: 'operator' });
    expect(await auth.userForPassword('pat', 'wrong')).toBeNull();
    expect(await auth.userForPassword('nobody', 'correct horse')).toBeNull();
    // A password is not a token.
    expect(auth.userForToken('correct horse')).toBeNull();
    expect(auth.listUsers()).toEqual([{ name: 'pat', role: 'operator', token: false, password: true }]);
  });

  it('accepts a token known only by its SHA-256 (the first-start admin credential)', () => {
    const sha = createHash('sha256').update('sb_admin').digest('hex');
    const auth = new Authenticator({ users: [{ name: 'admin', role: 'admin', tokenSha256: sha }], anonymousRole: null });
    expect(auth.authenticate({ headers: { authorization: 'Bearer sb_admin' } })).toEqual({ name: 'admin', role: 'admin', via: 'bearer' });
    expect(auth.authenticate({ headers: { authorization: 'Bearer sb_other' } })).toBe('invalid');
  });

  it('binds a CSRF token to each session', () => {
    const auth = new Authenticator({ users, anonymousRole: null });
    const a = auth.createSession({ name: 'vic', role: 'viewer' });
    const b = auth.createSession({ name: 'vic', role: 'viewer' });
    const cookie = `sb_session=${encodeURIComponent(a.id)}`;
    expect(auth.csrfOk({ headers: { cookie, 'x-csrf-token': a.csrfToken } })).toBe(true);
    expect(auth.csrfOk({ headers: { cookie, 'x-csrf-token': b.csrfToken } })).toBe(false);
    expect(auth.csrfOk({ headers: { cookie } })).toBe(false);
  });

  it('ranks the client role below viewer', () => {
    expect(hasRole({ name: 'svc', role: 'client', via: 'bearer' }, 'client')).toBe(true);
    expect(hasRole({ name: 'svc', role: 'client', via: 'bearer' }, 'viewer')).toBe(false);
    expect(hasRole({ name: 'v', role: 'viewer', via: 'bearer' }, 'client')).toBe(true);
  });
});
