import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { answerQuery, hexAddress, parseName, type DnsZone } from './dnsAnswers';
import { respond } from './registryDns';

const zone: DnsZone = {
  datacenter: 'dc1',
  nodeName: 'switchboard-embedded',
  nodeAddress: '127.0.0.1',
  ttl: 7,
  instances: (service) =>
    service === 'web'
      ? [1, 2, 3, 4, 5].map((n) => ({ address: `10.0.0.${n}`, port: 8000 + n, tags: n <= 2 ? ['blue'] : ['green'] }))
      : [],
};
const q = (name: string, type: string) => ({ id: 42, type: 'query' as const, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] }) as dnsPacket.Packet;
const noShuffle = { random: () => 0.999 };

describe('embedded DNS answers', () => {
  it('parses Consul’s name forms', () => {
    expect(parseName('web.service.consul', 'dc1')).toEqual({ kind: 'service', service: 'web', tag: null });
    expect(parseName('Blue.Web.service.DC1.consul.', 'dc1')).toEqual({ kind: 'service', service: 'web', tag: 'blue' });
    expect(parseName('_web._tcp.service.consul', 'dc1')).toEqual({ kind: 'service', service: 'web', tag: null });
    expect(parseName('_web._blue.service.consul', 'dc1')).toEqual({ kind: 'service', service: 'web', tag: 'blue' });
    expect(parseName('0a000001.addr.dc1.consul', 'dc1')).toEqual({ kind: 'addr', address: '10.0.0.1' });
    expect(parseName('web.service.dc2.consul', 'dc1')).toEqual({ kind: 'nxdomain' });
    expect(parseName('example.com', 'dc1')).toEqual({ kind: 'refused' });
    expect(hexAddress('10.0.0.1')).toBe('0a000001');
  });

  it('answers SRV over TCP with every instance, targets resolved in the additional section', () => {
    const r = answerQuery(q('web.service.consul', 'SRV'), zone, { transport: 'tcp', ...noShuffle });
    expect(r.answers).toHaveLength(5);
    expect(r.answers![0]).toMatchObject({ type: 'SRV', ttl: 7, data: { priority: 1, weight: 1 } });
    expect(r.additionals!.map((a) => (a as { data: string }).data).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
    expect((r.flags! & dnsPacket.TRUNCATED_RESPONSE) !== 0).toBe(false);
  });

  it('cuts a UDP answer at 3 records like Consul, but says so with the TC bit', () => {
    const r = answerQuery(q('web.service.consul', 'SRV'), zone, { transport: 'udp' });
    expect(r.answers).toHaveLength(3);
    expect(r.flags! & dnsPacket.TRUNCATED_RESPONSE).toBe(dnsPacket.TRUNCATED_RESPONSE);
    const small = answerQuery(q('blue.web.service.consul', 'A'), zone, { transport: 'udp' });
    expect(small.answers!.map((a) => (a as { data: string }).data).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(small.flags! & dnsPacket.TRUNCATED_RESPONSE).toBe(0);
  });

  it('says NXDOMAIN (with SOA) for an unknown or unhealthy service, NOERROR-empty for a type it has no records of', () => {
    const nx = answerQuery(q('nope.service.consul', 'A'), zone, { transport: 'udp' });
    expect(nx.flags! & 0xf).toBe(3);
    expect(nx.authorities![0]).toMatchObject({ type: 'SOA' });
    const empty = answerQuery(q('web.service.consul', 'AAAA'), zone, { transport: 'udp' });
    expect(empty.flags! & 0xf).toBe(0);
    expect(empty.answers).toEqual([]);
    expect(answerQuery(q('example.com', 'A'), zone, { transport: 'udp' }).flags! & 0xf).toBe(5);
  });

  it('survives malformed packets: FORMERR for a readable header, silence for garbage or responses', () => {
    expect(respond(Buffer.from([1, 2, 3]), zone, 'udp')).toBeNull();
    const junk = Buffer.alloc(30, 0xff);
    junk.writeUInt16BE(0xbeef, 0);
    junk[2] = 0x01; // QR clear: a query
    const formerr = dnsPacket.decode(respond(junk, zone, 'udp')!);
    expect(formerr).toMatchObject({ id: 0xbeef, type: 'response', rcode: 'FORMERR' });
    const response = dnsPacket.encode({ id: 1, type: 'response', questions: [{ name: 'web.service.consul', type: 'A', class: 'IN' }] });
    expect(respond(response, zone, 'udp')).toBeNull();
    for (let i = 0; i < 500; i++) {
      const random = Buffer.from(Array.from({ length: 12 + Math.floor(Math.random() * 60) }, () => Math.floor(Math.random() * 256)));
      random[2] = random[2]! & 0x7f;
      expect(() => respond(random, zone, 'udp')).not.toThrow();
    }
  }, 60_000); // 500 packets: seconds on a loaded 2-core machine
});
