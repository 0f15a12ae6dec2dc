/**
 * The embedded registry's DNS interface next to real Consul 1.8.7's, for the same
 * registrations, asked with `dig` (bind9-dnsutils) and Node's resolver: same records, same
 * health filtering and NXDOMAIN — and where Consul silently cuts a UDP answer at 3 records,
 * ours sets TC so clients retry over TCP and see all 5.
 */
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmbeddedRegistry, type EmbeddedRegistry } from '../../registry/embeddedRegistry';
import { startConsulAgent, type ConsulAgent } from '../support/consulAgent';

let consul: ConsulAgent;
let embedded: EmbeddedRegistry;
const targets: { name: string; http: string; dns: { host: string; port: number } }[] = [];

function dig(server: { host: string; port: number }, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('dig', [`@${server.host}`, '-p', String(server.port), '+time=2', '+tries=1', ...args], (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}

function resolver(server: { host: string; port: number }): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`${server.host}:${server.port}`]);
  return r;
}

async function register(http: string): Promise<void> {
  for (let n = 1; n <= 5; n++) {
    const body = { ID: `web-${n}`, Name: 'web', Address: `10.0.0.${n}`, Port: 8000 + n, Tags: n <= 2 ? ['blue'] : ['green'], Check: { CheckID: `web-${n}-ttl`, TTL: '10m', Status: 'passing' } };
    const r = await fetch(`${http}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify(body) });
    expect(r.status).toBe(200);
  }
  // A sixth instance that is critical: never in a DNS answer.
  await fetch(`${http}/v1/agent/service/register`, { method: 'PUT', body: JSON.stringify({ ID: 'web-6', Name: 'web', Address: '10.0.0.6', Port: 8006, Check: { CheckID: 'web-6-ttl', TTL: '10m', Status: 'critical' } }) });
}

beforeAll(async () => {
  consul = await startConsulAgent();
  embedded = await startEmbeddedRegistry({ dataDir: mkdtempSync(join(tmpdir(), 'sb-dns-')), httpPort: 0, dnsPort: 0, dnsTtlSeconds: 0 });
  targets.push({ name: 'Consul 1.8.7', http: consul.httpAddr, dns: { host: '127.0.0.1', port: consul.ports.dns } });
  targets.push({ name: 'embedded', http: embedded.httpAddr, dns: { host: '127.0.0.1', port: Number(embedded.dnsAddr!.split(':')[1]) } });
  for (const t of targets) await register(t.http);
  for (const t of targets) {
    await vi.waitFor(async () => expect((await dig(t.dns, '+tcp', '+short', 'web.service.consul', 'SRV')).trim().split('\n')).toHaveLength(5), { timeout: 10_000 });
  }
});

afterAll(async () => {
  await embedded?.close();
  await consul?.stop();
});

const srvSet = (out: string) => out.trim().split('\n').filter(Boolean).sort();

describe('embedded DNS interface vs Consul', () => {
  it('answers SRV over TCP with the same records as Consul (passing instances only)', async () => {
    const [c, e] = await Promise.all(targets.map((t) => dig(t.dns, '+tcp', '+short', 'web.service.consul', 'SRV')));
    expect(srvSet(e!)).toEqual(srvSet(c!));
    expect(srvSet(e!)).toEqual([1, 2, 3, 4, 5].map((n) => `1 1 ${8000 + n} 0a00000${n}.addr.dc1.consul.`).sort());
  });

  it('resolves the SRV targets in the additional section, as Consul does', async () => {
    for (const t of targets) {
      const out = await dig(t.dns, '+tcp', '+noall', '+additional', 'web.service.consul', 'SRV');
      expect(out).toMatch(/0a000003\.addr\.dc1\.consul\.\s+0\s+IN\s+A\s+10\.0\.0\.3/);
    }
  });

  it('filters by tag in both name forms, and answers the RFC 2782 _tcp form', async () => {
    for (const t of targets) {
      expect(srvSet(await dig(t.dns, '+short', 'blue.web.service.consul', 'A'))).toEqual(['10.0.0.1', '10.0.0.2']);
      expect(srvSet(await dig(t.dns, '+tcp', '+short', '_web._blue.service.consul', 'SRV'))).toHaveLength(2);
      expect(srvSet(await dig(t.dns, '+tcp', '+short', '_web._tcp.service.consul', 'SRV'))).toHaveLength(5);
    }
  });

  it('says NXDOMAIN for an unknown service, and NOERROR with no answers for a type it has no records of', async () => {
    for (const t of targets) {
      expect(await dig(t.dns, 'nope.service.consul', 'A')).toContain('status: NXDOMAIN');
      const aaaa = await dig(t.dns, 'web.service.consul', 'AAAA');
      expect(aaaa).toContain('status: NOERROR');
      expect(aaaa).toContain('ANSWER: 0');
      await expect(resolver(t.dns).resolve4('nope.service.consul')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    }
  });

  it('over UDP without EDNS: Consul silently returns 3 of 5; the embedded registry sets TC, so clients retry over TCP and get all 5', async () => {
    const [consulUdp, embeddedUdp] = await Promise.all(targets.map((t) => dig(t.dns, '+notcp', '+ignore', '+noedns', 'web.service.consul', 'SRV')));
    expect(consulUdp).toContain('ANSWER: 3');
    expect(consulUdp).not.toMatch(/flags:[^;]*\btc\b/);
    expect(embeddedUdp).toContain('ANSWER: 3');
    expect(embeddedUdp).toMatch(/flags:[^;]*\btc\b/);
    // dig and Node's resolver (c-ares, which sends no EDNS here) both follow TC to TCP.
    expect(await dig(targets[1]!.dns, '+noedns', 'web.service.consul', 'SRV')).toContain('ANSWER: 5');
    // With EDNS0 both answer all 5 over UDP, as many as fit the advertised size.
    for (const t of targets) expect(await dig(t.dns, '+notcp', '+ignore', 'web.service.consul', 'SRV')).toContain('ANSWER: 5');
    expect(await resolver(targets[0]!.dns).resolveSrv('web.service.consul')).toHaveLength(3);
    expect(await resolver(targets[1]!.dns).resolveSrv('web.service.consul')).toHaveLength(5);
    expect((await resolver(targets[1]!.dns).resolve4('web.service.consul')).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
  });

  it('follows health: an instance that turns critical leaves the answers', async () => {
    for (const t of targets) {
      await fetch(`${t.http}/v1/agent/check/fail/web-5-ttl`, { method: 'PUT' });
      await vi.waitFor(async () => expect(srvSet(await dig(t.dns, '+tcp', '+short', 'web.service.consul', 'SRV'))).toHaveLength(4), { timeout: 10_000 });
    }
  });

  it('shrugs off malformed packets and keeps answering', async () => {
    const { createSocket } = await import('node:dgram');
    const socket = createSocket('udp4');
    const port = targets[1]!.dns.port;
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(Math.random() * 100) }, () => Math.floor(Math.random() * 256)));
      await new Promise<void>((r) => socket.send(junk, port, '127.0.0.1', () => r()));
    }
    socket.close();
    expect(srvSet(await dig(targets[1]!.dns, '+tcp', '+short', 'web.service.consul', 'SRV'))).toHaveLength(4);
  });

  it('cuts a TCP answer that would pass 65,535 bytes to what fits and sets TC, instead of failing (embedded, 1,500 passing instances)', async () => {
    for (let i = 0; i < 1500; i++) {
      embedded.state.registerService(
        { ID: `big-${i}`, Service: 'big', Tags: [], Address: `10.9.${i >> 8}.${i & 255}`, Port: 9000, Meta: {}, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false },
        [{ CheckID: `big-${i}-ttl`, Name: 'ttl', Notes: '', Status: 'passing', definition: { type: 'ttl', ttlMs: 600_000 } }],
      );
    }
    const dns = targets[1]!.dns;
    const tcp = await dig(dns, '+tcp', '+ignore', 'big.service.consul', 'SRV');
    expect(tcp).toMatch(/flags:[^;]*\btc\b/);
    const answered = Number(/ANSWER: (\d+)/.exec(tcp)![1]);
    expect(answered).toBeGreaterThan(500);
    expect(answered).toBeLessThan(1500);
    // A records are smaller: all 1,500 distinct addresses fit in one TCP answer.
    expect(await dig(dns, '+tcp', 'big.service.consul', 'A')).toContain('ANSWER: 1500');
    // Over UDP with EDNS0 the cut fits the advertised 4,096 bytes, once.
    const udp = await dig(dns, '+notcp', '+ignore', '+bufsize=4096', 'big.service.consul', 'SRV');
    expect(udp).toMatch(/flags:[^;]*\btc\b/);
    expect(Number(/MSG SIZE\s+rcvd: (\d+)/.exec(udp)![1])).toBeLessThanOrEqual(4096);
    // And the server still answers the small name.
    expect(srvSet(await dig(dns, '+tcp', '+short', 'web.service.consul', 'SRV'))).toHaveLength(4);
  });
});
