/**
 * python3-consul (Debian's package, installed by scripts/install-python-consul.sh) unchanged
 * against the embedded registry: KV, agent, catalog, health, sessions and locks. The same
 * script runs against a real Consul 1.8.7 agent; both must see the same things.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedRegistry, type EmbeddedRegistry } from '../../registry/embeddedRegistry';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const NODE = 'py-node';
let consul: ConsulAgent;
let embedded: EmbeddedRegistry;
let dataDir: string;

beforeAll(async () => {
  await run('bash', ['scripts/install-python-consul.sh'], { timeout: 300_000 });
  consul = await startConsulAgent({ datacenter: 'dc1', node: NODE });
  dataDir = mkdtempSync(join(tmpdir(), 'sb-py-'));
  embedded = await startEmbeddedRegistry({ dataDir, httpPort: 0, nodeName: NODE });
}, 320_000);

afterAll(async () => {
  await embedded?.close();
  await consul?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function script(httpAddr: string): Promise<Record<string, unknown>> {
  const url = new URL(httpAddr);
  const { stdout } = await run(PYTHON, ['test/support/pythonConsulClient.py', url.hostname, url.port], { timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('python3-consul against the embedded registry', () => {
  it('KV, agent, catalog, health, sessions and locks answer as real Consul 1.8.7 does', async () => {
    const ours = await script(embedded.httpAddr);
    expect(ours).toMatchObject({
      kv_get: { Value: 'one', Flags: 7, index_is_modify: true },
      kv_cas_stale: false,
      kv_cas_ok: true,
      kv_recurse: ['py/a', 'py/b'],
      kv_missing: null,
      agent_services: ['pysvc-1'],
      agent_checks: { 'service:pysvc-1': 'passing' },
      agent_self_node: NODE,
      agent_members: [NODE],
      catalog_nodes: [NODE],
      catalog_node_has_svc: true,
      catalog_service: [['pysvc-1', '10.1.1.1', 9000]],
      health_passing: ['pysvc-1'],
      health_checks: [['service:pysvc-1', 'passing', '']],
      ttl_pass_get: false,
      acquire: true,
      acquire_other: false,
      lock_entry: { Session_is_sid: true, LockIndex: 1 },
      release: true,
      acquire_other_after: true,
      destroy: true,
      info_after_destroy: null,
      deregister_get: false,
      after_deregister: ['pysvc-1'],
    });
    const real = await script(consul.httpAddr);
    expect(ours).toEqual(real);
  }, 120_000);
});
