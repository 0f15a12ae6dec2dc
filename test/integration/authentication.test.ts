/**
 * Who may do what, through a real control plane: password and token sign-in, the four roles,
 * the first-start admin credential (created once, only its hash kept, valid across restarts),
 * and stateless sessions (`session.secret`) that outlive a restart.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromRaw } from '../../server/config/loadConfig';
import { createLogger } from '../../server/log';
import { createSwitchboard, type Switchboard } from '../../server/switchboard';

const running: Switchboard[] = [];

async function start(raw: Record<string, unknown>): Promise<{ sb: Switchboard; base: string }> {
  const config = fromRaw({ listen: { host: '127.0.0.1', port: 0 }, ...raw }, { file: null, env: { PAT_PASSWORD: 'correct horse battery' }, cwd: process.cwd() });
  const sb = createSwitchboard({ config, logger: createLogger({ level: 'silent' }) });
  running.push(sb);
  return { sb, base: `http://127.0.0.1:${await sb.listen()}` };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((sb) => sb.close()));
});

const json = { 'content-type': 'application/json' };

describe('authentication and roles', () => {
  it('signs people in by password and scripts by token; each role sees what it may', async () => {
    const { base } = await start({
      dataDir: mkdtempSync(join(tmpdir(), 'sb-auth-')),
      auth: {
        anonymousRole: null,
        users: [
          { name: 'pat', role: 'operator', password: 'env:PAT_PASSWORD' },
          { name: 'root', role: 'admin', token: 'root-token' },
          { name: 'checkout', role: 'client', token: 'client-token' },
        ],
      },
    });
    // The sign-in page opens on the password form when some user has one.
    expect(await (await fetch(`${base}/api/session`)).json()).toMatchObject({ passwordSignIn: true });
    const wrong = await fetch(`${base}/api/session`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'pat', password: 'nope' }) });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'wrong name or password' });
    const malformed = await fetch(`${base}/api/session`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'pat' }) });
    expect(malformed.status).toBe(400);

    const ok = await fetch(`${base}/api/session`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'pat', password: 'correct horse battery' }) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).toMatch(/^sb_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    expect(await (await fetch(`${base}/api/session`, { headers: { cookie } })).json()).toMatchObject({ user: { name: 'pat', role: 'operator' } });

    // Nobody but an admin lists users; a client token cannot read the topology.
    const asPat = await fetch(`${base}/api/users`, { headers: { cookie } });
    expect(asPat.status).toBe(403);
    expect(((await asPat.json()) as { error: string }).error).toBe('role admin required for admin (you are pat, operator)');
    const asRoot = await fetch(`${base}/api/users`, { headers: { authorization: 'Bearer root-token' } });
    expect(await asRoot.json()).toEqual({
      users: [
        { name: 'pat', role: 'operator', token: false, password: true },
        { name: 'root', role: 'admin', token: true, password: false },
        { name: 'checkout', role: 'client', token: true, password: false },
      ],
    });
    expect((await fetch(`${base}/api/topology`, { headers: { authorization: 'Bearer client-token' } })).status).toBe(403);
    expect((await fetch(`${base}/api/topology`)).status).toBe(401);
  });

  it('creates an admin credential on first start when no users are configured, and keeps only its hash', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-auth-first-'));
    const first = await start({ dataDir });
    const credential = first.sb.firstStartCredential!;
    expect(credential.name).toBe('admin');
    expect(readFileSync(credential.file, 'utf8')).not.toContain(credential.token);
    const users = await fetch(`${first.base}/api/users`, { headers: { authorization: `Bearer ${credential.token}` } });
    expect(await users.json()).toEqual({ users: [{ name: 'admin', role: 'admin', token: true, password: false }] });
    // Read-only for anonymous callers on loopback, so the dashboard opens without signing in.
    expect((await fetch(`${first.base}/api/topology`)).status).toBe(200);
    // Only a token exists: the sign-in page opens on the token form.
    expect(await (await fetch(`${first.base}/api/session`)).json()).toMatchObject({ passwordSignIn: false });
    await first.sb.close();
    running.splice(running.indexOf(first.sb), 1);

    const second = await start({ dataDir });
    expect(second.sb.firstStartCredential).toBeNull();
    expect((await fetch(`${second.base}/api/users`, { headers: { authorization: `Bearer ${credential.token}` } })).status).toBe(200);
  });

  it('with session.secret, a browser stays signed in across a restart; without, a restart signs it out', async () => {
    const users = { anonymousRole: null, users: [{ name: 'pat', role: 'operator', password: 'env:PAT_PASSWORD' }] };
    const signIn = async (base: string) => {
      const res = await fetch(`${base}/api/session`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'pat', password: 'correct horse battery' }) });
      expect(res.status).toBe(200);
      return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrfToken: ((await res.json()) as { csrfToken: string }).csrfToken };
    };
    const whoAmI = async (base: string, cookie: string) => (await (await fetch(`${base}/api/session`, { headers: { cookie } })).json()) as { user: { name: string } | null; csrfToken: string | null };
    for (const secret of ['a-secret-of-at-least-thirty-two-bytes!!', null]) {
      const raw = { dataDir: mkdtempSync(join(tmpdir(), 'sb-auth-restart-')), auth: users, ...(secret ? { session: { secret } } : {}) };
      const first = await start(raw);
      const { cookie, csrfToken } = await signIn(first.base);
      await first.sb.close();
      running.splice(running.indexOf(first.sb), 1);
      const second = await start(raw);
      expect(await whoAmI(second.base, cookie)).toEqual(secret ? expect.objectContaining({ user: { name: 'pat', role: 'operator' }, csrfToken }) : expect.objectContaining({ user: null }));
    }
  });

  it('refuses a session.secret shorter than 32 bytes, naming the field', () => {
    expect(() => fromRaw({ session: { secret: 'hunter2' } }, { file: null, env: {}, cwd: '/' })).toThrow(/session\.secret: must be at least 32 bytes \(it is 7\)/);
    expect(() => fromRaw({ session: { secret: 'env:SB_SECRET' } }, { file: null, env: { SB_SECRET: 'short' }, cwd: '/' })).toThrow(/session\.secret: must be at least 32 bytes \(it is 5\)/);
    expect(fromRaw({ session: { secret: 'env:SB_SECRET' } }, { file: null, env: { SB_SECRET: 'x'.repeat(32) }, cwd: '/' }).session.secret).toBe('x'.repeat(32));
  });

  it('refuses config that gives a user neither token nor password, naming the field', () => {
    expect(() => fromRaw({ auth: { users: [{ name: 'x', role: 'operator' }] } }, { file: null, env: {}, cwd: '/' })).toThrow(/auth\.users\[0\]\.token: give a token or a password/);
    expect(() => fromRaw({ auth: { users: [{ name: 'x', role: 'boss', token: 't' }] } }, { file: null, env: {}, cwd: '/' })).toThrow(/auth\.users\[0\]\.role/);
  });
});
