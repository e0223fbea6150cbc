/**
 * Frame templates and mutators for the fuzz harness (fuzz.ts). Templates are valid frames of
 * every kind the stack handles, addressed to the fuzz topology (FUZZ_TOPOLOGY below); mutators
 * change header fields, lengths and bytes so the frames reach every validation branch. All
 * generation is driven by one seeded PRNG so a failing batch can be regenerated exactly.
 */

import { xs32 } from './rng.ts';

/** A seeded PRNG whose state can be saved and restored (replay of one batch). */
export class Rng {
  s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    return (this.s = xs32(this.s));
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return this.u32() % n;
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }
}

// ---- the topology the templates address -------------------------------------------------------

export const PEER = [0x02, 0, 0, 0, 0, 0x99];
export const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
/** MACs of the fuzz stack's memory ports (Stack's memoryMac: 02:00:00:00:01:i). */
export const PORT_MAC = [0, 1, 2].map((i) => [0x02, 0, 0, 0, 1, i]);

/** Config lines of the fuzz stack (see fuzz.ts fuzzStack). */
export const FUZZ_TOPOLOGY = {
  ports: [
    { name: 'p0', dev: 'mem0', addresses: ['10.1.0.1/24'], vlans: [{ id: 100, addresses: ['10.100.0.1/24'] }, { id: 200, addresses: [] as string[] }] },
    { name: 'p1', dev: 'mem1', addresses: ['10.2.0.1/24'], vlans: [] },
    // A small MTU so forwarded datagrams are fragmented (ip-fragment) or refused (DF: frag needed).
    { name: 'p2', dev: 'mem2', addresses: ['10.3.0.1/24'], vlans: [], mtu: 576 },
  ],
  routes: ['add 10.20.0.0/16 via 10.2.0.2', 'add 10.30.0.0/16 via 10.3.0.2', 'add 10.40.0.0/16 via 10.2.0.77', 'add blackhole 192.0.2.0/24', 'add unreachable 198.51.100.0/24', 'add default via 10.1.0.254'],
  netfilter: [
    '-A FORWARD -p udp --dport 53 -j DROP',
    '-A FORWARD -p tcp --dport 25 -j REJECT --reject-with tcp-reset',
    '-A INPUT -p tcp --dport 23 -j REJECT --reject-with tcp-reset',
    '-A INPUT -p udp --dport 69 -j REJECT',
    '-t mangle -A PREROUTING -p udp --dport 123 -j MARK --set-mark 7',
  ],
};

// ---- builders ---------------------------------------------------------------------------------

function ip4(s: string): number[] {
  return s.split('.').map(Number);
}

function sum16(b: Uint8Array, off: number, len: number, init = 0): number {
  let s = init;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | (i + 1 < len ? b[off + i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Recompute the IPv4 header checksum at h (a fuzzed header that should pass ip_rcv's check). */
export function fixIpCsum(b: Uint8Array, h: number, end: number): void {
  if (h + 20 > end) return;
  let ihl = (b[h] & 0x0f) << 2;
  if (ihl < 20) ihl = 20;
  if (h + ihl > end) return;
  b[h + 10] = 0;
  b[h + 11] = 0;
  const c = ~sum16(b, h, ihl) & 0xffff;
  b[h + 10] = c >> 8;
  b[h + 11] = c & 255;
}

/** Fix the L4 checksum of a datagram at h (UDP/TCP pseudo-header, ICMP plain), when it fits. */
export function fixL4Csum(b: Uint8Array, h: number, end: number): void {
  if (h + 20 > end) return;
  const ihl = (b[h] & 0x0f) << 2;
  const tot = (b[h + 2] << 8) | b[h + 3];
  if (ihl < 20 || tot < ihl || h + tot > end) return;
  const t = h + ihl;
  const len = tot - ihl;
  const p = b[h + 9];
  let at = -1;
  if (p === 1 && len >= 4) at = 2;
  else if (p === 17 && len >= 8) at = 6;
  else if (p === 6 && len >= 20) at = 16;
  if (at < 0) return;
  b[t + at] = 0;
  b[t + at + 1] = 0;
  let s = 0;
  if (p !== 1) {
    s = sum16(b, h + 12, 8);
    s += p + len;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  }
  let c = ~sum16(b, t, len, s) & 0xffff;
  if (p === 17 && c === 0) c = 0xffff;
  b[t + at] = c >> 8;
  b[t + at + 1] = c & 255;
}

interface IpSpec {
  src: string;
  dst: string;
  proto: number;
  l4: number[];
  ttl?: number;
  options?: number[];
  id?: number;
  frag?: number; // flags|offset word
  tos?: number;
}

function ipPacket(o: IpSpec): number[] {
  const opt = o.options ?? [];
  const ihl = 20 + opt.length;
  const tot = ihl + o.l4.length;
  const h = [0x40 | (ihl >> 2), o.tos ?? 0, tot >> 8, tot & 255, (o.id ?? 0x1234) >> 8, (o.id ?? 0x1234) & 255, (o.frag ?? 0) >> 8, (o.frag ?? 0) & 255, o.ttl ?? 64, o.proto, 0, 0, ...ip4(o.src), ...ip4(o.dst), ...opt];
  return [...h, ...o.l4];
}

function ethFrame(dst: number[], type: number, payload: number[], vlan: number[] = []): Uint8Array {
  const tags: number[] = [];
  for (const t of vlan) tags.push(t >> 24 === 0x88 ? 0x88 : 0x81, t >> 24 === 0x88 ? 0xa8 : 0x00, (t >> 8) & 0x0f, t & 0xff);
  const f = new Uint8Array([...dst, ...PEER, ...tags, type >> 8, type & 255, ...payload]);
  const l3 = 14 + tags.length;
  if (type === 0x0800) {
    fixIpCsum(f, l3, f.length);
    fixL4Csum(f, l3, f.length);
  }
  return f;
}

function udp(sport: number, dport: number, payload: number): number[] {
  const len = 8 + payload;
  const u = [sport >> 8, sport & 255, dport >> 8, dport & 255, len >> 8, len & 255, 0, 0];
  for (let i = 0; i < payload; i++) u.push((i * 7) & 255);
  return u;
}

function tcp(sport: number, dport: number, flags: number, payload = 0, opts: number[] = []): number[] {
  const doff = (20 + opts.length) >> 2;
  const t = [sport >> 8, sport & 255, dport >> 8, dport & 255, 0, 0, 0, 1, 0, 0, 0, 0, doff << 4, flags, 0xff, 0xff, 0, 0, 0, 0, ...opts];
  for (let i = 0; i < payload; i++) t.push(i & 255);
  return t;
}

function icmp(type: number, code: number, rest: number[], payload: number[] = []): number[] {
  return [type, code, 0, 0, ...rest, ...payload];
}

function arp(op: number, sha: number[], spa: string, tha: number[], tpa: string): number[] {
  return [0, 1, 0x08, 0, 6, 4, 0, op, ...sha, ...ip4(spa), ...tha, ...ip4(tpa), ...new Array(18).fill(0)];
}

/** A fragment of `payload` (the L4 bytes of the whole datagram) at byte offset off. */
function frag(src: string, dst: string, id: number, payload: number[], off: number, len: number, more: boolean, proto = 17): number[] {
  return ipPacket({ src, dst, proto, id, l4: payload.slice(off, off + len), frag: (more ? 0x2000 : 0) | (off >> 3) });
}

/**
 * Every template, valid as built. The index is the "kind"; mutation keeps the kind's header
 * offsets meaningful (l3 is where the IPv4/ARP header starts).
 */
export function buildTemplates(): Array<{ name: string; port: number; l3: number; bytes: Uint8Array }> {
  const M0 = PORT_MAC[0];
  const M1 = PORT_MAC[1];
  const M2 = PORT_MAC[2];
  const T: Array<{ name: string; port: number; l3: number; bytes: Uint8Array }> = [];
  const add = (name: string, port: number, dst: number[], type: number, payload: number[], vlan: number[] = []) =>
    T.push({ name, port, l3: 14 + 4 * vlan.length, bytes: ethFrame(dst, type, payload, vlan) });
  const dg = udp(5000, 7000, 1400);
  // ARP: requests and replies for us, gratuitous, from many senders, on a VLAN.
  add('arp-req', 0, BCAST, 0x0806, arp(1, PEER, '10.1.0.2', [0, 0, 0, 0, 0, 0], '10.1.0.1'));
  add('arp-req-p1', 1, BCAST, 0x0806, arp(1, PEER, '10.2.0.2', [0, 0, 0, 0, 0, 0], '10.2.0.1'));
  add('arp-req-p2', 2, BCAST, 0x0806, arp(1, PEER, '10.3.0.2', [0, 0, 0, 0, 0, 0], '10.3.0.1'));
  add('arp-reply', 1, M1, 0x0806, arp(2, PEER, '10.2.0.77', M1, '10.2.0.1'));
  add('arp-garp', 0, BCAST, 0x0806, arp(1, PEER, '10.1.0.9', [0, 0, 0, 0, 0, 0], '10.1.0.9'));
  add('arp-vlan', 0, BCAST, 0x0806, arp(1, PEER, '10.100.0.2', [0, 0, 0, 0, 0, 0], '10.100.0.1'), [100]);
  add('arp-other', 0, BCAST, 0x0806, arp(1, PEER, '10.1.0.3', [0, 0, 0, 0, 0, 0], '10.1.0.200'));
  // ICMP to us and through us.
  add('echo-local', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, l4: icmp(8, 0, [0, 1, 0, 1], new Array(56).fill(0x61)) }));
  add('echo-vlan', 0, M0, 0x0800, ipPacket({ src: '10.100.0.2', dst: '10.100.0.1', proto: 1, l4: icmp(8, 0, [0, 1, 0, 2], new Array(32).fill(1)) }), [100]);
  add('echo-fwd', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.1.1', proto: 1, l4: icmp(8, 0, [0, 1, 0, 3], new Array(56).fill(2)) }));
  add('echo-bcast', 0, BCAST, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.255', proto: 1, l4: icmp(8, 0, [0, 1, 0, 4], [1, 2, 3, 4]) }));
  add('timestamp', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, l4: icmp(13, 0, [0, 1, 0, 5], new Array(12).fill(0)) }));
  const quoted = ipPacket({ src: '10.1.0.1', dst: '10.20.1.1', proto: 17, l4: udp(7000, 33434, 8) });
  add('icmp-unreach', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, l4: icmp(3, 3, [0, 0, 0, 0], quoted) }));
  add('icmp-exceeded-fwd', 1, M1, 0x0800, ipPacket({ src: '10.20.9.9', dst: '10.1.0.2', proto: 1, l4: icmp(11, 0, [0, 0, 0, 0], quoted) }));
  add('icmp-fragneeded', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, l4: icmp(3, 4, [0, 0, 2, 64], quoted) }));
  // UDP/TCP local and forwarded, netfilter matches.
  add('udp-local', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 17, l4: udp(5000, 9, 18) }));
  add('udp-local-reject', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 17, l4: udp(5000, 69, 18) }));
  add('udp-fwd', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.2.0.2', proto: 17, l4: udp(5000, 9, 100) }));
  add('udp-fwd-dns', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.0.5', proto: 17, l4: udp(5000, 53, 30) }));
  add('udp-fwd-mark', 1, M1, 0x0800, ipPacket({ src: '10.2.0.2', dst: '10.1.0.2', proto: 17, l4: udp(5000, 123, 48) }));
  add('udp-fwd-unresolved', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.40.1.1', proto: 17, l4: udp(5000, 9, 10) }));
  add('udp-fwd-default', 1, M1, 0x0800, ipPacket({ src: '10.2.0.2', dst: '8.8.8.8', proto: 17, l4: udp(5000, 9, 10) }));
  add('udp-blackhole', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '192.0.2.1', proto: 17, l4: udp(5000, 9, 10) }));
  add('udp-unreachable', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '198.51.100.1', proto: 17, l4: udp(5000, 9, 10) }));
  add('udp-ttl1', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.1.1', proto: 17, ttl: 1, l4: udp(5000, 9, 10) }));
  add('udp-to-p2-big', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.30.1.1', proto: 17, l4: udp(5000, 9, 1400) }));
  add('udp-to-p2-df', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.30.1.1', proto: 17, frag: 0x4000, l4: udp(5000, 9, 1000) }));
  add('udp-jumbo', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.1.1', proto: 17, l4: udp(5000, 9, 1750) }));
  add('udp-bcast', 0, BCAST, 0x0800, ipPacket({ src: '10.1.0.2', dst: '255.255.255.255', proto: 17, l4: udp(68, 67, 20) }));
  add('udp-mcast', 0, [0x01, 0, 0x5e, 0, 0, 1], 0x0800, ipPacket({ src: '10.1.0.2', dst: '224.0.0.1', proto: 17, l4: udp(5000, 9, 20) }));
  add('udp-martian-src', 0, M0, 0x0800, ipPacket({ src: '127.0.0.1', dst: '10.20.1.1', proto: 17, l4: udp(5000, 9, 10) }));
  add('udp-otherhost', 0, [0x02, 0, 0, 0, 9, 9], 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.1.1', proto: 17, l4: udp(5000, 9, 10) }));
  add('tcp-syn-fwd', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.2.0.2', proto: 6, l4: tcp(40000, 80, 0x02, 0, [2, 4, 5, 0xb4, 1, 1, 4, 2]) }));
  add('tcp-fwd-reject', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.3.3', proto: 6, l4: tcp(40000, 25, 0x02) }));
  add('tcp-local-reject', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 6, l4: tcp(40000, 23, 0x02) }));
  add('tcp-local', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 6, l4: tcp(40000, 80, 0x10, 10) }));
  add('proto-unknown', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 253, l4: [1, 2, 3, 4] }));
  // IPv4 options: record route, timestamp, LSRR, SSRR, router alert, NOP/EOL, bogus.
  add('opt-rr', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.1.1', proto: 17, options: [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1], l4: udp(1, 9, 8) }));
  add('opt-ts', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, options: [68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0], l4: icmp(8, 0, [0, 1, 0, 9], [9, 9, 9, 9]) }));
  add('opt-lsrr', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 17, options: [1, 131, 7, 4, 10, 2, 0, 2], l4: udp(1, 9, 8) }));
  add('opt-ssrr', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.1.1', proto: 17, options: [137, 7, 4, 10, 3, 0, 2, 0], l4: udp(1, 9, 8) }));
  add('opt-ra', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 17, options: [148, 4, 0, 0], l4: udp(1, 9, 8) }));
  add('opt-bogus', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.1.1', proto: 17, options: [0x99, 40, 1, 1, 1, 1, 0, 0], l4: udp(1, 9, 8) }));
  // Fragments to us (reassembled) and through us (forwarded as they are).
  add('frag-first', 0, M0, 0x0800, frag('10.1.0.2', '10.1.0.1', 0x100, dg, 0, 800, true));
  add('frag-middle', 0, M0, 0x0800, frag('10.1.0.2', '10.1.0.1', 0x100, dg, 800, 400, true));
  add('frag-last', 0, M0, 0x0800, frag('10.1.0.2', '10.1.0.1', 0x100, dg, 1200, 208, false));
  add('frag-overlap', 0, M0, 0x0800, frag('10.1.0.2', '10.1.0.1', 0x100, dg, 400, 800, true));
  add('frag-dup-first', 0, M0, 0x0800, frag('10.1.0.2', '10.1.0.1', 0x101, dg, 0, 800, true));
  add('frag-lone', 0, M0, 0x0800, frag('10.1.0.2', '10.1.0.1', 0x102, dg, 1600, 8, true));
  add('frag-tiny', 0, M0, 0x0800, frag('10.1.0.2', '10.1.0.1', 0x103, dg, 8, 8, true));
  add('frag-icmp-first', 0, M0, 0x0800, frag('10.1.0.2', '10.1.0.1', 0x104, icmp(8, 0, [0, 1, 0, 7], new Array(300).fill(3)), 0, 160, true, 1));
  add('frag-icmp-last', 0, M0, 0x0800, frag('10.1.0.2', '10.1.0.1', 0x104, icmp(8, 0, [0, 1, 0, 7], new Array(300).fill(3)), 160, 148, false, 1));
  add('frag-fwd', 0, M0, 0x0800, frag('10.1.0.2', '10.30.1.1', 0x105, dg, 0, 1000, true));
  add('frag-vlan', 0, M0, 0x0800, frag('10.100.0.2', '10.100.0.1', 0x106, dg, 0, 400, true), [100]);
  // L2 shapes: QinQ, unknown VLAN, VLAN without address, IPv6, unknown type, LLC length field.
  add('qinq', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, l4: icmp(8, 0, [0, 1, 0, 8], [1]) }), [0x88000000 | 100, 100]);
  add('vlan-unknown', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.1.0.1', proto: 17, l4: udp(1, 9, 8) }), [300]);
  add('vlan-noaddr', 0, M0, 0x0800, ipPacket({ src: '10.1.0.2', dst: '10.20.1.1', proto: 17, l4: udp(1, 9, 8) }), [200]);
  add('ipv6', 0, M0, 0x86dd, new Array(60).fill(0x60));
  add('llc', 0, M0, 0x0040, new Array(64).fill(0x42));
  add('p1-fwd', 1, M1, 0x0800, ipPacket({ src: '10.2.0.2', dst: '10.1.0.2', proto: 17, l4: udp(9, 9, 64) }));
  add('p2-fwd', 2, M2, 0x0800, ipPacket({ src: '10.3.0.2', dst: '10.20.0.9', proto: 17, l4: udp(9, 7, 64) }));
  add('p2-xdp-tx', 2, M2, 0x0800, ipPacket({ src: '10.3.0.2', dst: '10.3.0.1', proto: 17, l4: udp(9, 7, 16) }));
  add('p2-xdp-drop', 2, M2, 0x0800, ipPacket({ src: '10.3.0.2', dst: '10.3.0.1', proto: 17, l4: udp(9, 53, 16) }));
  return T;
}

/** Random bytes into out[from, to), four per draw. */
function fill(r: Rng, out: Uint8Array, from: number, to: number): void {
  let k = from;
  for (; k + 4 <= to; k += 4) {
    const x = r.u32();
    out[k] = x;
    out[k + 1] = x >>> 8;
    out[k + 2] = x >>> 16;
    out[k + 3] = x >>> 24;
  }
  for (; k < to; k++) out[k] = r.u32();
}

/** Interesting values for a mutated 8/16-bit field. */
const MAGIC16 = [0, 1, 2, 4, 5, 7, 8, 13, 14, 15, 19, 20, 21, 24, 27, 28, 40, 60, 64, 127, 128, 255, 256, 576, 1000, 1480, 1499, 1500, 1501, 1514, 1792, 2047, 2048, 0x1fff, 0x2000, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xfffe, 0xffff];

/** Offsets (from l3) of the IPv4 and L4 fields worth mutating, by width (1 or 2 bytes). */
const IP_FIELDS: Array<[number, number]> = [[0, 1], [1, 1], [2, 2], [4, 2], [6, 2], [8, 1], [9, 1], [10, 2], [12, 2], [14, 2], [16, 2], [18, 2], [20, 1], [21, 1], [22, 2], [24, 2], [26, 2], [28, 2], [32, 1], [33, 1]];
const ARP_FIELDS: Array<[number, number]> = [[0, 2], [2, 2], [4, 1], [5, 1], [6, 2], [8, 2], [12, 2], [14, 2], [16, 2], [24, 2], [26, 2]];

/**
 * Write one fuzzed frame into out (≥ maxLen bytes) and return [length, port] packed as
 * len | port << 16. Draws only from r: the same state gives the same frame.
 */
export function makeFrame(r: Rng, templates: ReturnType<typeof buildTemplates>, out: Uint8Array, maxLen: number): number {
  const pick = r.u32() % 100;
  if (pick < 4) {
    // Pure garbage, any length (including 0..14 bytes).
    const len = r.chance(0.5) ? r.int(64) : r.int(maxLen + 1);
    fill(r, out, 0, len);
    return len | (r.int(3) << 16);
  }
  const t = templates[r.int(templates.length)];
  let len = t.bytes.length > maxLen ? maxLen : t.bytes.length;
  out.set(t.bytes.subarray(0, len), 0);
  const l3 = t.l3;
  let port = t.port;
  if (pick < 20) return len | (port << 16); // valid as built
  const ops = 1 + r.int(3);
  let fixCsum = r.chance(0.75);
  for (let o = 0; o < ops; o++) {
    const m = r.int(12);
    if (m <= 2) {
      // A header field set to an interesting value (IPv4/ARP layouts; L4 via l3+20..).
      const fields = t.bytes[l3 - 1] === 0x06 && t.bytes[l3 - 2] === 0x08 ? ARP_FIELDS : IP_FIELDS;
      const [off, w] = fields[r.int(fields.length)];
      let v = r.chance(0.7) ? MAGIC16[r.int(MAGIC16.length)] : r.u32() & 0xffff;
      if (r.chance(0.2)) v = (v + len - l3 + (r.int(9) - 4)) & 0xffff;
      const at = l3 + off;
      if (w === 1) {
        if (at < len) out[at] = v & 255;
      } else if (at + 1 < len) {
        out[at] = v >> 8;
        out[at + 1] = v & 255;
      }
    } else if (m === 3) {
      // Version/IHL nibbles: IHL 0..15 with version 4, or another version.
      if (l3 < len) out[l3] = r.chance(0.8) ? 0x40 | r.int(16) : r.u32() & 255;
    } else if (m === 4) {
      // Bit flips anywhere.
      const k = 1 + r.int(4);
      for (let q = 0; q < k && len > 0; q++) out[r.int(len)] ^= 1 << r.int(8);
    } else if (m === 5) {
      // Truncate: often to the dangerous small sizes (inside the Ethernet/IP header).
      len = r.chance(0.4) ? r.int(Math.min(len, l3 + 24) + 1) : r.int(len + 1);
    } else if (m === 6) {
      // Extend with random bytes (Ethernet padding, trailing garbage, jumbo up to the frame room).
      const nl = len + (r.chance(0.7) ? r.int(Math.min(64, maxLen - len) + 1) : r.int(maxLen - len + 1));
      fill(r, out, len, nl);
      len = nl;
    } else if (m === 7) {
      // Ethernet: destination (ours, broadcast, multicast, other) and EtherType / VLAN tags.
      if (len >= 6) {
        const d = r.int(4);
        const mac = d === 0 ? PORT_MAC[r.int(3)] : d === 1 ? BCAST : d === 2 ? [0x01, 0, 0x5e, 0, 0, r.int(256)] : [r.u32() & 255, 1, 2, 3, 4, 5];
        for (let k = 0; k < 6; k++) out[k] = mac[k];
      }
      if (len >= 14 && r.chance(0.5)) {
        const types = [0x0800, 0x0806, 0x8100, 0x88a8, 0x86dd, 0x0000, 0xffff, 0x05dc, 0x0600];
        const ty = types[r.int(types.length)];
        out[12] = ty >> 8;
        out[13] = ty & 255;
      }
      if (len >= 18 && (out[12] === 0x81 || out[12] === 0x88) && r.chance(0.5)) {
        const vid = r.chance(0.5) ? [0, 100, 200, 4095, 1][r.int(5)] : r.int(4096);
        out[14] = (r.int(16) << 4) | (vid >> 8);
        out[15] = vid & 255;
      }
    } else if (m === 8) {
      // Another ingress port than the template's (the addresses no longer match it).
      port = r.int(3);
    } else if (m === 9) {
      // Random byte inside the IP header or the first L4 bytes.
      const at = l3 + r.int(48);
      if (at < len) out[at] = r.u32() & 255;
    } else if (m === 10) {
      // IPv4 options: random option bytes over the first 40 bytes after the fixed header.
      if (l3 + 20 < len) {
        out[l3] = 0x40 | (6 + r.int(10));
        const k = 1 + r.int(8);
        for (let q = 0; q < k; q++) {
          const at = l3 + 20 + r.int(40);
          if (at < len) out[at] = r.chance(0.5) ? [0, 1, 7, 68, 131, 137, 148, 130, 0x99, 255][r.int(10)] : r.u32() & 255;
        }
      }
    } else {
      // Leave the checksum wrong on purpose (ip_rcv / icmp / netfilter checks).
      fixCsum = false;
    }
  }
  if (fixCsum && len > 14) {
    const h = out[12] === 0x81 || out[12] === 0x88 ? (out[16] === 0x81 ? 22 : 18) : 14;
    fixIpCsum(out, h, len);
    if (r.chance(0.5)) fixL4Csum(out, h, len);
  }
  return len | (port << 16);
}
