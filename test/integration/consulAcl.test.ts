/**
 * A real Consul with ACLs on (default deny): the source's token must be what grants
 * visibility. A good token sees everything, a wrong one is an error naming Consul's answer, and
 * none sees what Consul's anonymous policy allows (catalog reads filter silently).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConsulSource } from '../../server/sources/consul/consulSource';
import { TopologyStore } from '../../server/topology/topologyStore';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';

const MASTER = 'acl-master-token-for-tests';
const WAIT = { timeout: 20_000, interval: 50 };
let agent: ConsulAgent;
const running: ConsulSource[] = [];

beforeAll(async () => {
  agent = await startConsulAgent({
    datacenter: 'dc1',
    aclToken: MASTER,
    hcl: [`acl { enabled = true default_policy = "deny" enable_token_persistence = false tokens { master = "${MASTER}" agent = "${MASTER}" } }`],
  });
  await agent.registerService({ ID: 'vault-1', Name: 'vault', Port: 8200, Check: { CheckID: 'vault-1-ttl', TTL: '10m', Status: 'passing' } });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

afterAll(async () => {
  await agent?.stop();
});

function watch(token: string | null) {
  const source = new ConsulSource({ kind: 'consul', name: 'acl', address: agent.httpAddr, token, datacenters: ['dc1'] }, { waitMs: 5_000 });
  const store = new TopologyStore();
  store.addSource({ id: source.id, kind: source.kind, name: source.name, address: source.address });
  source.start((e) => store.apply(source.id, e));
  running.push(source);
  return store;
}

describe('Consul with ACLs', () => {
  it('sends the configured token as X-Consul-Token: a management token sees the service', async () => {
    const store = watch(MASTER);
    await vi.waitFor(() => expect(store.service('acl/dc1/vault')?.instances[0]?.health).toBe('passing'), WAIT);
    expect(store.source('acl')?.state).toBe('ok');
  });

  it('reports a token Consul does not know as down with Consul’s reason, never the token', async () => {
    const store = watch('not-a-real-token');
    await vi.waitFor(() => expect(store.source('acl')?.state).toBe('down'), WAIT);
    expect(store.source('acl')?.lastError).toMatch(/403.*ACL not found|ACL not found/);
    expect(JSON.stringify(store.snapshot())).not.toContain('not-a-real-token');
  });

  it('without a token sees only what the anonymous policy allows: nothing, silently', async () => {
    const store = watch(null);
    await vi.waitFor(() => expect(store.source('acl')?.state).toBe('ok'), WAIT);
    expect(store.service('acl/dc1/vault')).toBeUndefined();
  });
});
