/** Runs the embedded registry in its own process (for kill -9 tests and benchmarks). argv: dataDir [port] */
import { startEmbeddedRegistry } from '../../registry/embeddedRegistry';

const registry = await startEmbeddedRegistry({ dataDir: process.argv[2]!, httpPort: Number(process.argv[3] ?? 0) });
process.stdout.write(`${JSON.stringify({ httpAddr: registry.httpAddr, pid: process.pid })}\n`);
process.on('SIGTERM', () => void registry.close().then(() => process.exit(0)));
