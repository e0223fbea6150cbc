// The tcpdump filter compiler (src/wire/filter.ts) against tcpdump itself: the same frames in a
// pcap file (each stamped with its index as the time), every expression run by `tcpdump -r`, and
// the set of frames each matches compared with ours. Then errors, bounds and hostile frames.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../src/tools/pcap.ts';
import { ETH_P_IPV6 } from '../../src/wire/ethernet.ts';
import { compileFilter, FilterError } from '../../src/wire/filter.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/wire/tcp.ts';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

function ip6Udp(sport: number, dport: number): Uint8Array {
  // Ethernet + a 40-byte IPv6 header (next header 17) + UDP: built as bytes over buildFrame's Ethernet.
  const f = buildFrame({ dstMac: B, srcMac: A, type: ETH_P_IPV6, payload: 40 + 8 + 4 });
  f[14] = 0x60;
  f[14 + 5] = 12;
  f[14 + 6] = 17;
  f[14 + 7] = 64;
  const dv = new DataView(f.buffer);
  dv.setUint16(54, sport);
  dv.setUint16(56, dport);
  return f;
}

const FRAMES: Uint8Array[] = [
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1' }, udp: { sport: 40000, dport: 5000 }, payload: 32 }),
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.2.0.2' }, udp: { sport: 53, dport: 9 }, payload: 18 }),
  buildFrame({ dstMac: A, srcMac: B, ip: { src: '10.2.0.2', dst: '10.1.0.2' }, udp: { sport: 5353, dport: 5353 }, payload: 18 }),
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1' }, tcp: { sport: 40000, dport: 80, flags: TCP_SYN } }),
  buildFrame({ dstMac: A, srcMac: B, ip: { src: '10.1.0.1', dst: '10.1.0.2' }, tcp: { sport: 80, dport: 40000, flags: TCP_SYN | TCP_ACK } }),
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1' }, tcp: { sport: 40000, dport: 80, flags: TCP_ACK | TCP_PSH }, payload: 100 }),
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1' }, tcp: { sport: 40000, dport: 80, flags: TCP_FIN | TCP_ACK } }),
  buildFrame({ dstMac: A, srcMac: B, ip: { src: '10.1.0.1', dst: '10.1.0.2' }, tcp: { sport: 80, dport: 40000, flags: TCP_RST } }),
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1' }, icmp: { type: 8, rest: 0x00010001 }, payload: 56 }),
  buildFrame({ dstMac: A, srcMac: B, ip: { src: '10.1.0.1', dst: '10.1.0.2' }, icmp: { type: 0, rest: 0x00010001 }, payload: 56 }),
  buildFrame({ dstMac: A, srcMac: B, ip: { src: '10.1.0.1', dst: '10.1.0.2' }, icmp: { type: 3, code: 3 }, payload: 28 }),
  buildFrame({ dstMac: A, srcMac: B, ip: { src: '192.168.7.1', dst: '10.1.0.2', ttl: 1 }, icmp: { type: 11 }, payload: 28 }),
  // A non-first fragment of UDP to port 5000's datagram: its "ports" are payload bytes.
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1', fragOff: 1480, proto: 17 }, payload: [0x13, 0x88, 0x13, 0x88, 0, 0, 0, 0] }),
  // The first fragment (offset 0, MF): ports are there.
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1', mf: true }, udp: { sport: 40000, dport: 5000 }, payload: 32 }),
  // IPv4 with options (IHL 6): the transport header moves.
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1', options: [1, 1, 1, 0] }, udp: { sport: 1234, dport: 5000 }, payload: 18 }),
  buildFrame({ dstMac: 'ff:ff:ff:ff:ff:ff', srcMac: A, arp: { op: 1, spa: '10.1.0.2', tpa: '10.1.0.1' } }),
  buildFrame({ dstMac: A, srcMac: B, arp: { op: 2, spa: '10.1.0.1', tpa: '10.1.0.2' } }),
  // VLAN-tagged UDP: libpcap's `udp` does not look inside without `vlan`.
  buildFrame({ dstMac: B, srcMac: A, vlan: 100, ip: { src: '10.1.0.2', dst: '10.1.0.1' }, udp: { sport: 40000, dport: 5000 }, payload: 18 }),
  ip6Udp(40000, 53),
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.3.7.9', dst: '172.16.5.4', proto: 47 }, payload: 24 }),
  // Truncated: an IPv4 header cut after 10 bytes (loads past the end: no match at all).
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1' }, udp: { sport: 1, dport: 5000 }, payload: 18 }).slice(0, 24),
  // Truncated inside TCP (flags byte missing).
  buildFrame({ dstMac: B, srcMac: A, ip: { src: '10.1.0.2', dst: '10.1.0.1' }, tcp: { sport: 40000, dport: 80, flags: TCP_SYN } }).slice(0, 14 + 20 + 10),
];

const EXPRS = [
  'udp',
  'tcp',
  'icmp',
  'arp',
  'ip',
  'ip6',
  'udp port 5000',
  'udp port 53 and host 10.1.0.2',
  'port 53',
  'port 53 or 5353',
  'src port 40000',
  'dst port 80',
  'tcp dst port 80',
  'udp src port 53',
  'portrange 5000-5400',
  'host 10.1.0.1',
  'src host 10.1.0.2',
  'dst host 10.1.0.1',
  'src and dst host 10.1.0.2',
  'src or dst host 10.2.0.2',
  'ip host 10.1.0.1',
  'arp host 10.1.0.1',
  'net 10.1.0.0/24',
  'net 10.0.0.0/8',
  'src net 192.168',
  'net 172.16.0.0 mask 255.255.0.0',
  'ether host 02:00:00:00:00:0a',
  'ether src 02:00:00:00:00:0b',
  'ether dst ff:ff:ff:ff:ff:ff',
  'ip proto 47',
  'proto 17',
  'tcp[tcpflags] & tcp-syn != 0',
  'tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn',
  'tcp[13] = 0x12',
  'tcp[tcpflags] & tcp-rst != 0 or tcp[tcpflags] & tcp-fin != 0',
  'icmp[icmptype] = icmp-echo',
  'icmp[icmptype] != icmp-echo',
  'icmp[0] = 3 and icmp[1] = 3',
  'ip[8] = 1',
  'ip[2:2] > 60',
  'udp[2:2] = 5000',
  'len > 100',
  'greater 100',
  'less 64',
  'ether[12:2] = 0x0806',
  'not udp',
  'not (udp or tcp)',
  '!tcp && !arp',
  '(udp or icmp) and src 10.1.0.2',
  'host 10.1.0.2 and not port 5000',
  'udp and (dst port 5000 or dst port 9)',
  'ip[6:2] & 0x1fff != 0',
  '(tcp[13] & 2) != 0',
  'tcp[12] >> 4 = 5',
  'udp[4:2] - 8 = 32',
  '',
];

const dir = mkdtempSync(join(tmpdir(), 'sn-filter-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tcpdumpMatches(file: string, expr: string): number[] {
  const out = execFileSync('tcpdump', ['-r', file, '-tt', '-n', ...(expr ? [expr] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => Number(l.split('.')[0]));
}

describe('tcpdump filter compiler, differential against tcpdump', () => {
  const file = join(dir, 'frames.pcap');
  const w = new PcapWriter(file);
  FRAMES.forEach((f, k) => w.write(f, 0, f.length, k + 1, 0));
  w.close();
  const buf = new Uint8Array(8192);
  const dv = new DataView(buf.buffer);
  const ours = (expr: string) => {
    const m = compileFilter(expr).bind(buf, dv);
    const hits: number[] = [];
    FRAMES.forEach((f, k) => {
      // At an offset, with bytes after the frame that must never be read.
      buf.fill(0xee);
      buf.set(f, 100);
      if (m(100, f.length)) hits.push(k + 1);
    });
    return hits;
  };
  for (const expr of EXPRS) {
    it(`"${expr}" matches what tcpdump matches`, () => {
      expect(ours(expr)).toEqual(tcpdumpMatches(file, expr));
    });
  }
});

describe('tcpdump filter compiler, errors', () => {
  it.each([
    ['udp port', /expected a value after port/],
    ['host 10.1.0.300', /not an IPv4 address/],
    ['port http', /not a port number/],
    ['udp and', /expected a primitive/],
    ['(udp', /expected "\)"/],
    ['tcp[13:3] = 1', /load size is 1, 2 or 4/],
    ['vlan 100', /"vlan" is not supported/],
    ['net 10.1.0.1/24', /non-network bits/],
    ['udp $', /cannot read/],
  ])('%s', (expr, re) => {
    expect(() => compileFilter(expr)).toThrow(FilterError);
    expect(() => compileFilter(expr)).toThrow(re);
  });
});
