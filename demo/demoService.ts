/**
 * One demo microservice, run as its own process by the demo fleet. It behaves like a
 * production service: registers through the SDK (sdk/registration.ts) with a deep readiness check
 * (/ready, distinct from /live), discovers its dependencies with the SDK's ServiceClient, and on
 * SIGTERM deregisters first, stops taking traffic, drains in-flight requests, then exits.
 *
 * Faults can be injected over HTTP (see README): errors, latency, failing readiness.
 * Config comes from the DEMO_* environment variables set by demoFleet.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { registerService } from '../sdk/registration';
import { createDiscovery } from '../sdk/discovery';
import { NoEndpointError } from '../sdk/serviceClient';
import { metricsHandler } from '../sdk/promMetrics';

const env = z
  .object({
    DEMO_NAME: z.string().min(1),
    DEMO_ID: z.string().min(1),
    DEMO_TAGS: z.string().default(''),
    DEMO_COLOR: z.string().default(''),
    DEMO_REGISTRY: z.url(),
    DEMO_DOWNSTREAM: z.string().default(''),
    DEMO_REPORT_URL: z.string().default(''),
    DEMO_REPORT_TOKEN: z.string().default(''),
    /** What kind of release this instance is (the rollout demo): good, failing (errors) or slow (latency). */
    DEMO_RELEASE: z.enum(['good', 'failing', 'slow']).default('good'),
  })
  .parse(process.env);

const Release = z.enum(['good', 'failing', 'slow']);
type Release = z.infer<typeof Release>;
/** A release's behaviour: failing answers a quarter of requests with 500, slow takes 800 ms (both stay ready). */
const RELEASES: Record<Release, { errorRate: number; latencyMs: number }> = { good: { errorRate: 0, latencyMs: 0 }, failing: { errorRate: 0.25, latencyMs: 0 }, slow: { errorRate: 0, latencyMs: 800 } };

const Fault = z
  .strictObject({
    errorRate: z.number().min(0).max(1).default(0),
    latencyMs: z.number().int().min(0).max(30_000).default(0),
    failReady: z.boolean().default(false),
    // `{ "release": "failing" }`: behave like a failing (or slow, or good) release from now on.
    release: Release.optional(),
  })
  .transform(({ release, ...f }) => (release ? { ...f, ...RELEASES[release] } : f));
type Fault = z.output<typeof Fault>;

const downstream = env.DEMO_DOWNSTREAM.split(',').filter(Boolean);
let fault: Fault = { ...RELEASES[env.DEMO_RELEASE], failReady: false };
let draining = false;
let inFlight = 0; // for /stats
let served = 0;
let received = 0;

const log = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ event, id: env.DEMO_ID, ...fields })}\n`);

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', connection: draining ? 'close' : 'keep-alive' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return JSON.parse(text || '{}');
}

// Dependencies are found the way the SDK finds them: a live watch of health and the traffic
// policy, so the demo's own calls follow a flip, a canary split or a drain like any client.
const report = env.DEMO_REPORT_URL && env.DEMO_REPORT_TOKEN ? { url: env.DEMO_REPORT_URL, token: env.DEMO_REPORT_TOKEN, caller: env.DEMO_ID } : undefined;
const serveMetrics = metricsHandler();
const discovery = createDiscovery({ registry: env.DEMO_REGISTRY, requestTimeoutMs: 5000, report });

async function work(res: ServerResponse): Promise<void> {
  received++;
  if (fault.latencyMs) await sleep(fault.latencyMs);
  if (Math.random() < fault.errorRate) return send(res, 500, { error: 'injected fault', id: env.DEMO_ID });
  const calls: Record<string, unknown> = {};
  for (const dep of downstream) {
    const r = await discovery.service(dep).request('/work').catch((err: Error) => err);
    if (r instanceof NoEndpointError) return send(res, 503, { error: r.message, id: env.DEMO_ID });
    if (r instanceof Error || !r.response.ok) return send(res, 502, { error: `${dep} failed`, status: r instanceof Error ? 0 : r.response.status, id: env.DEMO_ID });
    calls[dep] = await r.response.json();
  }
  served++;
  send(res, 200, { id: env.DEMO_ID, service: env.DEMO_NAME, color: env.DEMO_COLOR || undefined, calls });
}

const server = createServer((req, res) => {
  inFlight++;
  res.once('close', () => inFlight--);
  void (async () => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    try {
      if (path === '/live') return send(res, 200, { live: true });
      // The SDK's request metrics and breaker states, for the Prometheus telemetry store.
      if (path === '/metrics') return await serveMetrics(req, res);
      if (path === '/ready') return fault.failReady || draining ? send(res, 503, { ready: false, draining }) : send(res, 200, { ready: true });
      if (path === '/work') return await work(res);
      if (path === '/fault' && req.method === 'GET') return send(res, 200, fault);
      if (path === '/fault' && req.method === 'DELETE') {
        fault = { errorRate: 0, latencyMs: 0, failReady: false };
        log('fault-cleared');
        return send(res, 200, fault);
      }
      if (path === '/fault' && req.method === 'POST') {
        const parsed = Fault.safeParse(await readJson(req).catch(() => undefined));
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          return send(res, 400, { error: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` });
        }
        fault = parsed.data;
        log('fault-set', fault);
        return send(res, 200, fault);
      }
      if (path === '/stats') return send(res, 200, { received, served, inFlight });
      send(res, 404, { error: `no route ${path}` });
    } catch (err) {
      send(res, 500, { error: (err as Error).message });
    }
  })();
});

await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;

// Registered like a production service through the SDK: deep readiness (/ready) separate from
// liveness (/live), retries while the registry starts, and deregister → drain → exit on SIGTERM.
const registration = await registerService({
  registry: env.DEMO_REGISTRY,
  name: env.DEMO_NAME,
  id: env.DEMO_ID,
  port,
  tags: env.DEMO_TAGS.split(',').filter(Boolean),
  meta: { version: '1.0.0', ...(env.DEMO_COLOR ? { color: env.DEMO_COLOR } : {}) },
  readiness: { http: `http://127.0.0.1:${port}/ready`, intervalMs: 1000, timeoutMs: 1000 },
  liveness: { http: `http://127.0.0.1:${port}/live`, intervalMs: 5000, timeoutMs: 1000 },
  deregisterCriticalAfterMs: 60_000,
});
log('registered', { port });

registration.shutdownGracefully(server, {
  drainMs: 5000,
  onDraining: () => (draining = true),
  exit: (drainedCleanly) => {
    log('stopped', { drainedCleanly });
    process.exit(0);
  },
});
// The fleet talks to us over IPC; if it dies without telling us, leave rather than linger.
process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
