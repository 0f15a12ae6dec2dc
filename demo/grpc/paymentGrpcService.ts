/**
 * The demo payment service's gRPC side, run as its own process by the demo fleet: one gRPC
 * Payment server per instance (payment.proto), each registered through the SDK as an instance
 * of `payment-grpc` with payment's blue/green tags, so Switchboard's traffic policy for
 * `payment-grpc` (the canary slider on its page) moves gRPC traffic over xDS.
 *
 * Why a service of its own: an xDS endpoint is an instance's registered address and port, and
 * payment's registered port speaks HTTP (the SDK's callers use it), so its gRPC port registers
 * as `payment-grpc`. The instances share this process to keep the demo light; each has its own
 * port, registration and readiness check (`GET /ready/<id>` on a small HTTP admin server, which
 * also takes `POST /fault/<id> {"failReady":true}` and `DELETE /fault/<id>`).
 *
 * Config (set by demoFleet.ts): DEMO_REGISTRY, DEMO_GRPC_INSTANCES = "id:color,id:color,…".
 * Prints one JSON line per instance when it is registered: {"event":"registered","id","port"}.
 * On SIGTERM: deregister every instance, then stop serving.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { registerService, type Registration } from '../../sdk/registration';
import { startPaymentServer, type PaymentServer } from './paymentServer';

export const GRPC_SERVICE = 'payment-grpc';

const env = z
  .object({
    DEMO_REGISTRY: z.url(),
    DEMO_GRPC_INSTANCES: z.string().min(1),
  })
  .parse(process.env);

const specs = env.DEMO_GRPC_INSTANCES.split(',').map((s) => {
  const [id, color] = s.split(':');
  return { id: id!, color: color ?? '' };
});

const log = (event: string, fields: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
const failing = new Set<string>();
const servers = new Map<string, PaymentServer>();
let stopping = false;

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return JSON.parse(text || '{}');
}

const admin = createServer((req, res) => {
  void (async () => {
    const [, route, id = ''] = new URL(req.url ?? '/', 'http://x').pathname.split('/');
    const known = specs.some((s) => s.id === id);
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (route === 'live') return send(200, { live: true });
    if (!known) return send(404, { error: `no instance ${id}` });
    if (route === 'ready') return failing.has(id) || stopping ? send(503, { ready: false }) : send(200, { ready: true });
    if (route === 'stats') return send(200, { id, calls: servers.get(id)?.calls ?? 0 });
    if (route === 'fault' && req.method === 'DELETE') {
      failing.delete(id);
      return send(200, { failReady: false });
    }
    if (route === 'fault' && req.method === 'POST') {
      const body = (await readJson(req).catch(() => null)) as { failReady?: unknown } | null;
      if (typeof body?.failReady !== 'boolean') return send(400, { error: 'failReady: expected a boolean' });
      if (body.failReady) failing.add(id);
      else failing.delete(id);
      return send(200, { failReady: body.failReady });
    }
    send(404, { error: `no route ${req.url}` });
  })();
});
await new Promise<void>((r) => admin.listen(0, '127.0.0.1', r));
const adminPort = (admin.address() as AddressInfo).port;

const registrations: Registration[] = [];
for (const spec of specs) {
  const server = await startPaymentServer({ instanceId: spec.id, color: spec.color });
  servers.set(spec.id, server);
  registrations.push(
    await registerService({
      registry: env.DEMO_REGISTRY,
      name: GRPC_SERVICE,
      id: spec.id,
      port: server.port,
      tags: spec.color ? [spec.color] : [],
      meta: { version: '1.0.0', protocol: 'grpc', ...(spec.color ? { color: spec.color } : {}) },
      readiness: { http: `http://127.0.0.1:${adminPort}/ready/${spec.id}`, intervalMs: 1000, timeoutMs: 1000 },
      liveness: { http: `http://127.0.0.1:${adminPort}/live`, intervalMs: 5000, timeoutMs: 1000 },
      deregisterCriticalAfterMs: 60_000,
    }),
  );
  log('registered', { id: spec.id, port: server.port, admin: adminPort });
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Deregistered first: xDS clients get the instance removed before it stops answering.
  await Promise.all(registrations.map((r) => r.deregister()));
  await Promise.all([...servers.values()].map((s) => s.close()));
  admin.closeAllConnections();
  admin.close();
  log('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
// The fleet talks to us over IPC; if it dies without telling us, leave rather than linger.
process.on('disconnect', () => void stop());
