/**
 * The embedded registry's DNS interface: UDP and TCP on one loopback port, answers from
 * dnsAnswers.ts. Malformed packets never crash it: a readable header gets FORMERR, anything
 * shorter is dropped, and responses (QR set) are never answered, so it cannot be made to loop.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';
import { answerQuery, formatError, type DnsZone } from './dnsAnswers';

export interface RegistryDns {
  port: number;
  close(): Promise<void>;
}

const UDP_MAX = 512;
const TCP_IDLE_MS = 10_000;

/** The reply bytes for one query message, or null to stay silent. */
export function respond(message: Buffer, zone: DnsZone, transport: 'udp' | 'tcp'): Buffer | null {
  if (message.length < 12) return null;
  // A response (QR set) is never answered: two servers must not be able to ping-pong.
  if (message[2]! & 0x80) return null;
  let query;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return dnsPacket.encode(formatError(message.readUInt16BE(0)));
  }
  if (transport === 'tcp') return dnsPacket.encode(answerQuery(query, zone, { transport }));
  // As Consul: without EDNS0 a UDP answer holds at most 3 records; with it, as many as fit the
  // client's advertised size. Unlike Consul, a cut answer carries TC.
  const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  const max = opt ? Math.min(4096, Math.max(UDP_MAX, opt.udpPayloadSize ?? UDP_MAX)) : UDP_MAX;
  const withOpt = (p: dnsPacket.Packet): dnsPacket.Packet =>
    opt ? { ...p, additionals: [...(p.additionals ?? []), { type: 'OPT', name: '.', udpPayloadSize: max, flags: 0 } as dnsPacket.Answer] } : p;
  const full = answerQuery(query, zone, { transport, udpAnswerLimit: opt ? Infinity : 3 });
  let out = dnsPacket.encode(withOpt(full));
  for (let limit = (full.answers?.length ?? 0) - 1; out.length > max && limit >= 0; limit--) {
    const cut = answerQuery(query, zone, { transport, udpAnswerLimit: limit });
    out = dnsPacket.encode(withOpt({ ...cut, flags: (cut.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE }));
  }
  return out;
}

export async function startRegistryDns(options: { host: string; port: number; zone: DnsZone; onError?: (err: Error) => void }): Promise<RegistryDns> {
  const { zone } = options;
  const udp: Socket = createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
  udp.on('message', (msg, rinfo) => {
    try {
      const reply = respond(msg, zone, 'udp');
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    } catch (err) {
      options.onError?.(err as Error);
    }
  });
  udp.on('error', (err) => options.onError?.(err));
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(options.port, options.host, () => resolve());
  });
  const port = udp.address().port;

  const open = new Set<TcpSocket>();
  const tcp: Server = createServer((socket: TcpSocket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        try {
          const reply = respond(Buffer.from(message), zone, 'tcp');
          if (!reply) continue;
          const framed = Buffer.alloc(2 + reply.length);
          framed.writeUInt16BE(reply.length, 0);
          reply.copy(framed, 2);
          socket.write(framed);
        } catch (err) {
          options.onError?.(err as Error);
          socket.destroy();
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, options.host, () => resolve());
  });

  return {
    port,
    async close() {
      await new Promise<void>((r) => udp.close(() => r()));
      for (const s of open) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}
