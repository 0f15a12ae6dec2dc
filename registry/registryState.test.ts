import { describe, expect, it } from 'vitest';
import { RegistryState, type RegistrationCheck } from './registryState';

const svc = (id: string, name = 'web', extra: Partial<{ Port: number; Tags: string[] }> = {}) => ({
  ID: id, Service: name, Tags: extra.Tags ?? [], Address: '', Port: extra.Port ?? 80, Meta: {}, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false,
});
const ttl = (id: string, status: RegistrationCheck['Status'] = 'critical', deregisterCriticalAfterMs?: number): RegistrationCheck => ({
  CheckID: id, Name: id, Notes: '', Status: status, definition: { type: 'ttl', ttlMs: 30_000, deregisterCriticalAfterMs },
});

describe('RegistryState index rules', () => {
  it('starts every index at 1 and moves only the indexes a change touches', () => {
    const s = new RegistryState();
    expect([s.servicesTableIndex(), s.checksTableIndex(), s.kvTableIndex(), s.serviceIndex('web')]).toEqual([1, 1, 1, 1]);
    s.registerService(svc('web-1'), [ttl('c1')]);
    const afterRegister = s.currentIndex;
    expect(s.servicesTableIndex()).toBe(afterRegister);
    expect(s.serviceIndex('web')).toBe(afterRegister);
    s.registerService(svc('api-1', 'api'), [ttl('c2')]);

    // A check flip moves checks and that service, never the service table (Consul: catalog/services ignores health).
    s.updateCheck('c1', 'passing', 'ok');
    expect(s.checksTableIndex()).toBe(s.currentIndex);
    expect(s.serviceIndex('web')).toBe(s.currentIndex);
    expect(s.servicesTableIndex()).toBeLessThan(s.currentIndex);
    expect(s.serviceIndex('api')).toBeLessThan(s.currentIndex);
  });

  it('does not move any index for writes that change nothing', () => {
    const s = new RegistryState();
    s.registerService(svc('web-1'), [ttl('c1', 'passing')]);
    const idx = s.currentIndex;
    s.registerService(svc('web-1'), [ttl('c1', 'passing')]);
    s.updateCheck('c1', 'passing', '');
    s.deregisterService('unknown');
    expect(s.currentIndex).toBe(idx);
  });

  it('keeps a TTL check’s status when the service is re-registered', () => {
    const s = new RegistryState();
    s.registerService(svc('web-1'), [ttl('c1')]);
    s.updateCheck('c1', 'passing', 'fine');
    s.registerService(svc('web-1', 'web', { Port: 81 }), [ttl('c1')]);
    expect(s.checks.get('c1')).toMatchObject({ Status: 'passing', Output: 'fine' });
    expect(s.services.get('web-1')?.Port).toBe(81);
  });

  it('implements KV CAS: 0 creates only, n must match ModifyIndex; a key’s index is its ModifyIndex', () => {
    const s = new RegistryState();
    expect(s.kvPut('a', new TextEncoder().encode('1'), 0, 0)).toBe(true);
    expect(s.kvPut('a', new TextEncoder().encode('2'), 0, 0)).toBe(false);
    const mi = s.kv.get('a')!.ModifyIndex;
    expect(s.kvKeyIndex('a')).toBe(mi);
    expect(s.kvPut('a', new TextEncoder().encode('3'), 0, mi + 100)).toBe(false);
    expect(s.kvPut('a', new TextEncoder().encode('3'), 0, mi)).toBe(true);
    expect(s.kv.get('a')!.CreateIndex).toBe(mi);
    expect(s.kvDelete('a', { cas: mi })).toBe(false);
    expect(s.kvDelete('a', { cas: s.kv.get('a')!.ModifyIndex })).toBe(true);
  });

  it('wakes a waiter only when its index passes the one it holds', async () => {
    const s = new RegistryState();
    s.registerService(svc('web-1'), [ttl('c1')]);
    s.registerService(svc('api-1', 'api'), [ttl('c2')]);
    let webWoke = false;
    const waiting = s.waitForChange(() => s.serviceIndex('web'), s.serviceIndex('web'), 60_000).then(() => (webWoke = true));
    s.updateCheck('c2', 'passing', '');
    await Promise.resolve();
    expect(webWoke).toBe(false);
    s.updateCheck('c1', 'passing', '');
    await waiting;
    expect(webWoke).toBe(true);
  });

  it('lets a wait be cancelled (a blocked query whose client went away) or aborted, leaving no waiter either way', async () => {
    const s = new RegistryState();
    s.registerService(svc('web-1'), [ttl('c1')]);
    const idx = s.checksTableIndex();
    const w = s.wait(s.checksTableIndex, idx, 60_000, ['checks']);
    const other = s.wait(s.checksTableIndex, idx, 60_000, ['checks']);
    expect(s.waiterCount).toBe(2);
    w.cancel();
    w.cancel();
    await w.done;
    expect(s.waiterCount).toBe(1);
    s.updateCheck('c1', 'passing', '');
    await other.done; // the other one is still woken by the change
    expect(s.waiterCount).toBe(0);
    // Already past the index: resolves at once, nothing registered.
    const past = s.wait(s.checksTableIndex, idx, 60_000, ['checks']);
    expect(s.waiterCount).toBe(0);
    await past.done;
    // The AbortSignal form.
    const abort = new AbortController();
    const aborted = s.waitForChange(s.checksTableIndex, s.checksTableIndex(), 60_000, abort.signal, ['checks']);
    expect(s.waiterCount).toBe(1);
    abort.abort();
    await aborted;
    expect(s.waiterCount).toBe(0);
  });

  it('reaps services critical longer than DeregisterCriticalServiceAfter, clamped to 1 minute like Consul', () => {
    let now = 1_000_000;
    const s = new RegistryState(undefined, undefined, () => now);
    s.registerService(svc('web-1'), [ttl('c1', 'critical', 10_000)]);
    s.registerService(svc('web-2'), [ttl('c2', 'critical')]);
    now += 30_000;
    expect(s.servicesToReap(now)).toEqual([]);
    now += 31_000;
    expect(s.servicesToReap(now)).toEqual(['web-1']);
    s.updateCheck('c1', 'passing', '');
    expect(s.servicesToReap(now)).toEqual([]);
  });
});
