/**
 * Real @grpc/grpc-js-xds clients for integration tests: each XdsCaller is a child process
 * running demo/grpc/xdsCaller.ts (one Pay call at a time against `xds:///<target>`), counting
 * which instance answered each call. A CallerGroup waits until every caller ACKed the versions
 * the control plane serves now, then samples a number of calls per caller: splits are asserted
 * with a tolerance over thousands of calls, never with timings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { XdsClientsResponse, XdsResourceType } from '../../protocol/xds';

const CALLER = fileURLToPath(new URL('../../demo/grpc/xdsCaller.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function until<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 30_000, explain?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${explain ? `\n${explain()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface XdsCallerOptions {
  nodeId: string;
  /** The control plane's xDS port (on 127.0.0.1). */
  xdsPort: number;
  /** What to dial: `xds:///<target>`. @default 'payment' */
  target?: string;
  /** A client (or admin) token, sent as node.metadata `switchboard.token`. */
  token?: string;
}

/** One @grpc/grpc-js-xds client process; counts which instance answered each call. */
export class XdsCaller {
  readonly nodeId: string;
  readonly child: ChildProcess;
  counts = new Map<string, number>();
  calls = 0;
  /** Failed calls after the first answer (before it the channel is still resolving). */
  readonly errors: string[] = [];
  private firstOk = false;

  constructor(options: XdsCallerOptions) {
    this.nodeId = options.nodeId;
    const bootstrap = {
      xds_servers: [{ server_uri: `127.0.0.1:${options.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: options.nodeId, locality: {}, metadata: options.token ? { 'switchboard.token': options.token } : {} },
    };
    this.child = spawn(process.execPath, ['--import', 'tsx', CALLER, options.target ?? 'payment'], { cwd: ROOT, env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) }, stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let r: { i?: string; e?: number; d?: string };
      try {
        r = JSON.parse(line);
      } catch {
        return;
      }
      if (r.i !== undefined) {
        this.firstOk = true;
        this.counts.set(r.i, (this.counts.get(r.i) ?? 0) + 1);
      } else if (this.firstOk) this.errors.push(`${r.e}: ${r.d}`);
      this.calls++;
    });
  }

  get answering(): boolean {
    return this.firstOk;
  }

  reset(): void {
    this.counts = new Map();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, 5000);
      this.child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** Anything that reports its xDS clients: XdsServer, or a control plane's `sb.xds`. */
export interface XdsClientsView {
  clients(): XdsClientsResponse;
}

export class CallerGroup {
  constructor(
    readonly callers: XdsCaller[],
    /** The xDS server the callers follow now (a restarted control plane has a new one). */
    public xds: () => XdsClientsView,
  ) {}

  static start(count: number, options: Omit<XdsCallerOptions, 'nodeId'> & { nodeIdPrefix: string }, xds: () => XdsClientsView): CallerGroup {
    const { nodeIdPrefix, ...rest } = options;
    return new CallerGroup(
      Array.from({ length: count }, (_, i) => new XdsCaller({ ...rest, nodeId: `${nodeIdPrefix}-${i + 1}` })),
      xds,
    );
  }

  /** Every caller answered at least once. */
  answering(timeoutMs = 60_000): Promise<true> {
    return until('first answers', () => this.callers.every((c) => c.answering), timeoutMs);
  }

  /** Every caller holds a stream to the current xDS server. */
  connected(timeoutMs = 60_000): Promise<true> {
    return until('every caller connected', () => this.callers.every((c) => this.xds().clients().clients.some((x) => x.nodeId === c.nodeId)), timeoutMs);
  }

  /** Every caller ACKed the current versions of `types` (what a weight, drain or health change moves). */
  synced(types: readonly XdsResourceType[] = ['route', 'endpoint'], timeoutMs = 30_000): Promise<true> {
    return until(
      'every caller to ACK the current versions',
      () => {
        const { versions, clients } = this.xds().clients();
        return this.callers.every((c) => {
          const subs = clients.find((x) => x.nodeId === c.nodeId)?.subscriptions ?? [];
          return types.every((t) => subs.find((s) => s.type === t)?.ackedVersion === versions[t]);
        });
      },
      timeoutMs,
      () => JSON.stringify(this.xds().clients(), null, 1),
    );
  }

  /**
   * After the callers applied the change (`synced`; a few calls in flight may predate it, so
   * 20 are skipped), `perCaller` calls from each, summed per answering instance.
   */
  async sample(perCaller: number, options: { sync?: boolean } = {}): Promise<Map<string, number>> {
    if (options.sync !== false) await this.synced();
    const skip = this.callers.map((c) => c.calls + 20);
    await until('calls after the change', () => this.callers.every((c, i) => c.calls >= skip[i]!));
    for (const c of this.callers) c.reset();
    const start = this.callers.map((c) => c.calls);
    await until(`${perCaller} calls per caller`, () => this.callers.every((c, i) => c.calls - start[i]! >= perCaller), 120_000);
    const total = new Map<string, number>();
    for (const c of this.callers) for (const [k, v] of c.counts) total.set(k, (total.get(k) ?? 0) + v);
    return total;
  }

  errors(): string[] {
    return this.callers.flatMap((c) => c.errors.map((e) => `${c.nodeId}: ${e}`));
  }

  stop(): Promise<unknown> {
    return Promise.all(this.callers.map((c) => c.stop()));
  }
}

/** The share of calls answered by instances matching `which` (a prefix or a predicate). */
export function share(counts: Map<string, number>, which: string | ((instance: string) => boolean)): number {
  const match = typeof which === 'string' ? (k: string) => k.startsWith(which) : which;
  let n = 0;
  let all = 0;
  for (const [k, v] of counts) {
    all += v;
    if (match(k)) n += v;
  }
  return all === 0 ? 0 : n / all;
}

export function total(counts: Map<string, number>): number {
  let all = 0;
  for (const v of counts.values()) all += v;
  return all;
}
