import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedRegistry } from '../../registry/embeddedRegistry';
import { registryContract } from '../contract/registryContract';

registryContract('embedded registry', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-registry-'));
  const registry = await startEmbeddedRegistry({ dataDir, httpPort: 0 });
  return {
    httpAddr: registry.httpAddr,
    async stop() {
      await registry.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
