/**
 * Frame templates and mutators for the fuzz harness (fuzz.ts). Templates are valid frames of
 * every kind the stack handles, addressed to the fuzz topology (FUZZ_TOPOLOGY below); mutators
 * change header fields, lengths and bytes so the frames reach every validation branch. All
 * generation is driven by one seeded PRNG so a failing batch can be regenerated exactly.
 */

import { ARP_HLN, ARP_HRD, ARP_OP, ARP_PLN, ARP_PRO, ARP_SHA, ARP_SPA, ARP_TPA, ARPOP_REPLY, ARPOP_REQUEST } from '../../src/wire/arp.ts';
import { csumFinish, csumPartial, pseudoHdrSum } from '../../src/wire/checksum.ts';
import { ETH_DST, ETH_HLEN, ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP, ETH_P_IPV6, ETH_TYPE, VLAN_HLEN, VLAN_TCI } from '../../src/wire/ethernet.ts';
import { buildFrame, type FrameSpec, type Ipv4Spec } from '../../src/wire/frame.ts';
import { ICMP_CHECKSUM, ICMP_CODE, ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_EXC_TTL, ICMP_FRAG_NEEDED, ICMP_PORT_UNREACH, ICMP_TIME_EXCEEDED, ICMP_TIMESTAMP, ICMP_TYPE } from '../../src/wire/icmp.ts';
import {
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_CHECK,
  IPV4_DADDR,
  IPV4_FRAG_OFF,
  IPV4_HLEN,
  IPV4_ID,
  IPV4_PROTOCOL,
  IPV4_SADDR,
  IPV4_TOS,
  IPV4_TOT_LEN,
  IPV4_TTL,
  IPV4_VIHL,
  ipDaddr,
  ipIhl,
  ipProto,
  ipSaddr,
  ipTotLen,
} from '../../src/wire/ipv4.ts';
import { TCP_ACK, TCP_ACK_SEQ, TCP_CHECK, TCP_DOFF, TCP_FLAGS, TCP_HLEN, TCP_SYN } from '../../src/wire/tcp.ts';
import { UDP_CHECK, UDP_DEST, UDP_HLEN, UDP_LEN } from '../../src/wire/udp.ts';
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

/** Recompute the IPv4 header checksum at h (a fuzzed header that should pass ip_rcv's check). */
function fixIpCsum(b: Uint8Array, dv: DataView, h: number, end: number): void {
  if (h + IPV4_HLEN > end) return;
  let ihl = ipIhl(b, h);
  if (ihl < IPV4_HLEN) ihl = IPV4_HLEN;
  if (h + ihl > end) return;
  dv.setUint16(h + IPV4_CHECK, 0);
  dv.setUint16(h + IPV4_CHECK, csumFinish(csumPartial(dv, h, ihl, 0)));
}

/**
 * Fix the L4 checksum of a datagram at h (UDP/TCP pseudo-header, ICMP plain), when it fits. It
 * reads only the IPv4 header, so on a fragment it sums the fragment as if it were the whole
 * datagram (the fragment templates are built that way too).
 */
function fixL4Csum(b: Uint8Array, dv: DataView, h: number, end: number): void {
  if (h + IPV4_HLEN > end) return;
  const ihl = ipIhl(b, h);
  const tot = ipTotLen(dv, h);
  if (ihl < IPV4_HLEN || tot < ihl || h + tot > end) return;
  const t = h + ihl;
  const len = tot - ihl;
  const p = ipProto(b, h);
  let at = -1;
  if (p === IPPROTO_ICMP && len >= ICMP_CHECKSUM + 2) at = ICMP_CHECKSUM;
  else if (p === IPPROTO_UDP && len >= UDP_HLEN) at = UDP_CHECK;
  else if (p === IPPROTO_TCP && len >= TCP_HLEN) at = TCP_CHECK;
  if (at < 0) return;
  dv.setUint16(t + at, 0);
  const pseudo = p === IPPROTO_ICMP ? 0 : pseudoHdrSum(ipSaddr(dv, h), ipDaddr(dv, h), p, len);
  const c = csumFinish(csumPartial(dv, t, len, pseudo));
  dv.setUint16(t + at, p === IPPROTO_UDP && c === 0 ? 0xffff : c);
}

function dataView(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Payload bytes: (i * step) & 255. */
function ramp(n: number, step = 1): number[] {
  return Array.from({ length: n }, (_, i) => (i * step) & 255);
}

/** A UDP header with its checksum and a (i * 7) & 255 payload. */
const udpSpec = (sport: number, dport: number, payload: number): Pick<FrameSpec, 'udp' | 'payload'> => ({ udp: { sport, dport, csum: true }, payload: ramp(payload, 7) });

/**
 * Every template, valid as built. The index is the "kind"; mutation keeps the kind's header
 * offsets meaningful (l3 is where the IPv4/ARP header starts).
 */
export function buildTemplates(): Array<{ name: string; port: number; l3: number; bytes: Uint8Array }> {
  const M0 = PORT_MAC[0];
  const M1 = PORT_MAC[1];
  const M2 = PORT_MAC[2];
  const T: Array<{ name: string; port: number; l3: number; bytes: Uint8Array }> = [];
  const add = (name: string, port: number, dstMac: number[], s: FrameSpec, fixup?: (f: Uint8Array, dv: DataView, l3: number) => void) => {
    const bytes = buildFrame({ dstMac, srcMac: PEER, ...s });
    const l3 = ETH_HLEN + (s.vlan === undefined ? 0 : VLAN_HLEN) + (s.qinq === undefined ? 0 : VLAN_HLEN);
    fixup?.(bytes, dataView(bytes), l3);
    T.push({ name, port, l3, bytes });
  };
  const ip = (src: string, dst: string, o: Ipv4Spec = {}): { ip: Ipv4Spec } => ({ ip: { src, dst, ...o } });
  const echo = (seq: number, data: number[]) => ({ icmp: { type: ICMP_ECHO, rest: 0x00010000 | seq }, payload: data });
  // ARP padded to the 60-byte minimum frame, as on the wire.
  const arp = (op: number, spa: string, tpa: string, tha: number[] = [0, 0, 0, 0, 0, 0]) => ({ arp: { op, sha: PEER, spa, tha, tpa }, payload: 18 });
  // The L4 bytes of the whole datagrams that the fragment templates cut (UDP checksum 0).
  const dg = buildFrame({ udp: { sport: 5000, dport: 7000 }, payload: ramp(1400, 7) }).subarray(ETH_HLEN + IPV4_HLEN);
  const echoDg = buildFrame({ icmp: { type: ICMP_ECHO, rest: 0x00010007 }, payload: new Array(300).fill(3) }).subarray(ETH_HLEN + IPV4_HLEN);
  /** A fragment of `payload` at byte offset off; its L4 checksum fixed as if it were whole. */
  const frag = (src: string, dst: string, id: number, payload: Uint8Array, off: number, len: number, more: boolean, proto = IPPROTO_UDP): FrameSpec => ({
    ...ip(src, dst, { proto, id, mf: more, fragOff: off }),
    payload: payload.slice(off, off + len),
  });
  const fragFix = (f: Uint8Array, dv: DataView, l3: number) => fixL4Csum(f, dv, l3, f.length);
  // ARP: requests and replies for us, gratuitous, from many senders, on a VLAN.
  add('arp-req', 0, BCAST, arp(ARPOP_REQUEST, '10.1.0.2', '10.1.0.1'));
  add('arp-req-p1', 1, BCAST, arp(ARPOP_REQUEST, '10.2.0.2', '10.2.0.1'));
  add('arp-req-p2', 2, BCAST, arp(ARPOP_REQUEST, '10.3.0.2', '10.3.0.1'));
  add('arp-reply', 1, M1, arp(ARPOP_REPLY, '10.2.0.77', '10.2.0.1', M1));
  add('arp-garp', 0, BCAST, arp(ARPOP_REQUEST, '10.1.0.9', '10.1.0.9'));
  add('arp-vlan', 0, BCAST, { ...arp(ARPOP_REQUEST, '10.100.0.2', '10.100.0.1'), vlan: 100 });
  add('arp-other', 0, BCAST, arp(ARPOP_REQUEST, '10.1.0.3', '10.1.0.200'));
  // ICMP to us and through us.
  add('echo-local', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), ...echo(1, new Array(56).fill(0x61)) });
  add('echo-vlan', 0, M0, { ...ip('10.100.0.2', '10.100.0.1'), ...echo(2, new Array(32).fill(1)), vlan: 100 });
  add('echo-fwd', 0, M0, { ...ip('10.1.0.2', '10.20.1.1'), ...echo(3, new Array(56).fill(2)) });
  add('echo-bcast', 0, BCAST, { ...ip('10.1.0.2', '10.1.0.255'), ...echo(4, [1, 2, 3, 4]) });
  add('timestamp', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), icmp: { type: ICMP_TIMESTAMP, rest: 0x00010005 }, payload: 12 });
  // A quoted datagram as a sender put it on the wire before it came back in an error (checksums 0).
  const quoted = buildFrame({ ...ip('10.1.0.1', '10.20.1.1', { csum: false }), udp: { sport: 7000, dport: 33434 }, payload: ramp(8, 7) }).subarray(ETH_HLEN);
  add('icmp-unreach', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), icmp: { type: ICMP_DEST_UNREACH, code: ICMP_PORT_UNREACH }, payload: quoted });
  add('icmp-exceeded-fwd', 1, M1, { ...ip('10.20.9.9', '10.1.0.2'), icmp: { type: ICMP_TIME_EXCEEDED, code: ICMP_EXC_TTL }, payload: quoted });
  add('icmp-fragneeded', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), icmp: { type: ICMP_DEST_UNREACH, code: ICMP_FRAG_NEEDED, rest: 576 }, payload: quoted });
  // UDP/TCP local and forwarded, netfilter matches.
  add('udp-local', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), ...udpSpec(5000, 9, 18) });
  add('udp-local-reject', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), ...udpSpec(5000, 69, 18) });
  add('udp-fwd', 0, M0, { ...ip('10.1.0.2', '10.2.0.2'), ...udpSpec(5000, 9, 100) });
  add('udp-fwd-dns', 0, M0, { ...ip('10.1.0.2', '10.20.0.5'), ...udpSpec(5000, 53, 30) });
  add('udp-fwd-mark', 1, M1, { ...ip('10.2.0.2', '10.1.0.2'), ...udpSpec(5000, 123, 48) });
  add('udp-fwd-unresolved', 0, M0, { ...ip('10.1.0.2', '10.40.1.1'), ...udpSpec(5000, 9, 10) });
  add('udp-fwd-default', 1, M1, { ...ip('10.2.0.2', '8.8.8.8'), ...udpSpec(5000, 9, 10) });
  add('udp-blackhole', 0, M0, { ...ip('10.1.0.2', '192.0.2.1'), ...udpSpec(5000, 9, 10) });
  add('udp-unreachable', 0, M0, { ...ip('10.1.0.2', '198.51.100.1'), ...udpSpec(5000, 9, 10) });
  add('udp-ttl1', 0, M0, { ...ip('10.1.0.2', '10.20.1.1', { ttl: 1 }), ...udpSpec(5000, 9, 10) });
  add('udp-to-p2-big', 0, M0, { ...ip('10.1.0.2', '10.30.1.1'), ...udpSpec(5000, 9, 1400) });
  add('udp-to-p2-df', 0, M0, { ...ip('10.1.0.2', '10.30.1.1', { df: true }), ...udpSpec(5000, 9, 1000) });
  add('udp-jumbo', 0, M0, { ...ip('10.1.0.2', '10.20.1.1'), ...udpSpec(5000, 9, 1750) });
  add('udp-bcast', 0, BCAST, { ...ip('10.1.0.2', '255.255.255.255'), ...udpSpec(68, 67, 20) });
  add('udp-mcast', 0, [0x01, 0, 0x5e, 0, 0, 1], { ...ip('10.1.0.2', '224.0.0.1'), ...udpSpec(5000, 9, 20) });
  add('udp-martian-src', 0, M0, { ...ip('127.0.0.1', '10.20.1.1'), ...udpSpec(5000, 9, 10) });
  add('udp-otherhost', 0, [0x02, 0, 0, 0, 9, 9], { ...ip('10.1.0.2', '10.20.1.1'), ...udpSpec(5000, 9, 10) });
  add('tcp-syn-fwd', 0, M0, { ...ip('10.1.0.2', '10.2.0.2'), tcp: { sport: 40000, dport: 80, flags: TCP_SYN, mss: 1460, sackOk: true } });
  add('tcp-fwd-reject', 0, M0, { ...ip('10.1.0.2', '10.20.3.3'), tcp: { sport: 40000, dport: 25, flags: TCP_SYN } });
  add('tcp-local-reject', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), tcp: { sport: 40000, dport: 23, flags: TCP_SYN } });
  add('tcp-local', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), tcp: { sport: 40000, dport: 80, flags: TCP_ACK }, payload: ramp(10) });
  add('proto-unknown', 0, M0, { ...ip('10.1.0.2', '10.1.0.1', { proto: 253 }), payload: [1, 2, 3, 4] });
  // IPv4 options: record route, timestamp, LSRR, SSRR, router alert, NOP/EOL, bogus.
  add('opt-rr', 0, M0, { ...ip('10.1.0.2', '10.20.1.1', { options: [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1] }), ...udpSpec(1, 9, 8) });
  add('opt-ts', 0, M0, { ...ip('10.1.0.2', '10.1.0.1', { options: [68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0] }), ...echo(9, [9, 9, 9, 9]) });
  add('opt-lsrr', 0, M0, { ...ip('10.1.0.2', '10.1.0.1', { options: [1, 131, 7, 4, 10, 2, 0, 2] }), ...udpSpec(1, 9, 8) });
  add('opt-ssrr', 0, M0, { ...ip('10.1.0.2', '10.20.1.1', { options: [137, 7, 4, 10, 3, 0, 2, 0] }), ...udpSpec(1, 9, 8) });
  add('opt-ra', 0, M0, { ...ip('10.1.0.2', '10.1.0.1', { options: [148, 4, 0, 0] }), ...udpSpec(1, 9, 8) });
  add('opt-bogus', 0, M0, { ...ip('10.1.0.2', '10.20.1.1', { options: [0x99, 40, 1, 1, 1, 1, 0, 0] }), ...udpSpec(1, 9, 8) });
  // Fragments to us (reassembled) and through us (forwarded as they are).
  add('frag-first', 0, M0, frag('10.1.0.2', '10.1.0.1', 0x100, dg, 0, 800, true), fragFix);
  add('frag-middle', 0, M0, frag('10.1.0.2', '10.1.0.1', 0x100, dg, 800, 400, true), fragFix);
  add('frag-last', 0, M0, frag('10.1.0.2', '10.1.0.1', 0x100, dg, 1200, 208, false), fragFix);
  add('frag-overlap', 0, M0, frag('10.1.0.2', '10.1.0.1', 0x100, dg, 400, 800, true), fragFix);
  add('frag-dup-first', 0, M0, frag('10.1.0.2', '10.1.0.1', 0x101, dg, 0, 800, true), fragFix);
  add('frag-lone', 0, M0, frag('10.1.0.2', '10.1.0.1', 0x102, dg, 1600, 8, true), fragFix);
  add('frag-tiny', 0, M0, frag('10.1.0.2', '10.1.0.1', 0x103, dg, 8, 8, true), fragFix);
  add('frag-icmp-first', 0, M0, frag('10.1.0.2', '10.1.0.1', 0x104, echoDg, 0, 160, true, IPPROTO_ICMP), fragFix);
  add('frag-icmp-last', 0, M0, frag('10.1.0.2', '10.1.0.1', 0x104, echoDg, 160, 148, false, IPPROTO_ICMP), fragFix);
  add('frag-fwd', 0, M0, frag('10.1.0.2', '10.30.1.1', 0x105, dg, 0, 1000, true), fragFix);
  add('frag-vlan', 0, M0, { ...frag('10.100.0.2', '10.100.0.1', 0x106, dg, 0, 400, true), vlan: 100 }, fragFix);
  // L2 shapes: two stacked 802.1Q tags, unknown VLAN, VLAN without address, IPv6, unknown type,
  // LLC length field. ("qinq" carries 0x8100 outside, not 802.1ad: the fuzz runs were measured so.)
  add('qinq', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), ...echo(8, [1]), qinq: 100, vlan: 100 }, (_f, dv) => dv.setUint16(ETH_TYPE, ETH_P_8021Q));
  add('vlan-unknown', 0, M0, { ...ip('10.1.0.2', '10.1.0.1'), ...udpSpec(1, 9, 8), vlan: 300 });
  add('vlan-noaddr', 0, M0, { ...ip('10.1.0.2', '10.20.1.1'), ...udpSpec(1, 9, 8), vlan: 200 });
  add('ipv6', 0, M0, { type: ETH_P_IPV6, payload: new Array(60).fill(0x60) });
  add('llc', 0, M0, { type: 0x0040, payload: new Array(64).fill(0x42) });
  add('p1-fwd', 1, M1, { ...ip('10.2.0.2', '10.1.0.2'), ...udpSpec(9, 9, 64) });
  add('p2-fwd', 2, M2, { ...ip('10.3.0.2', '10.20.0.9'), ...udpSpec(9, 7, 64) });
  add('p2-xdp-tx', 2, M2, { ...ip('10.3.0.2', '10.3.0.1'), ...udpSpec(9, 7, 16) });
  add('p2-xdp-drop', 2, M2, { ...ip('10.3.0.2', '10.3.0.1'), ...udpSpec(9, 53, 16) });
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

/** The EtherType's high byte is a VLAN TPID's (0x81xx or 0x88xx: 802.1Q, 802.1ad, or near them). */
function tagged(out: Uint8Array): boolean {
  return out[ETH_TYPE] === ETH_P_8021Q >> 8 || out[ETH_TYPE] === ETH_P_8021AD >> 8;
}

/** Interesting values for a mutated 8/16-bit field. */
const MAGIC16 = [0, 1, 2, 4, 5, 7, 8, 13, 14, 15, 19, 20, 21, 24, 27, 28, 40, 60, 64, 127, 128, 255, 256, 576, 1000, 1480, 1499, 1500, 1501, 1514, 1792, 2047, 2048, 0x1fff, 0x2000, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xfffe, 0xffff];

/**
 * Offsets (from l3) of the IPv4 and L4 fields worth mutating, by width (1 or 2 bytes). L4 fields
 * are counted from a header without options; one offset serves several protocols (UDP_DEST is
 * also ICMP's checksum and TCP's destination port).
 */
const L4 = IPV4_HLEN;
const IP_FIELDS: Array<[number, number]> = [
  [IPV4_VIHL, 1], [IPV4_TOS, 1], [IPV4_TOT_LEN, 2], [IPV4_ID, 2], [IPV4_FRAG_OFF, 2], [IPV4_TTL, 1], [IPV4_PROTOCOL, 1], [IPV4_CHECK, 2],
  [IPV4_SADDR, 2], [IPV4_SADDR + 2, 2], [IPV4_DADDR, 2], [IPV4_DADDR + 2, 2],
  [L4 + ICMP_TYPE, 1], [L4 + ICMP_CODE, 1], [L4 + UDP_DEST, 2], [L4 + UDP_LEN, 2], [L4 + UDP_CHECK, 2], [L4 + TCP_ACK_SEQ, 2], [L4 + TCP_DOFF, 1], [L4 + TCP_FLAGS, 1],
];
const ARP_FIELDS: Array<[number, number]> = [[ARP_HRD, 2], [ARP_PRO, 2], [ARP_HLN, 1], [ARP_PLN, 1], [ARP_OP, 2], [ARP_SHA, 2], [ARP_SHA + 4, 2], [ARP_SPA, 2], [ARP_SPA + 2, 2], [ARP_TPA, 2], [ARP_TPA + 2, 2]];

/** The scratch buffer's view, made once (makeFrame runs millions of times on the same buffer). */
let lastOut: Uint8Array | null = null;
let lastDv: DataView | null = null;
function viewOf(out: Uint8Array): DataView {
  if (out !== lastOut || lastDv === null) {
    lastOut = out;
    lastDv = dataView(out);
  }
  return lastDv;
}

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
  const dv = viewOf(out);
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
      const fields = ((t.bytes[l3 - 2] << 8) | t.bytes[l3 - 1]) === ETH_P_ARP ? ARP_FIELDS : IP_FIELDS;
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
      if (l3 < len) out[l3 + IPV4_VIHL] = r.chance(0.8) ? 0x40 | r.int(16) : r.u32() & 255;
    } else if (m === 4) {
      // Bit flips anywhere.
      const k = 1 + r.int(4);
      for (let q = 0; q < k && len > 0; q++) out[r.int(len)] ^= 1 << r.int(8);
    } else if (m === 5) {
      // Truncate: often to the dangerous small sizes (inside the Ethernet/IP header).
      len = r.chance(0.4) ? r.int(Math.min(len, l3 + IPV4_HLEN + 4) + 1) : r.int(len + 1);
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
        for (let k = 0; k < 6; k++) out[ETH_DST + k] = mac[k];
      }
      if (len >= 14 && r.chance(0.5)) {
        const types = [0x0800, 0x0806, 0x8100, 0x88a8, 0x86dd, 0x0000, 0xffff, 0x05dc, 0x0600];
        const ty = types[r.int(types.length)];
        dv.setUint16(ETH_TYPE, ty);
      }
      if (len >= ETH_HLEN + VLAN_HLEN && tagged(out) && r.chance(0.5)) {
        const vid = r.chance(0.5) ? [0, 100, 200, 4095, 1][r.int(5)] : r.int(4096);
        const pcpDei = r.int(16);
        dv.setUint16(VLAN_TCI, (pcpDei << 12) | vid);
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
      if (l3 + IPV4_HLEN < len) {
        out[l3 + IPV4_VIHL] = 0x40 | (6 + r.int(10));
        const k = 1 + r.int(8);
        for (let q = 0; q < k; q++) {
          const at = l3 + IPV4_HLEN + r.int(40);
          if (at < len) out[at] = r.chance(0.5) ? [0, 1, 7, 68, 131, 137, 148, 130, 0x99, 255][r.int(10)] : r.u32() & 255;
        }
      }
    } else {
      // Leave the checksum wrong on purpose (ip_rcv / icmp / netfilter checks).
      fixCsum = false;
    }
  }
  if (fixCsum && len > 14) {
    const h = !tagged(out) ? ETH_HLEN : out[ETH_TYPE + VLAN_HLEN] === ETH_P_8021Q >> 8 ? ETH_HLEN + 2 * VLAN_HLEN : ETH_HLEN + VLAN_HLEN;
    fixIpCsum(out, dv, h, len);
    if (r.chance(0.5)) fixL4Csum(out, dv, h, len);
  }
  return len | (port << 16);
}
