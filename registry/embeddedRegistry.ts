/**
 * The embedded, Consul-API-compatible registry: state + SQLite storage + health checker +
 * HTTP API (catalog, health, agent, KV, sessions and locks) on one loopback port. It is for one machine (the zero-config start and demos);
 * anyone who outgrows that points Switchboard at a real Consul by changing one address.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DnsZone } from './dnsAnswers';
import { HealthChecker } from './healthChecker';
import { startRegistryDns } from './registryDns';
import { createRegistryHandler } from './registryHttp';
import { RegistryState } from './registryState';
import { SessionTimers } from './registrySessions';
import { RegistryStorage } from './registryStorage';

export interface EmbeddedRegistryOptions {
  /** Where registry.db lives. */
  dataDir: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. Never Consul's 8500. */
  httpPort: number;
  /** @default 'dc1' */
  datacenter?: string;
  /** @default 'switchboard-embedded' */
  nodeName?: string;
  /** How often the checker looks for services to reap. @default 1000 */
  reapEveryMs?: number;
  /** UDP+TCP port of the DNS interface (0 picks a free one); null/undefined: no DNS. Never Consul's 8600. */
  dnsPort?: number | null;
  /** TTL of DNS answers, seconds. @default 0 (as Consul) */
  dnsTtlSeconds?: number;
  /**
   * Host names HTTP requests may be addressed to besides loopback (`localhost`, 127.0.0.0/8,
   * ::1) and the listen address; any other `Host` gets 403 (DNS-rebinding protection).
   * @default []
   */
  allowedHosts?: string[];
}

export interface EmbeddedRegistry {
  httpAddr: string;
  port: number;
  /** `127.0.0.1:<port>` of the DNS interface, if it runs. */
  dnsAddr: string | null;
  state: RegistryState;
  close(): Promise<void>;
}

export async function startEmbeddedRegistry(options: EmbeddedRegistryOptions): Promise<EmbeddedRegistry> {
  const host = options.host ?? '127.0.0.1';
  const storage = new RegistryStorage(options.dataDir);
  const state = new RegistryState(storage, storage.load());
  const checker = new HealthChecker(state, { reapEveryMs: options.reapEveryMs });
  const nodeName = options.nodeName ?? 'switchboard-embedded';
  // A stable node ID per data directory, shaped like Consul's UUIDs.
  const hex = createHash('sha256').update(options.dataDir).digest('hex');
  const node = {
    id: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`,
    name: nodeName,
    address: host,
    datacenter: options.datacenter ?? 'dc1',
  };
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.httpPort, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const sessionTimers = new SessionTimers(state);
  const handle = createRegistryHandler({ state, checker, node, leaderAddr: `${host}:${port}`, listenHost: host, port, allowedHosts: options.allowedHosts, sessionTimers });
  server.on('request', (req, res) => void handle(req, res));
  const dns =
    options.dnsPort === undefined || options.dnsPort === null
      ? null
      : await startRegistryDns({ host, port: options.dnsPort, zone: dnsZone(state, node, options.dnsTtlSeconds ?? 0) });
  return {
    httpAddr: `http://${host}:${port}`,
    port,
    dnsAddr: dns ? `${host}:${dns.port}` : null,
    state,
    async close() {
      await dns?.close();
      checker.stop();
      sessionTimers.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await storage.close();
    },
  };
}

/** The registry's passing instances as the DNS interface sees them: O(that service). */
function dnsZone(state: RegistryState, node: { name: string; address: string; datacenter: string }, ttl: number): DnsZone {
  return {
    datacenter: node.datacenter,
    nodeName: node.name,
    nodeAddress: node.address,
    ttl,
    instances(service) {
      return state
        .namesLike(service.toLowerCase())
        .flatMap((name) => state.instancesOf(name))
        .filter((s) => state.instancePassing(s.ID))
        .map((s) => ({ address: s.Address || node.address, port: s.Port, tags: s.Tags }));
    },
  };
}
