/**
 * Resolves one configured name into instances, the way an SRE reading `dig` would: SRV names
 * (`_payment._tcp.example.internal`) give priority/weight/port per target, targets resolved
 * from the additional section or by an A query; plain names give A/AAAA records on a default
 * port. A UDP answer that may be partial — TC set, or exactly as many records as Consul's
 * silent 3-record cap — is asked again over TCP, and the result says so. NXDOMAIN is an empty
 * answer, not an error.
 */
import type { Instance } from '../../../protocol/model';
import { query, type DnsRecord, type DnsReply, type DnsServer } from './dnsClient';

/** Consul answers at most this many records over UDP, without setting TC (registry-semantics.md B). */
export const SUSPECT_UDP_COUNT = 3;

export interface Resolution {
  instances: Instance[];
  /** Smallest TTL among the records (or the SOA's negative-caching TTL), seconds. */
  ttl: number;
  transport: 'udp' | 'tcp';
  /** Why TCP was needed, when it was. */
  note: string | null;
  rcode: string;
}

export async function resolveName(server: DnsServer, name: string, defaultPort: number | null, timeoutMs?: number): Promise<Resolution> {
  const srv = name.startsWith('_');
  const type = srv ? 'SRV' : 'A';
  let reply = await query(server, name, type, 'udp', timeoutMs);
  let transport: 'udp' | 'tcp' = 'udp';
  let note: string | null = null;
  const maybePartial = reply.truncated || reply.answers.filter((a) => a.type === type).length === SUSPECT_UDP_COUNT;
  if (maybePartial && reply.rcode === 'NOERROR') {
    const udpCount = reply.answers.filter((a) => a.type === type).length;
    const tcp = await query(server, name, type, 'tcp', timeoutMs);
    const tcpCount = tcp.answers.filter((a) => a.type === type).length;
    transport = 'tcp';
    note = reply.truncated
      ? `UDP answer truncated (TC); resolved over TCP: ${tcpCount} records`
      : tcpCount > udpCount
        ? `UDP answer was partial (${udpCount} of ${tcpCount} records, no TC bit); resolved over TCP`
        : `UDP answer had ${udpCount} records, as many as Consul’s silent UDP cap; checked over TCP`;
    reply = tcp;
  }
  if (reply.rcode === 'NXDOMAIN') return { instances: [], ttl: negativeTtl(reply), transport, note, rcode: 'NXDOMAIN' };
  if (reply.rcode !== 'NOERROR') throw new Error(`${name}: ${reply.rcode} from ${server.host}:${server.port}`);
  let records = reply.answers.filter((a) => a.type === type);
  if (!srv) {
    // IPv6 addresses of the same name too; a server without AAAA records answers NOERROR-empty.
    const v6 = await query(server, name, 'AAAA', transport, timeoutMs).catch(() => null);
    if (v6?.rcode === 'NOERROR') records = [...records, ...v6.answers.filter((a) => a.type === 'AAAA')];
  }
  if (records.length === 0) return { instances: [], ttl: negativeTtl(reply), transport, note, rcode: 'NOERROR' };
  const ttl = Math.min(...records.map((r) => r.ttl ?? 0));

  if (!srv) {
    if (defaultPort === null) throw new Error(`${name}: an A name needs defaultPort in the source config`);
    return { instances: dedupe(records.map((r) => instanceOf(String(r.data), defaultPort, name, {}))), ttl, transport, note, rcode: 'NOERROR' };
  }
  const instances: Instance[] = [];
  for (const r of records) {
    const data = r.data as { priority: number; weight: number; port: number; target: string };
    const target = data.target.replace(/\.$/, '');
    const addresses = await addressesOf(server, target, reply, timeoutMs);
    const meta = { srvPriority: String(data.priority), srvWeight: String(data.weight), srvTarget: target };
    // An unresolvable target still shows, by name, rather than vanishing.
    for (const address of addresses.length ? addresses : [target]) instances.push(instanceOf(address, data.port, target, meta));
  }
  return { instances: dedupe(instances), ttl, transport, note, rcode: 'NOERROR' };
}

async function addressesOf(server: DnsServer, target: string, reply: DnsReply, timeoutMs?: number): Promise<string[]> {
  const same = (a: DnsRecord) => a.name.replace(/\.$/, '').toLowerCase() === target.toLowerCase();
  const extra = reply.additionals.filter((a) => (a.type === 'A' || a.type === 'AAAA') && same(a)).map((a) => String(a.data));
  if (extra.length) return extra;
  const a = await query(server, target, 'A', 'udp', timeoutMs).catch(() => null);
  return (a?.answers ?? []).filter((x) => x.type === 'A').map((x) => String(x.data));
}

function instanceOf(address: string, port: number, node: string, meta: Record<string, string>): Instance {
  // DNS cannot say whether an instance is healthy.
  return { id: address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`, address, port, tags: [], meta, node, health: 'unknown', checks: [] };
}

function negativeTtl(reply: DnsReply): number {
  const soa = reply.authorities.find((a) => a.type === 'SOA');
  if (!soa) return 0;
  return Math.min(soa.ttl ?? 0, (soa.data as { minimum?: number }).minimum ?? 0);
}

function dedupe(instances: Instance[]): Instance[] {
  const seen = new Map<string, Instance>();
  for (const i of instances) if (!seen.has(i.id)) seen.set(i.id, i);
  return [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
}
