/**
 * Test helper: a real Consul 1.8.7 dev agent (in-memory state) on free loopback ports, with
 * small HTTP helpers for the writes tests need. Every agent started here is killed on
 * `stop()`, and as a last resort when the test process exits.
 *
 * @example
 *   const agent = await startConsulAgent({ datacenter: 'dc1' });
 *   afterAll(() => agent.stop());
 *   await agent.registerService({ ID: 'web-1', Name: 'web', Port: 80, Check: { CheckID: 'web-1-ttl', TTL: '10m' } });
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { spawnTestProcess, type TestProcess } from './testProcess';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ConsulAgentOptions {
  /** @default 'dc1' */
  datacenter?: string;
  /** Node name; distinct names keep two agents apart in WAN listings. @default `node-${datacenter}` */
  node?: string;
  /** Consul's own log level (its output is kept in memory for error messages). @default 'warn' */
  logLevel?: string;
  /** How long to wait for a leader. @default 30_000 */
  startTimeoutMs?: number;
  /** Extra `-hcl` snippets, e.g. `limits { http_max_conns_per_client = 500 }`. @default [] */
  hcl?: string[];
  /** Token the harness's own requests carry (for agents started with ACLs on). @default none */
  aclToken?: string;
}

export interface ConsulPorts {
  http: number;
  dns: number;
  serfLan: number;
  serfWan: number;
  server: number;
}

/** The subset of an agent service registration the tests use (Consul's field names). */
export interface ServiceRegistration {
  ID?: string;
  Name: string;
  Tags?: string[];
  Address?: string;
  Port?: number;
  Meta?: Record<string, string>;
  Check?: Record<string, unknown>;
  Checks?: Record<string, unknown>[];
}

export interface ConsulAgent {
  readonly datacenter: string;
  readonly node: string;
  readonly ports: ConsulPorts;
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly httpAddr: string;
  /** `127.0.0.1:<serf wan port>`, what `consul join -wan` takes. */
  readonly serfWanAddr: string;
  /** Joins this agent's WAN pool with `other`'s and waits until each lists the other's datacenter. */
  wanJoin(other: ConsulAgent): Promise<void>;
  registerService(def: ServiceRegistration): Promise<void>;
  deregister(serviceId: string): Promise<void>;
  passTtl(checkId: string, note?: string): Promise<void>;
  warnTtl(checkId: string, note?: string): Promise<void>;
  failTtl(checkId: string, note?: string): Promise<void>;
  /** PUT with a JSON body; throws with Consul's (text) error body on non-2xx. */
  put(path: string, body?: unknown): Promise<void>;
  /** Stops the agent (SIGTERM, then SIGKILL after 5 s); idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same ports. Dev mode is in-memory, so the state is gone. */
  restart(): Promise<void>;
  /** PID of the running agent process, or null while stopped (for RSS measurements). */
  pid(): number | null;
  /** Consul's recent output, for failure messages. */
  logs(): string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The Consul binary, installed on first use by scripts/install-consul.sh (cached under .cache/). */
export function consulBinary(): string {
  const script = resolve(import.meta.dirname, '..', '..', 'scripts', 'install-consul.sh');
  return execFileSync('bash', [script], { encoding: 'utf8' }).trim().split('\n').pop()!;
}

/** Ports picked by binding 0 and releasing, all held until every one is known so they differ. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((ok, fail) => {
      const s = createServer();
      s.once('error', fail);
      s.listen(0, '127.0.0.1', () => ok(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

export async function startConsulAgent(options: ConsulAgentOptions = {}): Promise<ConsulAgent> {
  const datacenter = options.datacenter ?? 'dc1';
  const node = options.node ?? `node-${datacenter}`;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const bin = consulBinary();
  const [http, dns, serfLan, serfWan, server] = (await freePorts(5)) as [number, number, number, number, number];
  const ports: ConsulPorts = { http, dns, serfLan, serfWan, server };
  const httpAddr = `http://127.0.0.1:${http}`;
  const tokenHeader: Record<string, string> = options.aclToken ? { 'X-Consul-Token': options.aclToken } : {};
  const args = [
    'agent', '-dev', '-bind', '127.0.0.1', '-client', '127.0.0.1', '-datacenter', datacenter, '-node', node,
    '-http-port', String(http), '-dns-port', String(dns), '-serf-lan-port', String(serfLan),
    '-serf-wan-port', String(serfWan), '-server-port', String(server), '-grpc-port', '-1',
    '-log-level', options.logLevel ?? 'warn',
    ...(options.hcl ?? []).flatMap((h) => ['-hcl', h]),
  ];

  let child: ChildProcess | null = null;
  /** The latest launch (its output stays readable after it stops). */
  let last: TestProcess | null = null;
  const logs = () => last?.logs() ?? '';

  async function launch(): Promise<void> {
    last = spawnTestProcess(bin, args);
    const c = last.child;
    child = c;
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`consul (${datacenter}) exited during start:\n${logs()}`);
      try {
        const r = await fetch(`${httpAddr}/v1/status/leader`);
        if (r.ok && (await r.text()).replace(/"/g, '').length > 0) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await halt();
        throw new Error(`consul (${datacenter}) had no leader after ${startTimeoutMs} ms:\n${logs()}`);
      }
      await sleep(100);
    }
    // The agent registers its own node (and serfHealth) shortly after the election; wait so
    // tests start from a settled catalog.
    for (;;) {
      const r = await fetch(`${httpAddr}/v1/health/node/${encodeURIComponent(node)}`, { headers: tokenHeader });
      const body = (await r.json()) as unknown[];
      if (r.ok && body.length > 0) break;
      if (Date.now() > deadline) {
        await halt();
        throw new Error(`consul (${datacenter}) never registered its node:\n${logs()}`);
      }
      await sleep(100);
    }
  }

  async function halt(): Promise<void> {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((ok) => c.once('exit', () => ok()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  async function put(path: string, body?: unknown): Promise<void> {
    const r = await fetch(`${httpAddr}${path}`, { method: 'PUT', headers: tokenHeader, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`PUT ${path} → ${r.status}: ${text}`);
  }

  const ttl = (verb: 'pass' | 'warn' | 'fail') => (checkId: string, note?: string) =>
    put(`/v1/agent/check/${verb}/${encodeURIComponent(checkId)}${note === undefined ? '' : `?note=${encodeURIComponent(note)}`}`);

  await launch();

  const agent: ConsulAgent = {
    datacenter,
    node,
    ports,
    httpAddr,
    pid: () => child?.pid ?? null,
    serfWanAddr: `127.0.0.1:${serfWan}`,
    async wanJoin(other) {
      await put(`/v1/agent/join/${encodeURIComponent(other.serfWanAddr)}?wan=1`);
      const deadline = Date.now() + 30_000;
      for (;;) {
        const [a, b] = await Promise.all([datacenters(httpAddr), datacenters(other.httpAddr)]);
        if (a.includes(other.datacenter) && b.includes(datacenter)) return;
        if (Date.now() > deadline) throw new Error(`WAN join ${datacenter}↔${other.datacenter} did not converge (${a} / ${b})`);
        await sleep(100);
      }
    },
    registerService: (def) => put('/v1/agent/service/register', def),
    deregister: (id) => put(`/v1/agent/service/deregister/${encodeURIComponent(id)}`),
    passTtl: ttl('pass'),
    warnTtl: ttl('warn'),
    failTtl: ttl('fail'),
    put,
    stop: halt,
    async restart() {
      await halt();
      await launch();
    },
    logs,
    [Symbol.asyncDispose]: halt,
  };
  return agent;
}

async function datacenters(httpAddr: string): Promise<string[]> {
  const r = await fetch(`${httpAddr}/v1/catalog/datacenters`);
  return r.ok ? ((await r.json()) as string[]) : [];
}
