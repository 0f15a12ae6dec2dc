/** The real entry point refuses bad configuration before starting anything. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function start(config: string) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-config-'));
  const file = join(dir, 'switchboard.json');
  writeFileSync(file, config);
  return spawnSync(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    env: { ...process.env, SWITCHBOARD_CONFIG: file, PORT: '0' },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('server/index.ts with an invalid config', () => {
  it('exits 2 naming the field', () => {
    const r = start(JSON.stringify({ sources: [{ kind: 'consul', name: 'prod', address: 'ftp://x' }] }));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('sources[0].address');
  });

  it('exits 2 on a bad Kubernetes source, naming the field', () => {
    const r = start(JSON.stringify({ sources: [{ kind: 'kubernetes', name: 'k8s', namespaces: ['Not_A_Namespace'] }] }));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('sources[0].namespaces');
  });

  it('exits 2 on malformed JSON', () => {
    const r = start('{"sources": [');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('is not valid JSON');
  });
});
