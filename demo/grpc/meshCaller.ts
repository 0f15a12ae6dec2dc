/**
 * The demo's gRPC client: order's mesh side, run as its own process by the demo fleet. It dials
 * `xds:///payment-grpc` with @grpc/grpc-js-xds — Switchboard is its xDS control plane — and
 * calls Pay at a steady rate, counting every answer by instance and by colour (subset), so the
 * canary slider on payment-grpc's page visibly moves gRPC traffic:
 *
 *   GET /stats    {"target","nodeId","calls","ok","failed","byInstance","byColor",
 *                  "recent":{"calls","byColor","share"}}   (recent = the last 200 calls)
 *   GET /metrics  switchboard_demo_grpc_calls_total{target,instance,color,code} (Prometheus text)
 *
 * It registers itself as `order-grpc` (its HTTP port, readiness on /ready) so the stats can be
 * found like any service: `curl http://127.0.0.1:18500/v1/agent/services`.
 *
 * Config (set by demoFleet.ts): DEMO_REGISTRY, DEMO_XDS_PORT, DEMO_XDS_TOKEN (optional client
 * token, sent as node.metadata "switchboard.token"), DEMO_NODE_ID, DEMO_TARGET, DEMO_RPS.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { registerService } from '../../sdk/registration';
import { paymentPackage, type PayReply } from './paymentServer';

const env = z
  .object({
    DEMO_REGISTRY: z.url(),
    DEMO_XDS_PORT: z.coerce.number().int().min(1).max(65535),
    DEMO_XDS_TOKEN: z.string().default(''),
    DEMO_NODE_ID: z.string().min(1).default('order-grpc-1'),
    DEMO_TARGET: z.string().min(1).default('payment-grpc'),
    DEMO_RPS: z.coerce.number().min(0.1).max(1000).default(20),
  })
  .parse(process.env);

// The xDS bootstrap, before grpc-js-xds reads it: Switchboard on loopback, this node's id.
process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
  xds_servers: [{ server_uri: `127.0.0.1:${env.DEMO_XDS_PORT}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
  node: { id: env.DEMO_NODE_ID, cluster: 'order', locality: {}, metadata: env.DEMO_XDS_TOKEN ? { 'switchboard.token': env.DEMO_XDS_TOKEN } : {} },
});
const { register } = await import('@grpc/grpc-js-xds');
register();

const log = (event: string, fields: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ event, id: env.DEMO_NODE_ID, ...fields })}\n`);

const Payment = paymentPackage().switchboard.demo.Payment;
const client = new Payment(`xds:///${env.DEMO_TARGET}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
  Pay(req: { order_id: string }, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply?: PayReply) => void): void;
};

const RECENT = 200;
const stats = { calls: 0, ok: 0, failed: 0, byInstance: {} as Record<string, number>, byColor: {} as Record<string, number>, lastError: null as string | null };
/** instance|color|code → count, for /metrics. */
const series = new Map<string, number>();
const recent: string[] = [];
const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);

let n = 0;
function call(): void {
  client.Pay({ order_id: String(++n) }, { deadline: Date.now() + 5000 }, (err, reply) => {
    stats.calls++;
    const code = err ? grpc.status[err.code] ?? String(err.code) : 'OK';
    const instance = reply?.instance_id ?? '';
    const color = reply?.color || (err ? '' : 'none');
    if (err) {
      stats.failed++;
      stats.lastError = `${code}: ${err.details}`;
    } else {
      stats.ok++;
      bump(stats.byInstance, instance);
      bump(stats.byColor, color);
    }
    const key = `${instance}|${color}|${code}`;
    series.set(key, (series.get(key) ?? 0) + 1);
    recent.push(err ? `!${code}` : color);
    if (recent.length > RECENT) recent.shift();
  });
}
const ticker = setInterval(call, 1000 / env.DEMO_RPS);

function recentView() {
  const byColor: Record<string, number> = {};
  for (const c of recent) bump(byColor, c);
  const share = Object.fromEntries(Object.entries(byColor).map(([k, v]) => [k, Math.round((v / recent.length) * 1000) / 1000]));
  return { calls: recent.length, byColor, share };
}

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
function metrics(): string {
  const lines = ['# HELP switchboard_demo_grpc_calls_total Pay calls over xDS by answering instance, its colour and the gRPC status.', '# TYPE switchboard_demo_grpc_calls_total counter'];
  for (const [key, v] of series) {
    const [instance, color, code] = key.split('|');
    lines.push(`switchboard_demo_grpc_calls_total{target="${label(env.DEMO_TARGET)}",instance="${label(instance!)}",color="${label(color!)}",code="${label(code!)}"} ${v}`);
  }
  return `${lines.join('\n')}\n`;
}

let stopping = false;
const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/stats') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ target: env.DEMO_TARGET, nodeId: env.DEMO_NODE_ID, ...stats, recent: recentView() }));
  if (path === '/metrics') return res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics());
  if (path === '/live') return res.writeHead(200).end('{"live":true}');
  if (path === '/ready') return res.writeHead(stopping ? 503 : 200).end(JSON.stringify({ ready: !stopping }));
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${path}` }));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;

const registration = await registerService({
  registry: env.DEMO_REGISTRY,
  name: 'order-grpc',
  id: env.DEMO_NODE_ID,
  port,
  tags: ['xds-client'],
  meta: { version: '1.0.0', xds_node: env.DEMO_NODE_ID, calls: env.DEMO_TARGET },
  readiness: { http: `http://127.0.0.1:${port}/ready`, intervalMs: 1000, timeoutMs: 1000 },
  deregisterCriticalAfterMs: 60_000,
});
log('registered', { port });

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  await registration.deregister();
  client.close();
  server.closeAllConnections();
  server.close();
  log('stopped');
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
process.on('disconnect', () => void stop());
