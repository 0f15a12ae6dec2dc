/**
 * Boot: config → sources → topology → realtime → Next request handler, on one port.
 * `--dev` runs Next in development mode (HMR); otherwise it serves the production build.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { preloadKubernetesClient } from '../clients/kubernetes/kubernetesClient';
import { ConfigError, loadConfig } from './config/loadConfig';
import { createLogger } from './log';
import { startConsulSourcesEarly } from './sources/earlySources';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

type NextHandle = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
type NextUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => Promise<void>;
let closeNext: () => unknown = () => undefined;

async function main(): Promise<void> {
  const logger = createLogger();
  // Last line of defence: a stray rejection or throw is logged and the control plane keeps
  // serving (every request path has its own handler; this catches what escapes timers and
  // event emitters). Startup failures still exit through main().catch below.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection (still serving)'));
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (still serving)'));
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const dev = process.argv.includes('--dev');
  // The registries are read first; Next (the pages) loads and prepares meanwhile: a large
  // registry's first sync and Next's start overlap instead of adding up. Pages wait for it,
  // the API and the WebSocket do not.
  let resolveNext!: (n: { handle: NextHandle; upgrade: NextUpgrade | undefined }) => void;
  let rejectNext!: (err: unknown) => void;
  const nextReady = new Promise<{ handle: NextHandle; upgrade: NextUpgrade | undefined }>((ok, fail) => ((resolveNext = ok), (rejectNext = fail)));
  nextReady.catch(() => undefined); // awaited below, after listen(): a failure still ends the start
  // The registries are asked first, then the rest of the server loads while they answer.
  const earlySources = startConsulSourcesEarly(config, logger);
  await earlySources.sent();
  // The Kubernetes client is loaded only when a Kubernetes registry is configured (1–1.5 s).
  if (config.kubernetesSources.length > 0) await preloadKubernetesClient();
  const { createSwitchboard } = await import('./switchboard');
  const switchboard = createSwitchboard({
    config,
    logger,
    earlySources,
    fallback: async (req, res) => (await nextReady).handle(req, res),
    fallbackUpgrade: dev ? (req, socket, head) => void nextReady.then((n) => n.upgrade?.(req, socket, head)) : undefined,
  });
  const port = await switchboard.listen();
  // Loading Next holds the event loop for a second or more: let the registries' first answers
  // (a large registry's summary) be handled first, for at most 3 s.
  for (const until = Date.now() + 3_000; !switchboard.store.allSourcesAttempted() && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
  try {
    const { default: next } = await import('next');
    const app = next({ dev, dir: root, hostname: config.listen.host, port: config.listen.port });
    await app.prepare();
    resolveNext({ handle: app.getRequestHandler(), upgrade: dev ? app.getUpgradeHandler() : undefined });
    closeNext = () => app.close?.();
  } catch (err) {
    rejectNext(err);
    throw err;
  }
  const url = `http://${config.listen.host}:${port}/`;
  logger.info({ url, config: config.file ?? '(none)' }, 'dashboard ready');
  const admin = switchboard.firstStartCredential;
  if (admin) {
    // Printed once, on stdout rather than in the log stream; only its hash is stored. The link
    // carries the token in the URL fragment, which browsers never send: it reaches no access log.
    process.stdout.write(
      `\n  Switchboard is running at ${url}\n  No users are configured, so an admin credential was created (shown only this once):\n\n` +
        `    Open this link to sign in as admin:\n\n    ${url}signin#token=${admin.token}\n\n` +
        `    admin token: ${admin.token}\n\n  (or paste the token at ${url}signin). Its hash is in ${admin.file}; delete that file to make a new one.\n\n`,
    );
  }

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void switchboard
      .close()
      .then(() => closeNext())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`switchboard: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
