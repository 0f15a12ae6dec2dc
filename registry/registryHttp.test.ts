import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedRegistry, type EmbeddedRegistry } from './embeddedRegistry';

let reg: EmbeddedRegistry;
let dir: string;

async function get(path: string, init?: RequestInit) {
  const r = await fetch(`${reg.httpAddr}${path}`, init);
  return { status: r.status, index: Number(r.headers.get('x-consul-index')), body: await r.text() };
}

async function put(path: string, body = '') {
  const r = await fetch(`${reg.httpAddr}${path}`, { method: 'PUT', body });
  await r.arrayBuffer();
  expect(r.status).toBe(200);
}

const q = (expr: string) => `filter=${encodeURIComponent(expr)}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-registry-http-'));
  reg = await startEmbeddedRegistry({ dataDir: dir, httpPort: 0 });
  // 400 instances of 20 services: the check list spans several blocks of 128.
  for (let i = 0; i < 400; i++) {
    reg.state.registerService(
      { ID: `i${i}`, Service: `s${i % 20}`, Tags: [i % 2 ? 'blue' : 'green'], Address: '', Port: 1000 + i, Meta: { zone: `z${i % 3}` }, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false },
      [{ CheckID: `i${i}-ttl`, Name: 'ttl', Notes: '', Status: 'passing', definition: { type: 'ttl', ttlMs: 600_000 } }],
    );
  }
  await reg.state.durable();
});

afterAll(async () => {
  await reg.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded registry HTTP: blocked ?filter= watchers', () => {
  it('wake with exactly the body a one-off read gives (per-block filter results reused between wakes)', async () => {
    const path = `/v1/health/state/any?${q('ServiceName == "s3" or Status == "critical"')}`;
    let seen = await get(path);
    expect(JSON.parse(seen.body)).toHaveLength(20);
    const critical = new Set<string>(); // outside s3
    for (const [verb, check] of [['fail', 'i103'], ['fail', 'i250'], ['pass', 'i103'], ['warn', 'i3'], ['pass', 'i250']] as const) {
      if (check === 'i250') {
        if (verb === 'fail') critical.add('i250-ttl');
        else critical.delete('i250-ttl');
      }
      const woken = get(`${path}&index=${seen.index}&wait=10s`);
      await vi.waitFor(() => expect(reg.state.waiterCount).toBe(1));
      await put(`/v1/agent/check/${verb}/${check}-ttl?note=${verb}`);
      seen = await woken;
      const oneOff = await get(path);
      expect(oneOff.index).toBe(seen.index);
      expect(seen.body).toBe(oneOff.body);
      const ids = (JSON.parse(seen.body) as { CheckID: string; Status: string; ServiceName: string }[]).filter((c) => c.ServiceName !== 's3').map((c) => c.CheckID);
      expect(ids).toEqual([...critical]);
    }
    // A re-registration with new tags reaches a filter on ServiceTags.
    const tagPath = `/v1/health/state/passing?${q('"red" in ServiceTags')}`;
    const before = await get(`${tagPath}&index=1&wait=1s`);
    expect(JSON.parse(before.body)).toEqual([]);
    const woken = get(`${tagPath}&index=${before.index}&wait=10s`);
    await vi.waitFor(() => expect(reg.state.waiterCount).toBe(1));
    await put('/v1/agent/service/register', JSON.stringify({ ID: 'i7', Name: 's7', Port: 1007, Tags: ['red'], Meta: { zone: 'z1' }, Check: { CheckID: 'i7-ttl', Name: 'ttl', TTL: '600s' } }));
    const after = await woken;
    expect((JSON.parse(after.body) as { CheckID: string; ServiceTags: string[] }[]).map((c) => [c.CheckID, c.ServiceTags])).toEqual([['i7-ttl', ['red']]]);
    expect(after.body).toBe((await get(tagPath)).body);
  });

  it('serves /catalog/node-services/:node?filter= to a blocked watcher like a one-off read', async () => {
    const node = (JSON.parse((await get('/v1/agent/self')).body) as { Config: { NodeName: string } }).Config.NodeName;
    const path = `/v1/catalog/node-services/${node}?${q('Meta.zone == "z2" and Port != 1002')}`;
    const first = await get(path);
    const woken = get(`${path}&index=${first.index}&wait=10s`);
    await vi.waitFor(() => expect(reg.state.waiterCount).toBe(1));
    await put('/v1/agent/service/register', JSON.stringify({ ID: 'i20', Name: 's0', Port: 1020, Meta: { zone: 'z2' } }));
    const after = await woken;
    expect(after.body).toBe((await get(path)).body);
    const services = (JSON.parse(after.body) as { Services: { ID: string; Port: number; Meta: { zone: string } }[] }).Services;
    expect(services.find((s) => s.ID === 'i20')).toMatchObject({ Port: 1020, Meta: { zone: 'z2' } });
    expect(services.every((s) => s.Meta.zone === 'z2' && s.Port !== 1002)).toBe(true);
    expect(services.find((s) => s.ID === 'i20')).not.toHaveProperty('Tags', ['green']); // the new registration, in its old place
    expect(services).toHaveLength(132); // i2, i5, … i398 but i2

  });

  it('answers a filter that does not compile with Consul’s 500 every time, and the next valid one normally', async () => {
    for (let i = 0; i < 2; i++) {
      const bad = await get(`/v1/health/state/any?${q('ServiceName ==')}&index=1&wait=1s`);
      expect(bad.status).toBe(500);
      expect(bad.body).toMatch(/^Failed to create boolean expression evaluator/);
    }
    const good = await get(`/v1/health/state/any?${q('CheckID == "i5-ttl"')}`);
    expect((JSON.parse(good.body) as { CheckID: string }[]).map((c) => c.CheckID)).toEqual(['i5-ttl']);
  });

  it('leaves no waiter behind when a blocked client goes away or is answered', async () => {
    const idx = (await get('/v1/internal/ui/services')).index;
    const abort = new AbortController();
    const gone = fetch(`${reg.httpAddr}/v1/internal/ui/services?index=${idx}&wait=30s`, { signal: abort.signal }).catch(() => 'aborted');
    await vi.waitFor(() => expect(reg.state.waiterCount).toBe(1));
    abort.abort();
    expect(await gone).toBe('aborted');
    await vi.waitFor(() => expect(reg.state.waiterCount).toBe(0));
    const woken = get(`/v1/internal/ui/services?index=${idx}&wait=30s`);
    await vi.waitFor(() => expect(reg.state.waiterCount).toBe(1));
    await put('/v1/agent/check/fail/i11-ttl');
    const after = await woken;
    expect(after.index).toBeGreaterThan(idx);
    expect((JSON.parse(after.body) as { Name: string; ChecksCritical: number }[]).find((e) => e.Name === 's11')?.ChecksCritical).toBe(1);
    expect(reg.state.waiterCount).toBe(0);
  });
});
