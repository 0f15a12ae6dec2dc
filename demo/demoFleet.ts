/**
 * The demo fleet: real HTTP services in child processes that register themselves with the
 * registry like production services (order → inventory + payment; payment ×3 blue, ×2 green).
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
  /** @default 30_000 */
  startTimeoutMs?: number;
  /**
   * What the green payment instances (the release a rollout moves traffic to) do: a good, a
   * failing or a slow release. Also `POST /fault {"release":"failing"}` on an instance at run time.
   * @default env DEMO_GREEN_RELEASE, else 'good'
   */
  greenRelease?: DemoRelease;
  /** Where the services' SDK clients report breakers and counters (a control plane and a client token). */
  report?: { url: string; token: string };
  onLog?: (line: Record<string, unknown>) => void;
}

const serviceFile = resolve(import.meta.dirname, 'demoService.ts');
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
  try {
    const instances = await Promise.all(
      (options.specs ?? DEMO_FLEET).map(
        (spec) =>
          new Promise<DemoInstance>((ok, fail) => {
            const child = spawn(process.execPath, ['--import', tsxLoader, serviceFile], {
              env: {
                ...process.env,
                DEMO_NAME: spec.name,
                DEMO_ID: spec.id,
                DEMO_TAGS: spec.tags.join(','),
                DEMO_COLOR: spec.color ?? '',
                DEMO_REGISTRY: options.registryAddr,
                DEMO_DOWNSTREAM: (spec.downstream ?? []).join(','),
                DEMO_REPORT_URL: options.report?.url ?? '',
                DEMO_REPORT_TOKEN: options.report?.token ?? '',
                DEMO_RELEASE: spec.release ?? (spec.color === 'green' ? green : 'good'),
              },
              // IPC lets the child notice if we die without stopping it.
              stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
            });
            children.push(child);
            const timer = setTimeout(() => fail(new Error(`demo ${spec.id} did not register within ${options.startTimeoutMs ?? 30_000} ms`)), options.startTimeoutMs ?? 30_000);
            child.once('exit', (code) => fail(new Error(`demo ${spec.id} exited (${code}) before registering`)));
            createInterface({ input: child.stdout! }).on('line', (line) => {
              let msg: Record<string, unknown>;
              try {
                msg = JSON.parse(line);
              } catch {
                return;
              }
              options.onLog?.(msg);
              if (msg.event === 'registered') {
                clearTimeout(timer);
                const port = Number(msg.port);
                ok({ id: spec.id, name: spec.name, port, tags: spec.tags, url: `http://127.0.0.1:${port}`, pid: child.pid! });
              }
            });
          }),
      ),
    );
    return { instances, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
