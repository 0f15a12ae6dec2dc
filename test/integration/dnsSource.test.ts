/**
 * The DNS source against real servers: bind9 with a dynamically updated zone (nsupdate adds and
 * removes SRV records; the source follows within the TTL), and real Consul 1.8.7's DNS
 * interface, whose UDP answers silently stop at 3 records — the source notices, asks over TCP,
 * shows all 5 and says why.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DnsSource } from '../../server/sources/dns/dnsSource';
import { TopologyStore } from '../../server/topology/topologyStore';
import { startBind, type BindServer } from '../support/bindServer';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';

function watch(source: DnsSource): TopologyStore {
  const store = new TopologyStore();
  store.addSource({ id: source.id, kind: source.kind, name: source.name, address: source.address });
  source.start((e) => store.apply(source.id, e));
  return store;
}

const ids = (store: TopologyStore, id: string) => (store.service(id)?.instances ?? []).map((i) => i.id).sort();

describe('DNS source against bind9 (dynamic updates with nsupdate)', () => {
  let bind: BindServer;
  let source: DnsSource;
  let store: TopologyStore;
  const SVC = 'legacy/dns/_payment._tcp.example.internal';

  beforeAll(async () => {
    bind = await startBind({
      zone: 'example.internal',
      ttl: 2,
      records: ['_payment._tcp IN SRV 10 60 9001 p1.example.internal.', 'p1 IN A 10.1.0.1', 'db IN A 10.1.0.9', 'db IN AAAA fd00::9'],
    });
    source = new DnsSource({
      name: 'legacy',
      servers: [`127.0.0.1:${bind.port}`],
      names: ['_payment._tcp.example.internal', 'db.example.internal', '_ledger._tcp.example.internal'],
      defaultPort: 5432,
      minTtlSeconds: 1,
      maxTtlSeconds: 30,
    });
    store = watch(source);
    await vi.waitFor(() => expect(store.source('legacy')?.state).toBe('ok'), { timeout: 10_000 });
  });

  afterAll(async () => {
    await source?.stop();
    await bind?.stop();
  });

  it('shows SRV targets with priority and weight, A names on the default port, health unknown, and the TTL window', () => {
    const svc = store.service(SVC)!;
    expect(svc.instances).toEqual([
      { id: '10.1.0.1:9001', address: '10.1.0.1', port: 9001, tags: [], meta: { srvPriority: '10', srvWeight: '60', srvTarget: 'p1.example.internal' }, node: 'p1.example.internal', health: 'unknown', checks: [] },
    ]);
    expect(svc.dns).toMatchObject({ recordTtl: 2, effectiveTtl: 2, transport: 'udp', note: null, rcode: 'NOERROR', server: `127.0.0.1:${bind.port}` });
    expect(ids(store, 'legacy/dns/db.example.internal')).toEqual(['10.1.0.9:5432', '[fd00::9]:5432']);
  });

  it('treats NXDOMAIN as a name with no instances, not an error', () => {
    const ledger = store.service('legacy/dns/_ledger._tcp.example.internal')!;
    expect(ledger.instances).toEqual([]);
    expect(ledger.dns?.rcode).toBe('NXDOMAIN');
    expect(store.source('legacy')).toMatchObject({ state: 'ok', lastError: null });
  });

  it('follows records added and removed with nsupdate within the TTL', async () => {
    await bind.update(['update add _payment._tcp.example.internal. 2 IN SRV 10 40 9002 p2.example.internal.', 'update add p2.example.internal. 2 IN A 10.1.0.2']);
    await vi.waitFor(() => expect(ids(store, SVC)).toEqual(['10.1.0.1:9001', '10.1.0.2:9002']), { timeout: 10_000 });
    await bind.update(['update delete _payment._tcp.example.internal. IN SRV 10 60 9001 p1.example.internal.']);
    await vi.waitFor(() => expect(ids(store, SVC)).toEqual(['10.1.0.2:9002']), { timeout: 10_000 });
  });

  it('keeps the last-known-good instances and goes stale when the server stops answering', async () => {
    await bind.stop();
    await vi.waitFor(() => expect(store.source('legacy')?.state).toBe('stale'), { timeout: 15_000 });
    expect(store.source('legacy')?.lastError).toContain('no answer over UDP');
    expect(ids(store, SVC)).toEqual(['10.1.0.2:9002']);
  });
});

describe('DNS source against real Consul 1.8.7 DNS', () => {
  let consul: ConsulAgent;
  let source: DnsSource;
  let store: TopologyStore;

  beforeAll(async () => {
    consul = await startConsulAgent({ hcl: ['dns_config { service_ttl { "*" = "3s" } }'] });
    for (let n = 1; n <= 5; n++) await consul.registerService({ ID: `web-${n}`, Name: 'web', Address: `10.0.0.${n}`, Port: 8000 + n });
    source = new DnsSource({ name: 'consul-dns', servers: [`127.0.0.1:${consul.ports.dns}`], names: ['_web._tcp.service.consul', 'web.service.consul'], defaultPort: 80, minTtlSeconds: 1, maxTtlSeconds: 30 });
    store = watch(source);
    await vi.waitFor(() => expect(store.source('consul-dns')?.state).toBe('ok'), { timeout: 10_000 });
  });

  afterAll(async () => {
    await source?.stop();
    await consul?.stop();
  });

  it('sees all 5 instances where Consul’s UDP answer holds 3 without TC, and says it used TCP', async () => {
    await vi.waitFor(() => expect(store.service('consul-dns/dns/_web._tcp.service.consul')?.instances).toHaveLength(5), { timeout: 10_000 });
    const srv = store.service('consul-dns/dns/_web._tcp.service.consul')!;
    expect(srv.instances.map((i) => i.id).sort()).toEqual([1, 2, 3, 4, 5].map((n) => `10.0.0.${n}:${8000 + n}`));
    expect(srv.dns).toMatchObject({ transport: 'tcp', recordTtl: 3, effectiveTtl: 3 });
    expect(srv.dns?.note).toBe('UDP answer was partial (3 of 5 records, no TC bit); resolved over TCP');
    const a = store.service('consul-dns/dns/web.service.consul')!;
    expect(a.instances.map((i) => i.address).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
  });

  it('follows a deregistration on the next TTL', async () => {
    await consul.deregister('web-5');
    await vi.waitFor(() => expect(store.service('consul-dns/dns/_web._tcp.service.consul')?.instances).toHaveLength(4), { timeout: 10_000 });
  });
});
