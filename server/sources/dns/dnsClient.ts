/**
 * One DNS question to one server over UDP or TCP, with dns-packet. Node's resolver hides what a
 * source needs (SRV TTLs, the additional section, the TC bit, which transport answered), so
 * the DNS source asks directly.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket, { type Packet } from 'dns-packet';

export interface DnsServer {
  host: string;
  port: number;
}

/** A resource record as the source reads it (dns-packet's union narrowed to what is used). */
export interface DnsRecord {
  name: string;
  type: string;
  ttl?: number;
  data?: unknown;
}

export interface DnsReply {
  rcode: string;
  truncated: boolean;
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export function parseServer(spec: string): DnsServer {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(spec.trim());
  if (!m) throw new Error(`not a DNS server address: ${spec}`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
}

export async function query(server: DnsServer, name: string, type: 'A' | 'AAAA' | 'SRV', transport: 'udp' | 'tcp', timeoutMs = 2000): Promise<DnsReply> {
  const id = randomInt(0, 65536);
  const packet = dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] });
  const raw = transport === 'udp' ? await overUdp(server, packet, id, timeoutMs) : await overTcp(server, packet, timeoutMs);
  const reply: Packet = dnsPacket.decode(raw);
  if (reply.id !== id) throw new Error(`DNS ${server.host}:${server.port}: reply id ${reply.id} does not match query ${id}`);
  return {
    rcode: (reply as { rcode?: string }).rcode ?? 'NOERROR',
    truncated: ((reply.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0,
    answers: (reply.answers ?? []) as DnsRecord[],
    authorities: (reply.authorities ?? []) as DnsRecord[],
    additionals: (reply.additionals ?? []) as DnsRecord[],
  };
}

function overUdp(server: DnsServer, packet: Buffer, id: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    const done = (err: Error | null, msg?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(msg!);
    };
    const timer = setTimeout(() => done(new Error(`DNS ${server.host}:${server.port}: no answer over UDP within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => done(new Error(`DNS ${server.host}:${server.port}: ${err.message}`)));
    // Ignore stray datagrams: only a reply to our id ends the wait.
    socket.on('message', (msg) => msg.length >= 2 && msg.readUInt16BE(0) === id && done(null, msg));
    socket.send(packet, server.port, server.host);
  });
}

function overTcp(server: DnsServer, packet: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, server.host);
    let buffered = Buffer.alloc(0);
    const done = (err: Error | null, msg?: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(msg!);
    };
    const timer = setTimeout(() => done(new Error(`DNS ${server.host}:${server.port}: no answer over TCP within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (err) => done(new Error(`DNS ${server.host}:${server.port}: ${err.message}`)));
    socket.on('connect', () => {
      const framed = Buffer.alloc(2 + packet.length);
      framed.writeUInt16BE(packet.length, 0);
      packet.copy(framed, 2);
      socket.write(framed);
    });
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) done(null, buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
    });
  });
}
