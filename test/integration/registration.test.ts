/**
 * SDK registration against real Consul 1.8.7 and the embedded registry: readiness and liveness
 * as separate checks with DeregisterCriticalServiceAfter, retry while the registry is still
 * starting, and graceful shutdown (deregister first, then drain in-flight requests).
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedRegistry } from '../../registry/embeddedRegistry';
import { registerService } from '../../sdk/registration';
import { freePorts, startConsulAgent, type ConsulAgent } from '../support/consulAgent';

let consul: ConsulAgent;

async function service(handler: (res: import('node:http').ServerResponse) => void | Promise<void>): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/ready' || req.url === '/live') return void res.end('ok');
    void handler(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

beforeAll(async () => {
  consul = await startConsulAgent();
});

afterAll(async () => {
  await consul?.stop();
});

describe('registerService', () => {
  it('registers readiness and liveness as separate checks, both reaped after DeregisterCriticalServiceAfter', async () => {
    const { server, port } = await service((res) => void res.end('hi'));
    const reg = await registerService({
      registry: consul.httpAddr,
      name: 'ledger',
      port,
      tags: ['blue'],
      meta: { version: '2.1.0' },
      readiness: { http: `http://127.0.0.1:${port}/ready`, intervalMs: 1000 },
      liveness: { http: `http://127.0.0.1:${port}/live`, intervalMs: 1000 },
      deregisterCriticalAfterMs: 90_000,
    });
    expect(reg.id).toBe(`ledger-${port}`);
    await vi.waitFor(async () => {
      const checks = (await (await fetch(`${consul.httpAddr}/v1/health/checks/ledger`)).json()) as { Name: string; Status: string }[];
      expect(checks.map((c) => [c.Name, c.Status]).sort()).toEqual([['liveness', 'passing'], ['readiness', 'passing']]);
    }, { timeout: 10_000 });
    const agentChecks = (await (await fetch(`${consul.httpAddr}/v1/agent/checks`)).json()) as Record<string, { Name: string; Definition?: { DeregisterCriticalServiceAfterDuration?: string } }>;
    expect(Object.values(agentChecks).filter((c) => c.Name === 'readiness' || c.Name === 'liveness')).toHaveLength(2);
    const svc = ((await (await fetch(`${consul.httpAddr}/v1/agent/service/${reg.id}`)).json()) as { Tags: string[]; Meta: Record<string, string> });
    expect(svc).toMatchObject({ Tags: ['blue'], Meta: { version: '2.1.0' } });
    await reg.deregister();
    expect((await fetch(`${consul.httpAddr}/v1/agent/service/${reg.id}`)).status).toBe(404);
    server.close();
  });

  it('keeps retrying while the registry is not up yet, then registers', async () => {
    const [registryPort] = await freePorts(1);
    const { server, port } = await service((res) => void res.end('hi'));
    const retries: number[] = [];
    const pending = registerService({
      registry: `http://127.0.0.1:${registryPort}`,
      name: 'late',
      port,
      readiness: { http: `http://127.0.0.1:${port}/ready` },
      onRetry: (_e, attempt) => retries.push(attempt),
    });
    await vi.waitFor(() => expect(retries.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    const registry = await startEmbeddedRegistry({ dataDir: mkdtempSync(join(tmpdir(), 'sb-reg-')), httpPort: registryPort! });
    const reg = await pending;
    const listed = (await (await fetch(`${registry.httpAddr}/v1/agent/services`)).json()) as Record<string, unknown>;
    expect(Object.keys(listed)).toContain(reg.id);
    await registry.close();
    server.close();
  });

  it('refuses at once when the registry rejects the definition', async () => {
    // Consul validates meta keys (at most 128 characters).
    const meta = { ['k'.repeat(200)]: 'v' };
    await expect(registerService({ registry: consul.httpAddr, name: 'bad', port: 1, meta, readiness: { http: 'http://127.0.0.1:1/ready' } })).rejects.toThrow(/registry refused bad-1: HTTP 400: .*too long/i);
  });

  it('shuts down gracefully: deregisters first, lets the in-flight request finish, then exits', async () => {
    const events: string[] = [];
    const { server, port } = await service(async (res) => {
      await sleep(800);
      events.push('slow request done');
      res.end('done');
    });
    const reg = await registerService({ registry: consul.httpAddr, name: 'drainer', port, readiness: { http: `http://127.0.0.1:${port}/ready` } });
    let exited: boolean | null = null;
    reg.shutdownGracefully(server, {
      signals: ['SIGUSR2'],
      onDraining: () => events.push('deregistered, draining'),
      exit: (clean) => {
        events.push('exit');
        exited = clean;
      },
    });
    const slow = fetch(`http://127.0.0.1:${port}/work`).then((r) => r.text());
    await sleep(100);
    process.emit('SIGUSR2', 'SIGUSR2');
    await vi.waitFor(async () => expect((await fetch(`${consul.httpAddr}/v1/agent/service/${reg.id}`)).status).toBe(404), { timeout: 5_000 });
    expect(await slow).toBe('done');
    await vi.waitFor(() => expect(exited).toBe(true), { timeout: 5_000 });
    expect(events).toEqual(['deregistered, draining', 'slow request done', 'exit']);
    // No new connections once draining.
    await expect(fetch(`http://127.0.0.1:${port}/work`)).rejects.toThrow();
  });
});
