/**
 * The demo fleet: real HTTP services in child processes that register themselves with the
 * registry like production services (order → inventory + payment; payment ×3 blue, ×2 green).
 * With `mesh`, payment also speaks gRPC (`payment-grpc`, same colours) and order's xDS client
 * (`order-grpc`) calls it through Switchboard's xDS server.
 * `stop()` SIGTERMs them all (each deregisters and drains) and waits for every exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export interface DemoInstance {
  id: string;
  name: string;
  port: number;
  tags: string[];
  url: string;
  pid: number;
}

export interface DemoFleet {
  instances: DemoInstance[];
  stop(): Promise<void>;
}

interface Spec {
  name: string;
  id: string;
  tags: string[];
  color?: string;
  downstream?: string[];
  /** The rollout demo: what kind of release this instance is. @default 'good' */
  release?: DemoRelease;
}

/** good, failing (a quarter of requests fail) or slow (800 ms): what the green payment release does. */
export type DemoRelease = 'good' | 'failing' | 'slow';

/** What the default start runs. */
export const DEMO_FLEET: Spec[] = [
  { name: 'order', id: 'order-1', tags: ['v2'], downstream: ['inventory', 'payment'] },
  { name: 'order', id: 'order-2', tags: ['v2'], downstream: ['inventory', 'payment'] },
  { name: 'inventory', id: 'inventory-1', tags: ['v1'] },
  { name: 'inventory', id: 'inventory-2', tags: ['v1'] },
  ...[1, 2, 3].map((n) => ({ name: 'payment', id: `payment-${n}`, tags: ['blue'], color: 'blue' })),
  ...[4, 5].map((n) => ({ name: 'payment', id: `payment-${n}`, tags: ['green'], color: 'green' })),
];

export interface DemoFleetOptions {
  registryAddr: string;
  /** @default DEMO_FLEET */
  specs?: Spec[];
  /** @default 75_000 */
  startTimeoutMs?: number;
  /**
   * What the green payment instances (the release a rollout moves traffic to) do: a good, a
   * failing or a slow release. Also `POST /fault {"release":"failing"}` on an instance at run time.
   * @default env DEMO_GREEN_RELEASE, else 'good'
   */
  greenRelease?: DemoRelease;
  /** Where the services' SDK clients report breakers and counters (a control plane and a client token). */
  report?: { url: string; token: string };
  /**
   * The service-mesh demo (README "Service mesh"): payment's gRPC side (`payment-grpc`, the same
   * ×3 blue / ×2 green, demo/grpc/paymentGrpcService.ts) and order's xDS client of it
   * (`order-grpc`, demo/grpc/meshCaller.ts) following Switchboard's xDS server on `xdsPort`.
   */
  mesh?: { xdsPort: number; token?: string; rps?: number };
  onLog?: (line: Record<string, unknown>) => void;
}

const serviceFile = resolve(import.meta.dirname, 'demoService.ts');
const grpcServiceFile = resolve(import.meta.dirname, 'grpc', 'paymentGrpcService.ts');
const meshCallerFile = resolve(import.meta.dirname, 'grpc', 'meshCaller.ts');

/** payment's gRPC instances: the same colours as payment's. */
export const DEMO_GRPC_FLEET = [1, 2, 3, 4, 5].map((n) => ({ id: `payment-grpc-${n}`, color: n <= 3 ? 'blue' : 'green' }));
// Absolute, so children start whatever the current directory is.
const tsxLoader = import.meta.resolve('tsx');

export async function startDemoFleet(options: DemoFleetOptions): Promise<DemoFleet> {
  const children: ChildProcess[] = [];
  const env = process.env.DEMO_GREEN_RELEASE;
  const green: DemoRelease = options.greenRelease ?? (env === 'failing' || env === 'slow' ? env : 'good');
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((done) => {
            if (c.exitCode !== null || c.signalCode !== null) return done();
            c.once('exit', () => done());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 8000).unref();
          }),
      ),
    );
  };
  // Nine tsx processes starting at once on a loaded 2-core machine took more than 30 s in CI.
  const startTimeoutMs = options.startTimeoutMs ?? 75_000;
  /** Starts one demo process; resolves once it has announced `count` registrations on stdout. */
  const spawnDemo = (label: string, file: string, env: Record<string, string>, count: number, instance: (msg: Record<string, unknown>, pid: number) => DemoInstance) =>
    new Promise<DemoInstance[]>((ok, fail) => {
      // IPC lets the child notice if we die without stopping it.
      const child = spawn(process.execPath, ['--import', tsxLoader, file], { env: { ...process.env, DEMO_REGISTRY: options.registryAddr, ...env }, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
      children.push(child);
      const timer = setTimeout(() => fail(new Error(`demo ${label} did not register within ${startTimeoutMs} ms`)), startTimeoutMs);
      child.once('exit', (code) => fail(new Error(`demo ${label} exited (${code}) before registering`)));
      const up: DemoInstance[] = [];
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line);
        } catch {
          return;
        }
        options.onLog?.(msg);
        if (msg.event !== 'registered') return;
        up.push(instance(msg, child.pid!));
        if (up.length === count) {
          clearTimeout(timer);
          ok(up);
        }
      });
    });
  try {
    const instances = (
      await Promise.all(
        (options.specs ?? DEMO_FLEET).map((spec) =>
          spawnDemo(
            spec.id,
            serviceFile,
            {
              DEMO_NAME: spec.name,
              DEMO_ID: spec.id,
              DEMO_TAGS: spec.tags.join(','),
              DEMO_COLOR: spec.color ?? '',
              DEMO_DOWNSTREAM: (spec.downstream ?? []).join(','),
              DEMO_REPORT_URL: options.report?.url ?? '',
              DEMO_REPORT_TOKEN: options.report?.token ?? '',
              DEMO_RELEASE: spec.release ?? (spec.color === 'green' ? green : 'good'),
            },
            1,
            (msg, pid) => ({ id: spec.id, name: spec.name, port: Number(msg.port), tags: spec.tags, url: `http://127.0.0.1:${Number(msg.port)}`, pid }),
          ),
        ),
      )
    ).flat();
    if (options.mesh) {
      const spawnMesh = (file: string, name: string, tags: string[], count: number, extra: Record<string, string>) =>
        spawnDemo(name, file, extra, count, (msg, pid) => {
          const id = String(msg.id);
          return { id, name, port: Number(msg.port), tags: tags.length ? tags : [DEMO_GRPC_FLEET.find((g) => g.id === id)?.color ?? ''], url: `http://127.0.0.1:${Number(msg.port)}`, pid };
        });
      // The callers start once there is something to call, so their first calls already succeed.
      instances.push(...(await spawnMesh(grpcServiceFile, 'payment-grpc', [], DEMO_GRPC_FLEET.length, { DEMO_GRPC_INSTANCES: DEMO_GRPC_FLEET.map((g) => `${g.id}:${g.color}`).join(',') })));
      instances.push(
        ...(await spawnMesh(meshCallerFile, 'order-grpc', ['xds-client'], 1, {
          DEMO_XDS_PORT: String(options.mesh.xdsPort),
          DEMO_XDS_TOKEN: options.mesh.token ?? '',
          DEMO_NODE_ID: 'order-grpc-1',
          DEMO_TARGET: 'payment-grpc',
          DEMO_RPS: String(options.mesh.rps ?? 20),
        })),
      );
    }
    return { instances, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
