import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Authenticator, allows, readCookie, sameOrigin } from './authenticator';

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
    expect(auth.authenticate(req)).toEqual({ name: 'vic', role: 'viewer', via: 'session', sessionId: sid });
    now = 1001;
    expect(auth.authenticate(req)).toBeNull();
  });

  it('grants each role exactly its permission set', () => {
    const as = (role: 'client' | 'viewer' | 'operator' | 'admin') => ({ name: 'x', role, via: 'bearer' as const });
    expect(allows(as('admin'), 'traffic:write')).toBe(true);
    expect(allows(as('viewer'), 'traffic:write')).toBe(false);
    expect(allows(null, 'topology:read')).toBe(false);
    expect(allows('invalid', 'topology:read')).toBe(false);
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

  it('does not rank roles: a viewer is not a client, a client is not a viewer', () => {
    expect(allows({ name: 'svc', role: 'client', via: 'bearer' }, 'telemetry:write')).toBe(true);
    expect(allows({ name: 'svc', role: 'client', via: 'bearer' }, 'topology:read')).toBe(false);
    expect(allows({ name: 'v', role: 'viewer', via: 'anonymous' }, 'telemetry:write')).toBe(false);
    expect(allows({ name: 'o', role: 'operator', via: 'bearer' }, 'gateway')).toBe(false);
  });

  it('reads a malformed cookie as absent, never throwing', () => {
    expect(readCookie('sb_session=%', 'sb_session')).toBeNull();
    expect(readCookie('a=%E0%A4%A; sb_session=ok%20x', 'sb_session')).toBe('ok x');
    const auth = new Authenticator({ users, anonymousRole: 'viewer' });
    expect(auth.authenticate({ headers: { cookie: 'sb_session=%' } })).toEqual({ name: 'anonymous', role: 'viewer', via: 'anonymous' });
  });

  it('reaps expired sessions, bounds their number and announces each end', () => {
    let now = 0;
    const auth = new Authenticator({ users, anonymousRole: null, sessionTtlMs: 1000, maxSessions: 2, now: () => now });
    const ended: string[] = [];
    auth.onSessionEnd((id, why) => ended.push(`${id}:${why}`));
    const a = auth.createSession({ name: 'vic', role: 'viewer' });
    now = 500;
    const b = auth.createSession({ name: 'vic', role: 'viewer' });
    const c = auth.createSession({ name: 'vic', role: 'viewer' });
    expect(ended).toEqual([`${a.id}:evicted`]);
    expect(auth.sessionCount).toBe(2);
    now = 1600;
    expect(auth.reap()).toBe(2);
    expect(ended).toEqual([`${a.id}:evicted`, `${b.id}:expired`, `${c.id}:expired`]);
    expect(auth.sessionCount).toBe(0);
    auth.endSession(c.id);
    expect(ended).toHaveLength(3);
    auth.close();
  });
});
