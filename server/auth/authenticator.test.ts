import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Authenticator, allows, readCookie, sameOrigin } from './authenticator';
import type { SharedSignOuts } from './sharedSignOuts';

const users = [
  { name: 'alice', role: 'operator' as const, token: 'alice-token' },
  { name: 'vic', role: 'viewer' as const, token: 'vic-token' },
];

describe('Authenticator', () => {
  it('resolves bearer tokens, rejects unknown ones, falls back to the anonymous role', async () => {
    const auth = new Authenticator({ users, anonymousRole: null });
    expect(await auth.authenticate({ headers: { authorization: 'Bearer alice-token' } })).toEqual({ name: 'alice', role: 'operator', via: 'bearer' });
    expect(await auth.authenticate({ headers: { authorization: 'Bearer wrong' } })).toBe('invalid');
    expect(await auth.authenticate({ headers: {} })).toBeNull();
    const open = new Authenticator({ users, anonymousRole: 'viewer' });
    expect(await open.authenticate({ headers: {} })).toEqual({ name: 'anonymous', role: 'viewer', via: 'anonymous' });
  });

  it('issues sessions that expire', async () => {
    let now = 0;
    const auth = new Authenticator({ users, anonymousRole: null, sessionTtlMs: 1000, now: () => now });
    const { id: sid, cookie } = await auth.createSession({ name: 'vic', role: 'viewer' });
    const req = () => ({ headers: { cookie: `other=1; sb_session=${cookie}` } });
    expect(await auth.authenticate(req())).toEqual({ name: 'vic', role: 'viewer', via: 'session', sessionId: sid });
    now = 1001;
    expect(await auth.authenticate(req())).toBeNull();
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

  it('accepts a token known only by its SHA-256 (the first-start admin credential)', async () => {
    const sha = createHash('sha256').update('sb_admin').digest('hex');
    const auth = new Authenticator({ users: [{ name: 'admin', role: 'admin', tokenSha256: sha }], anonymousRole: null });
    expect(await auth.authenticate({ headers: { authorization: 'Bearer sb_admin' } })).toEqual({ name: 'admin', role: 'admin', via: 'bearer' });
    expect(await auth.authenticate({ headers: { authorization: 'Bearer sb_other' } })).toBe('invalid');
  });

  it('binds a CSRF token to each session', async () => {
    const auth = new Authenticator({ users, anonymousRole: null });
    const a = await auth.createSession({ name: 'vic', role: 'viewer' });
    const b = await auth.createSession({ name: 'vic', role: 'viewer' });
    const cookie = `sb_session=${a.cookie}`;
    expect(await auth.csrfOk({ headers: { cookie, 'x-csrf-token': a.csrfToken } })).toBe(true);
    expect(await auth.csrfOk({ headers: { cookie, 'x-csrf-token': b.csrfToken } })).toBe(false);
    expect(await auth.csrfOk({ headers: { cookie } })).toBe(false);
  });

  it('does not rank roles: a viewer is not a client, a client is not a viewer', () => {
    expect(allows({ name: 'svc', role: 'client', via: 'bearer' }, 'telemetry:write')).toBe(true);
    expect(allows({ name: 'svc', role: 'client', via: 'bearer' }, 'topology:read')).toBe(false);
    expect(allows({ name: 'v', role: 'viewer', via: 'anonymous' }, 'telemetry:write')).toBe(false);
    expect(allows({ name: 'o', role: 'operator', via: 'bearer' }, 'gateway')).toBe(false);
  });

  it('reads a malformed cookie as absent, never throwing', async () => {
    expect(readCookie('sb_session=%', 'sb_session')).toBeNull();
    expect(readCookie('a=%E0%A4%A; sb_session=ok%20x', 'sb_session')).toBe('ok x');
    const auth = new Authenticator({ users, anonymousRole: 'viewer' });
    expect(await auth.authenticate({ headers: { cookie: 'sb_session=%' } })).toEqual({ name: 'anonymous', role: 'viewer', via: 'anonymous' });
  });

  it('reaps expired sessions, bounds their number and announces each end', async () => {
    let now = 0;
    const auth = new Authenticator({ users, anonymousRole: null, sessionTtlMs: 1000, maxSessions: 2, now: () => now });
    const ended: string[] = [];
    auth.onSessionEnd((id, why) => ended.push(`${id}:${why}`));
    const a = await auth.createSession({ name: 'vic', role: 'viewer' });
    now = 500;
    const b = await auth.createSession({ name: 'vic', role: 'viewer' });
    const c = await auth.createSession({ name: 'vic', role: 'viewer' });
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

describe('stateless sessions (session.secret)', () => {
  const secret = 'a-session-secret-of-at-least-32-bytes!';
  const other = 'another-secret-also-32-bytes-or-more!!';
  const people = [...users, { name: 'root', role: 'admin' as const, token: 'root-token' }];
  const withCookie = (cookie: string, extra: Record<string, string> = {}) => ({ headers: { cookie: `theme=dark; sb_session=${cookie}`, ...extra } });
  /** The cookie's value with one base64url character of `part` (0-4) changed. */
  const tamper = (cookie: string, part: number): string => {
    const parts = cookie.split('.');
    const p = parts[part]!;
    const i = Math.floor(p.length / 2);
    parts[part] = p.slice(0, i) + (p[i] === 'A' ? 'B' : 'A') + p.slice(i + 1);
    return parts.join('.');
  };

  it('refuses a secret shorter than 32 bytes, naming the field', () => {
    expect(() => new Authenticator({ users, anonymousRole: null, sessionSecret: 'too short' })).toThrow(/^session\.secret: must be at least 32 bytes \(it is 9\)/);
  });

  it('is accepted, CSRF token included, by another instance holding the same secret', async () => {
    const a = new Authenticator({ users: people, anonymousRole: null, sessionSecret: secret });
    const b = new Authenticator({ users: people, anonymousRole: null, sessionSecret: secret });
    expect(a.stateless).toBe(true);
    const s = await a.createSession({ name: 'alice', role: 'operator' });
    // An encrypted JWT (compact JWE, five parts): neither the name nor the CSRF token shows.
    expect(s.cookie.split('.')).toHaveLength(5);
    expect(s.cookie).not.toContain(s.csrfToken);
    expect(Buffer.from(s.cookie.split('.')[3]!, 'base64url').toString('latin1')).not.toContain('alice');
    expect(await b.authenticate(withCookie(s.cookie))).toEqual({ name: 'alice', role: 'operator', via: 'session', sessionId: s.id });
    expect(await b.session(withCookie(s.cookie))).toEqual({ name: 'alice', role: 'operator', csrfToken: s.csrfToken });
    expect(await b.csrfOk(withCookie(s.cookie, { 'x-csrf-token': s.csrfToken }))).toBe(true);
    expect(await b.csrfOk(withCookie(s.cookie, { 'x-csrf-token': s.csrfToken.slice(1) + 'x' }))).toBe(false);
    expect(await b.csrfOk(withCookie(s.cookie))).toBe(false);
    // Each session has its own CSRF token.
    const t = await b.createSession({ name: 'alice', role: 'operator' });
    expect(await a.csrfOk(withCookie(t.cookie, { 'x-csrf-token': s.csrfToken }))).toBe(false);
    expect(b.sessionCount).toBe(1);
  });

  it('refuses a tampered cookie, whichever part is changed', async () => {
    const auth = new Authenticator({ users, anonymousRole: 'viewer', sessionSecret: secret });
    const { cookie } = await auth.createSession({ name: 'alice', role: 'operator' });
    expect(await auth.authenticate(withCookie(cookie))).toMatchObject({ name: 'alice', via: 'session' });
    for (const part of [0, 2, 3, 4]) {
      expect(await auth.authenticate(withCookie(tamper(cookie, part)))).toEqual({ name: 'anonymous', role: 'viewer', via: 'anonymous' });
    }
    // A part added to the (empty) encrypted-key slot, or one dropped, is not ours either.
    const parts = cookie.split('.');
    expect(await auth.authenticate(withCookie([parts[0], 'AAAA', ...parts.slice(2)].join('.')))).toMatchObject({ via: 'anonymous' });
    expect(await auth.authenticate(withCookie(parts.slice(1).join('.')))).toMatchObject({ via: 'anonymous' });
  });

  it('refuses a cookie made with another secret', async () => {
    const mine = new Authenticator({ users, anonymousRole: null, sessionSecret: secret });
    const theirs = new Authenticator({ users, anonymousRole: null, sessionSecret: other });
    const { cookie } = await theirs.createSession({ name: 'alice', role: 'operator' });
    expect(await mine.authenticate(withCookie(cookie))).toBeNull();
    expect(await mine.csrfOk(withCookie(cookie, { 'x-csrf-token': 'x' }))).toBe(false);
    // Nor does an in-memory instance take a stateless cookie (or the reverse).
    const memory = new Authenticator({ users, anonymousRole: null });
    expect(await memory.authenticate(withCookie(cookie))).toBeNull();
    const local = await memory.createSession({ name: 'alice', role: 'operator' });
    expect(await mine.authenticate(withCookie(local.cookie))).toBeNull();
  });

  it('refuses an expired cookie, and announces the end of a session it had seen', async () => {
    let now = Date.parse('2026-11-30T08:00:00Z');
    const auth = new Authenticator({ users, anonymousRole: null, sessionSecret: secret, sessionTtlMs: 60_000, now: () => now });
    const other = new Authenticator({ users, anonymousRole: null, sessionSecret: secret, sessionTtlMs: 60_000, now: () => now });
    const ended: string[] = [];
    auth.onSessionEnd((id, why) => ended.push(`${id}:${why}`));
    const s = await other.createSession({ name: 'vic', role: 'viewer' });
    now += 59_000;
    expect(await auth.authenticate(withCookie(s.cookie))).toMatchObject({ name: 'vic', sessionId: s.id });
    now += 1_000;
    expect(await auth.authenticate(withCookie(s.cookie))).toBeNull();
    expect(auth.reap()).toBe(1);
    expect(ended).toEqual([`${s.id}:expired`]);
    auth.close();
    other.close();
  });

  it('ends sessions when the user is removed, or their role, token or password changes in config', async () => {
    const pat = { name: 'pat', role: 'operator' as const, password: 'correct horse' };
    const before = new Authenticator({ users: [...people, pat], anonymousRole: null, sessionSecret: secret });
    const root = await before.createSession({ name: 'root', role: 'admin' });
    const alice = await before.createSession({ name: 'alice', role: 'operator' });
    const vic = await before.createSession({ name: 'vic', role: 'viewer' });
    const patSession = await before.createSession({ name: 'pat', role: 'operator' });
    // The same config elsewhere (another replica): every session holds.
    const same = new Authenticator({ users: [...people, pat], anonymousRole: null, sessionSecret: secret });
    for (const s of [root, alice, vic, patSession]) expect(await same.authenticate(withCookie(s.cookie))).toMatchObject({ via: 'session' });
    const after = new Authenticator({
      users: [{ name: 'alice', role: 'viewer', token: 'alice-token' }, { name: 'vic', role: 'viewer', token: 'vic-new-token' }, { ...pat, password: 'battery staple' }],
      anonymousRole: null,
      sessionSecret: secret,
    });
    for (const s of [root, alice, vic, patSession]) expect(await after.authenticate(withCookie(s.cookie))).toBeNull();
  });

  it('signs out: this instance refuses the session from then on and closes what it had open', async () => {
    const auth = new Authenticator({ users, anonymousRole: null, sessionSecret: secret });
    const ended: string[] = [];
    auth.onSessionEnd((id, why) => ended.push(`${id}:${why}`));
    const s = await auth.createSession({ name: 'alice', role: 'operator' });
    expect(await auth.authenticate(withCookie(s.cookie))).toMatchObject({ name: 'alice' });
    await auth.signOut(withCookie(s.cookie));
    expect(ended).toEqual([`${s.id}:signed out`]);
    expect(await auth.authenticate(withCookie(s.cookie))).toBeNull();
    // Signing out without a cookie, or twice, is harmless.
    await auth.signOut({ headers: {} });
    await auth.signOut(withCookie(s.cookie));
    expect(ended).toHaveLength(1);
  });

  it('shares sign-outs: publishes its own, refuses and closes those made elsewhere', async () => {
    let follow: ((signedOut: ReadonlyMap<string, number>) => void) | null = null;
    const published: string[] = [];
    const shared = (fail: boolean): SharedSignOuts => ({
      describe: 'test',
      publish: async (id) => {
        if (fail) throw new Error('403 Permission denied');
        published.push(id);
      },
      start: (onChange) => (follow = onChange),
      close: async () => undefined,
    });
    const errors: string[] = [];
    const a = new Authenticator({ users, anonymousRole: null, sessionSecret: secret, sharedSignOuts: shared(false) });
    const b = new Authenticator({ users, anonymousRole: null, sessionSecret: secret, sharedSignOuts: shared(true), onError: (m) => errors.push(m) });
    expect(a.sharedSignOuts).toBe('test');
    const s = await a.createSession({ name: 'alice', role: 'operator' });
    const ended: string[] = [];
    b.onSessionEnd((id, why) => ended.push(`${id}:${why}`));
    expect(await b.authenticate(withCookie(s.cookie))).toMatchObject({ name: 'alice' });
    // Signed out on a: published; b hears of it (its follower is the last one started).
    await a.signOut(withCookie(s.cookie));
    expect(published).toEqual([s.id]);
    follow!(new Map([[s.id, Date.now() + 60_000]]));
    expect(ended).toEqual([`${s.id}:signed out`]);
    expect(await b.authenticate(withCookie(s.cookie))).toBeNull();
    // A sign-out that cannot be shared still holds here, and says why it was not shared.
    const t = await b.createSession({ name: 'alice', role: 'operator' });
    await b.signOut(withCookie(t.cookie));
    expect(await b.authenticate(withCookie(t.cookie))).toBeNull();
    expect(errors).toEqual(['sign-out not shared through test: 403 Permission denied']);
  });

  it('never throws on any cookie header, and never takes garbage for a session', async () => {
    const auth = new Authenticator({ users, anonymousRole: 'viewer', sessionSecret: secret });
    const { cookie, id } = await auth.createSession({ name: 'alice', role: 'operator' });
    const b64 = fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/);
    const header = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }).map((v) => `sb_session=${v}`),
      fc.array(b64, { minLength: 1, maxLength: 7 }).map((parts) => `sb_session=${parts.join('.')}`),
      // The real cookie with bytes changed, cut or appended.
      fc.tuple(fc.nat(cookie.length - 1), fc.string({ maxLength: 3 }), fc.boolean()).map(([at, s, cut]) => `sb_session=${cookie.slice(0, at)}${s}${cut ? '' : cookie.slice(at + 1)}`),
    );
    await fc.assert(
      fc.asyncProperty(header, fc.option(fc.string({ maxLength: 40 })), async (h, csrf) => {
        const req = { headers: { cookie: h, ...(csrf === null ? {} : { 'x-csrf-token': csrf }) } };
        const who = await auth.authenticate(req);
        // Anything accepted decodes to exactly the session issued (base64url's unused low bits
        // in a part's last character can change without changing a byte); nothing else is.
        expect([{ name: 'anonymous', role: 'viewer', via: 'anonymous' }, { name: 'alice', role: 'operator', via: 'session', sessionId: id }]).toContainEqual(who);
        expect(typeof (await auth.csrfOk(req))).toBe('boolean');
        expect(readCookie(h, 'sb_session') === null || typeof readCookie(h, 'sb_session') === 'string').toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
