/**
 * A whole control plane on port 0 with the embedded registry (HTTP and DNS on free ports) and
 * the given users, for integration tests that drive it over HTTP like a user would.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Role } from '../../server/config/configSchema';
import { fromRaw } from '../../server/config/loadConfig';
import { createLogger } from '../../server/log';
import { createSwitchboard, type Switchboard } from '../../server/switchboard';

export interface ControlPlane {
  sb: Switchboard;
  /** http://127.0.0.1:<port> */
  base: string;
  /** The embedded registry's HTTP address. */
  registry: string;
}

export async function startControlPlane(options: { users: { name: string; role: Role; token: string }[]; anonymousRole?: Role | null }): Promise<ControlPlane> {
  const config = fromRaw(
    {
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: mkdtempSync(join(tmpdir(), 'sb-test-')),
      embedded: { enabled: true, httpPort: 0, dnsPort: 0 },
      auth: { anonymousRole: options.anonymousRole ?? null, users: options.users },
    },
    { file: null, env: {}, cwd: process.cwd() },
  );
  const sb = createSwitchboard({ config, logger: createLogger({ level: 'silent' }) });
  const base = `http://127.0.0.1:${await sb.listen()}`;
  return { sb, base, registry: sb.store.source('embedded')!.address! };
}

/** A control plane from a raw config object (listen is forced to 127.0.0.1:0). */
export async function startFromConfig(raw: Record<string, unknown>): Promise<{ sb: Switchboard; base: string }> {
  const config = fromRaw({ dataDir: mkdtempSync(join(tmpdir(), 'sb-test-')), ...raw, listen: { host: '127.0.0.1', port: 0 } }, { file: null, env: {}, cwd: process.cwd() });
  const sb = createSwitchboard({ config, logger: createLogger({ level: 'silent' }) });
  return { sb, base: `http://127.0.0.1:${await sb.listen()}` };
}
