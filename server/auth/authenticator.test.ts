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
    const sid = auth.createSession({ name: 'vic', role: 'viewer' });
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
});
