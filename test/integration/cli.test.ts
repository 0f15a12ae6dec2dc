/**
 * The `switchboard traffic …` CLI as a pipeline runs it: a child process (bin/switchboard.mjs)
 * against a real control plane with the embedded registry, checking output and exit codes.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Switchboard } from '../../server/switchboard';
import { startControlPlane } from '../support/controlPlane';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'switchboard.mjs');
let sb: Switchboard;
let base: string;
let registry: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, SWITCHBOARD_URL: base, SWITCHBOARD_TOKEN: 'ops-token', ...env } }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  ({ sb, base, registry } = await startControlPlane({ anonymousRole: null, users: [{ name: 'ci', role: 'operator', token: 'ops-token' }, { name: 'vic', role: 'viewer', token: 'vic-token' }] }));
  for (const [id, tag, check] of [['p1', 'blue', 'passing'], ['p2', 'green', 'passing'], ['p3', 'green', 'passing']]) {
    await fetch(`${registry}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ Name: 'payment', ID: id, Port: 9000, Tags: [tag], Check: { CheckID: `${id}-ttl`, TTL: '10m', Status: check } }) });
  }
  await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances).toHaveLength(3), { timeout: 15_000 });
});

afterAll(async () => {
  await sb?.close();
});

describe('switchboard traffic CLI', () => {
  it('sets a canary by service name and shows it', async () => {
    const set = await cli(['traffic', 'set', 'payment', 'blue=90', 'green=10', '--reason', 'canary from CI']);
    // The service has no policy yet, so subsets must come from somewhere: the API says which.
    expect(set.code).toBe(2);
    expect(set.stderr).toContain('subsets: the service has no policy yet');

    expect((await fetch(`${base}/api/services/embedded/dc1/payment/traffic/enable`, { method: 'POST', headers: { authorization: 'Bearer ops-token' } })).status).toBe(200);
    const ok = await cli(['traffic', 'set', 'payment', 'blue=90', 'green=10', '--reason', 'canary from CI']);
    expect(ok).toMatchObject({ code: 0, stdout: 'embedded/dc1/payment: blue 90% / green 10%\n' });
    const get = await cli(['traffic', 'get', 'embedded/dc1/payment']);
    expect(get.code).toBe(0);
    expect(get.stdout).toContain('green         10%  tags green  2/2 passing');
    expect(get.stdout).toContain('by ci — canary from CI');
    const json = await cli(['traffic', 'get', 'payment', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ policy: { weights: { blue: 90, green: 10 } } });
  });

  it('flips, lists history and rolls back', async () => {
    expect(await cli(['traffic', 'flip', 'payment'])).toMatchObject({ code: 0, stdout: 'embedded/dc1/payment: flipped — blue 0% / green 100%\n' });
    const history = await cli(['traffic', 'history', 'payment', '--json']);
    const entries = JSON.parse(history.stdout) as { id: string; reason: string }[];
    expect(entries.map((e) => e.reason).slice(0, 2)).toEqual(['flip to green', 'canary from CI']);
    const human = await cli(['traffic', 'history', 'payment']);
    expect(human.stdout.split('\n')[0]).toContain('blue 90% / green 10% → blue 0% / green 100%  flip to green');
    const back = await cli(['traffic', 'rollback', 'payment', entries[1]!.id]);
    expect(back).toMatchObject({ code: 0, stdout: 'embedded/dc1/payment: rolled back — blue 90% / green 10%\n' });
  });

  it('gives exit codes a pipeline can branch on', async () => {
    const modifyIndex = ((await (await fetch(`${base}/api/services/embedded/dc1/payment/traffic`, { headers: { authorization: 'Bearer ops-token' } })).json()) as { modifyIndex: number }).modifyIndex;
    const conflict = await cli(['traffic', 'set', 'payment', 'blue=50', 'green=50', '--if-match', String(modifyIndex - 1)]);
    expect(conflict.code).toBe(4);
    expect(conflict.stderr).toContain('current policy: blue 90% / green 10% (by ci');

    const invalid = await cli(['traffic', 'set', 'payment', 'blue=50', 'green=40']);
    expect(invalid).toMatchObject({ code: 2, stderr: 'switchboard: weights: must sum to 100, got 90\n' });
    expect((await cli(['traffic', 'set', 'payment', 'blue=lots'])).stderr).toContain('"blue=lots" is not <subset>=<integer 0-100>');

    await fetch(`${registry}/v1/agent/check/fail/p1-ttl`, { method: 'PUT' });
    await vi.waitFor(() => expect(sb.store.service('embedded/dc1/payment')?.instances.find((i) => i.id.endsWith('/p1'))?.health).toBe('critical'), { timeout: 15_000 });
    await cli(['traffic', 'set', 'payment', 'blue=0', 'green=100']);
    const guarded = await cli(['traffic', 'set', 'payment', 'blue=100', 'green=0']);
    expect(guarded.code).toBe(5);
    expect(guarded.stderr).toContain('subset "blue" has no passing instance; set force');
    expect((await cli(['traffic', 'set', 'payment', 'blue=100', 'green=0', '--force'])).code).toBe(0);

    expect((await cli(['traffic', 'flip', 'payment'], { SWITCHBOARD_TOKEN: 'vic-token' })).code).toBe(3);
    expect((await cli(['traffic', 'get', 'payment'], { SWITCHBOARD_TOKEN: '' })).stderr).toContain('set SWITCHBOARD_TOKEN');
    expect((await cli(['traffic', 'get', 'nope'])).code).toBe(6);
    expect((await cli(['traffic', 'get', 'embedded/dc1/nope'])).code).toBe(6);
    expect((await cli(['traffic', 'explode', 'payment'])).code).toBe(2);
    const down = await cli(['traffic', 'get', 'payment'], { SWITCHBOARD_URL: 'http://127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach http://127.0.0.1:1');
  });
});
