/**
 * What the embedded registry answers over DNS, the way Consul does (registry-semantics.md B):
 * `NAME.service[.DC].consul` A and SRV for passing instances only, tag filters
 * (`TAG.NAME.service.consul`, RFC 2782 `_NAME._TAG.service.consul`, `_tcp` = no tag), SRV
 * targets `<hex-ip>.addr.DC.consul` with their A records in the additional section, NXDOMAIN
 * (with SOA) when nothing healthy matches, NOERROR-empty for a known name and another type.
 * Unlike Consul's default, a UDP answer that had to be cut carries the TC bit, so clients
 * retry over TCP and see every instance. Pure: instances and randomness come in.
 */
import type { Answer, Packet, Question } from 'dns-packet';

export interface DnsInstance {
  address: string;
  port: number;
  tags: readonly string[];
}

export interface DnsZone {
  datacenter: string;
  nodeName: string;
  nodeAddress: string;
  /** TTL of every record, seconds (Consul's default is 0). */
  ttl: number;
  /** Passing instances of a service; empty when it does not exist or nothing is healthy. */
  instances(service: string): DnsInstance[];
}

export interface AnswerOptions {
  transport: 'udp' | 'tcp';
  /** Answers per UDP response, as Consul's `udp_answer_limit`. @default 3 */
  udpAnswerLimit?: number;
  random?: () => number;
}

const DOMAIN = 'consul';
const NOERROR = 0;
const NXDOMAIN = 3;
const NOTIMP = 4;
const REFUSED = 5;
const AA = 1 << 10;
const TC = 1 << 9;
const RD = 1 << 8;

type Lookup =
  | { kind: 'service'; service: string; tag: string | null }
  | { kind: 'addr'; address: string }
  | { kind: 'node'; node: string }
  | { kind: 'nxdomain' }
  | { kind: 'refused' };

/** Parses a query name inside the `consul` domain. */
export function parseName(qname: string, datacenter: string): Lookup {
  const labels = qname.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.at(-1) !== DOMAIN) return { kind: 'refused' };
  labels.pop();
  // An optional datacenter label before the domain: `web.service.dc1.consul`.
  const kinds = ['service', 'addr', 'node'];
  if (labels.length >= 2 && !kinds.includes(labels.at(-1)!) && kinds.includes(labels.at(-2)!)) {
    if (labels.pop() !== datacenter.toLowerCase()) return { kind: 'nxdomain' };
  }
  const kind = labels.pop();
  if (kind === 'service') {
    if (labels.length === 1) return { kind: 'service', service: labels[0]!, tag: null };
    if (labels.length === 2 && labels[0]!.startsWith('_') && labels[1]!.startsWith('_')) {
      const tag = labels[1]!.slice(1);
      return { kind: 'service', service: labels[0]!.slice(1), tag: tag === 'tcp' ? null : tag };
    }
    if (labels.length === 2) return { kind: 'service', service: labels[1]!, tag: labels[0]! };
    return { kind: 'nxdomain' };
  }
  if (kind === 'addr' && labels.length === 1 && /^[0-9a-f]{8}$/.test(labels[0]!)) {
    const n = labels[0]!;
    return { kind: 'addr', address: [0, 2, 4, 6].map((i) => parseInt(n.slice(i, i + 2), 16)).join('.') };
  }
  if (kind === 'node' && labels.length === 1) return { kind: 'node', node: labels[0]! };
  return { kind: 'nxdomain' };
}

/** `10.0.0.1` → `0a000001`, as Consul names SRV targets. */
export function hexAddress(ipv4: string): string {
  return ipv4
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('');
}

const isV4 = (a: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a);

export function answerQuery(query: Packet, zone: DnsZone, options: AnswerOptions): Packet {
  const question = query.questions?.[0];
  const reply = (rcode: number, answers: Answer[] = [], extra: { authorities?: Answer[]; additionals?: Answer[]; truncated?: boolean } = {}): Packet => ({
    id: query.id,
    type: 'response',
    flags: AA | ((query.flags ?? 0) & RD) | (extra.truncated ? TC : 0) | rcode,
    questions: question ? [question] : [],
    answers,
    authorities: extra.authorities ?? [],
    additionals: extra.additionals ?? [],
  });
  if (!question || (query.questions?.length ?? 0) !== 1) return reply(1); // FORMERR
  if (question.class !== 'IN' && question.class !== undefined) return reply(NOTIMP);
  const soa = soaRecord();
  const lookup = parseName(question.name, zone.datacenter);
  // dns-packet's types leave out ANY (255), which clients do send.
  const qtype = question.type as string;
  const ttl = zone.ttl;

  switch (lookup.kind) {
    case 'refused':
      return reply(REFUSED);
    case 'nxdomain':
      return reply(NXDOMAIN, [], { authorities: [soa] });
    case 'addr':
      return qtype === 'A' || qtype === 'ANY' ? reply(NOERROR, [{ name: question.name, type: 'A', class: 'IN', ttl, data: lookup.address }]) : reply(NOERROR, [], { authorities: [soa] });
    case 'node':
      if (lookup.node !== zone.nodeName.toLowerCase()) return reply(NXDOMAIN, [], { authorities: [soa] });
      return qtype === 'A' || qtype === 'ANY' ? reply(NOERROR, [{ name: question.name, type: 'A', class: 'IN', ttl, data: zone.nodeAddress }]) : reply(NOERROR, [], { authorities: [soa] });
    case 'service':
      break;
  }

  const all = zone.instances(lookup.service).filter((i) => lookup.tag === null || i.tags.some((t) => t.toLowerCase() === lookup.tag));
  if (all.length === 0) return reply(NXDOMAIN, [], { authorities: [soa] });
  const instances = shuffle(all, options.random ?? Math.random);
  const limit = options.transport === 'udp' ? (options.udpAnswerLimit ?? 3) : Infinity;

  if (qtype === 'SRV') {
    const chosen = instances.slice(0, limit);
    const answers: Answer[] = chosen.map((i) => ({ name: question.name, type: 'SRV', class: 'IN', ttl, data: { priority: 1, weight: 1, port: i.port, target: target(i, zone) } }));
    const additionals: Answer[] = chosen.map((i) => (isV4(i.address) ? { name: target(i, zone), type: 'A', class: 'IN', ttl, data: i.address } : { name: target(i, zone), type: 'AAAA', class: 'IN', ttl, data: i.address }));
    return reply(NOERROR, answers, { additionals, truncated: chosen.length < instances.length });
  }
  if (qtype === 'A' || qtype === 'AAAA' || qtype === 'ANY') {
    const family = qtype === 'AAAA' ? (a: string) => !isV4(a) : isV4;
    // One record per distinct address: several instances on one host share an A record.
    const addresses = [...new Set(instances.map((i) => i.address).filter(family))];
    if (addresses.length === 0) return reply(NOERROR, [], { authorities: [soa] });
    const chosen = addresses.slice(0, limit);
    const type = qtype === 'AAAA' ? 'AAAA' : 'A';
    return reply(NOERROR, chosen.map((a) => ({ name: question.name, type, class: 'IN', ttl, data: a }) as Answer), { truncated: chosen.length < addresses.length });
  }
  return reply(NOERROR, [], { authorities: [soa] });
}

/** A reply for a packet that could not be parsed but has a readable header: FORMERR with its id. */
export function formatError(id: number): Packet {
  return { id, type: 'response', flags: 1, questions: [], answers: [], authorities: [], additionals: [] };
}

function target(i: DnsInstance, zone: DnsZone): string {
  return isV4(i.address) ? `${hexAddress(i.address)}.addr.${zone.datacenter}.${DOMAIN}` : `${zone.nodeName}.node.${zone.datacenter}.${DOMAIN}`;
}

function soaRecord(): Answer {
  return {
    name: DOMAIN,
    type: 'SOA',
    class: 'IN',
    ttl: 0,
    data: { mname: `ns.${DOMAIN}`, rname: `hostmaster.${DOMAIN}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 0 },
  };
}

function shuffle<T>(xs: readonly T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export type { Question };
