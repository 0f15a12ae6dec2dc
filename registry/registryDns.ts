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
/** A DNS message over TCP is framed by a 16-bit length. */
const TCP_MAX = 65_535;
const TC = 1 << 9;
// dns-packet exports per-record sizes, its types do not.
const recordLength = (dnsPacket as unknown as { answer: { encodingLength(a: dnsPacket.Answer): number } }).answer.encodingLength;
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
  if (transport === 'tcp') return fit(answerQuery(query, zone, { transport }), TCP_MAX, null);
  // As Consul: without EDNS0 a UDP answer holds at most 3 records; with it, as many as fit the
  // client's advertised size. Unlike Consul, a cut answer carries TC.
  const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  const max = opt ? Math.min(4096, Math.max(UDP_MAX, opt.udpPayloadSize ?? UDP_MAX)) : UDP_MAX;
  const optRecord = opt ? ({ type: 'OPT', name: '.', udpPayloadSize: max, flags: 0 } as dnsPacket.Answer) : null;
  return fit(answerQuery(query, zone, { transport, udpAnswerLimit: opt ? Infinity : 3 }), max, optRecord);
}

/**
 * Encodes `packet` in at most `max` bytes: if the whole answer does not fit, keeps the longest
 * prefix of answers (each with its additional record, for SRV) that does, and sets TC. The cut
 * is computed once from the records' sizes, not by re-encoding once per dropped record.
 */
export function fit(packet: dnsPacket.Packet, max: number, optRecord: dnsPacket.Answer | null): Buffer {
  const withOpt = (p: dnsPacket.Packet): dnsPacket.Packet => (optRecord ? { ...p, additionals: [...(p.additionals ?? []), optRecord] } : p);
  const whole = withOpt(packet);
  if (dnsPacket.encodingLength(whole) <= max) return dnsPacket.encode(whole);
  const answers = packet.answers ?? [];
  const additionals = packet.additionals ?? [];
  // SRV answers carry their target's address record at the same position in the additional section.
  const paired = additionals.length === answers.length;
  const base = dnsPacket.encodingLength(withOpt({ ...packet, answers: [], additionals: paired ? [] : additionals }));
  let used = base;
  let k = 0;
  for (; k < answers.length; k++) {
    const cost = recordLength(answers[k]!) + (paired ? recordLength(additionals[k]!) : 0);
    if (used + cost > max) break;
    used += cost;
  }
  const cut = (n: number) => withOpt({ ...packet, flags: (packet.flags ?? 0) | TC, answers: answers.slice(0, n), additionals: paired ? additionals.slice(0, n) : additionals });
  let out = dnsPacket.encode(cut(k));
  // Sizes are exact for dns-packet (no name compression); this only guards that assumption.
  while (out.length > max && k > 0) out = dnsPacket.encode(cut(--k));
  return out;
}

export async function startRegistryDns(options: { host: string; port: number; zone: DnsZone; onError?: (err: Error) => void }): Promise<RegistryDns> {
  const { zone } = options;
  const createUdpSocket = (): Socket => {
    const socket: Socket = createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
    socket.on('message', (msg, rinfo) => {
      try {
        const reply = respond(msg, zone, 'udp');
        if (reply) socket.send(reply, rinfo.port, rinfo.address);
      } catch (err) {
        options.onError?.(err as Error);
      }
    });
    socket.on('error', (err) => options.onError?.(err));
    return socket;
  };
  let udp = createUdpSocket();
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
  // UDP and TCP share one port. With port 0 the kernel picks it for UDP, and the same TCP port can
  // already be taken by someone else: then start over on another port rather than fail.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(options.port, options.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    port = udp.address().port;
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, options.host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (err) {
      if (options.port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) {
        udp.close();
        throw err;
      }
      await new Promise<void>((r) => udp.close(() => r()));
      udp = createUdpSocket();
    }
  }

  return {
    port,
    async close() {
      await new Promise<void>((r) => udp.close(() => r()));
      for (const s of open) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}
