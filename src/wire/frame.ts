import { parseIPv4, parseMac } from './addr.ts';
import { writeArp, ARP_LEN } from './arp.ts';
import { ETH_HLEN, ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_TYPE, VLAN_HLEN, VLAN_TCI, macHi, macLo, writeEthHeader } from './ethernet.ts';
import { ICMP_HLEN, writeIcmpHeader } from './icmp.ts';
import { IP_DF, IP_MF, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_CHECK, IPV4_HLEN, IPV4_TOT_LEN, IPV4_VIHL, ipSendCheck, writeIpv4Header } from './ipv4.ts';
import { TCP_HLEN, TCP_MAX_HLEN, TCP_SYN, tcpSetCsum, tcpWriteSackOption, tcpWriteSynOptions, tcpWriteTsOption, writeTcpHdr } from './tcp.ts';
import { UDP_HLEN, writeUdpHeader } from './udp.ts';

/**
 * Whole frames from a description, built with the header writers: for the generator, the CLI
 * and tests (slow path: allocates). Omitted fields take the defaults below, so a test states only
 * what it is about. Addresses are strings or numbers (host-order u32) / byte arrays.
 */

type Mac = string | Uint8Array | readonly number[];
type Ip = string | number;

export interface FrameSpec {
  dstMac?: Mac;
  srcMac?: Mac;
  /** An 802.1Q tag with this TCI (VLAN id in the low 12 bits). */
  vlan?: number;
  /** QinQ: an 802.1ad tag with this TCI outside the 802.1Q one (needs `vlan`). */
  qinq?: number;
  /** EtherType; defaults from what follows (IPv4, ARP), else 0x0800. */
  type?: number;
  arp?: ArpSpec;
  ip?: Ipv4Spec;
  udp?: { sport?: number; dport?: number; csum?: boolean };
  tcp?: TcpSpec;
  icmp?: { type: number; code?: number; rest?: number };
  /** Bytes after the last header (or its length, zero-filled). */
  payload?: Uint8Array | readonly number[] | number;
  /** Whole frame length: the payload is grown to reach it (never shrunk). */
  size?: number;
  /** Bytes after the IP datagram (Ethernet padding, not counted in tot_len). */
  pad?: number;
}

export interface Ipv4Spec {
  src?: Ip;
  dst?: Ip;
  /** Defaults to the L4 header given (udp/tcp/icmp), else UDP. */
  proto?: number;
  ttl?: number;
  id?: number;
  tos?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragOff?: number;
  /** Option bytes (padded to 4 with END). */
  options?: readonly number[];
  /** tot_len override (to craft inconsistent headers); the checksum still covers the header. */
  totLen?: number;
  /** false: leave the header checksum 0. */
  csum?: boolean;
}

export interface TcpSpec {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  /** A SYN's options in Linux's layout (tcpWriteSynOptions): MSS, with window scale and SACK-permitted. */
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  /** Timestamp option [tsval, tsecr]: on a SYN (with mss) or NOP NOP TS on any segment. */
  ts?: readonly [number, number];
  /** SACK blocks [start, end] (not on a SYN). */
  sack?: ReadonlyArray<readonly [number, number]>;
  /** Raw option bytes instead of the ones above (padded to 4 with EOL). */
  options?: readonly number[];
  /** Data offset override in 32-bit words (to craft inconsistent headers); the checksum still covers the segment. */
  doff?: number;
}

export interface ArpSpec {
  op: number;
  sha?: Mac;
  spa: Ip;
  tha?: Mac;
  tpa: Ip;
}

export const DEFAULT_SRC_MAC = '02:00:00:00:00:01';
export const DEFAULT_DST_MAC = '02:00:00:00:00:02';
const DEFAULT_SRC_IP = '10.0.0.1';
const DEFAULT_DST_IP = '10.0.0.2';

export function macBytes(m: Mac): Uint8Array {
  if (typeof m === 'string') return parseMac(m);
  if (m.length !== 6) throw new Error(`a MAC address is 6 bytes, got ${m.length}`);
  return Uint8Array.from(m);
}

export function ipNumber(a: Ip): number {
  return typeof a === 'number' ? a >>> 0 : parseIPv4(a);
}

/** The option bytes of a TCP header, written by the wire/tcp.ts option writers. */
function tcpOptions(t: TcpSpec): Uint8Array {
  if (t.options) {
    const raw = new Uint8Array((t.options.length + 3) & ~3);
    raw.set(t.options);
    return raw;
  }
  const o = new Uint8Array(TCP_MAX_HLEN - TCP_HLEN);
  const dv = new DataView(o.buffer);
  let n = 0;
  if (t.mss !== undefined) {
    if (t.sack) throw new Error('SACK blocks do not go on a SYN (mss given)');
    n = tcpWriteSynOptions(dv, 0, t.mss, t.wscale ?? -1, t.sackOk ?? false, t.ts !== undefined, t.ts?.[0] ?? 0, t.ts?.[1] ?? 0);
  } else {
    if (t.wscale !== undefined || t.sackOk) throw new Error('window scale and SACK-permitted are SYN options: give mss too');
    if (t.ts) n += tcpWriteTsOption(dv, n, t.ts[0], t.ts[1]);
    if (t.sack && t.sack.length > 0) n += tcpWriteSackOption(dv, n, Uint32Array.from(t.sack.flat()), t.sack.length);
  }
  return o.subarray(0, n);
}

export function buildFrame(s: FrameSpec): Uint8Array {
  const ip = s.ip ?? (s.udp || s.tcp || s.icmp ? {} : undefined);
  if (s.qinq !== undefined && s.vlan === undefined) throw new Error('qinq is the outer tag of a vlan: give vlan too');
  const tag = (s.vlan === undefined ? 0 : VLAN_HLEN) + (s.qinq === undefined ? 0 : VLAN_HLEN);
  const l3 = ETH_HLEN + tag;
  const opts = ip?.options ?? [];
  const ihl = IPV4_HLEN + ((opts.length + 3) & ~3);
  const tcpOpts = s.tcp ? tcpOptions(s.tcp) : undefined;
  const l4len = s.udp ? UDP_HLEN : tcpOpts ? TCP_HLEN + tcpOpts.length : s.icmp ? ICMP_HLEN : 0;
  const hdrs = l3 + (s.arp ? ARP_LEN : ip ? ihl + l4len : 0);
  let payload = typeof s.payload === 'number' ? new Uint8Array(s.payload) : Uint8Array.from(s.payload ?? []);
  if (s.size !== undefined && hdrs + payload.length < s.size) {
    const grown = new Uint8Array(s.size - hdrs);
    grown.set(payload);
    payload = grown;
  }
  const f = new Uint8Array(hdrs + payload.length + (s.pad ?? 0));
  const dv = new DataView(f.buffer);
  const src = macBytes(s.srcMac ?? DEFAULT_SRC_MAC);
  const dst = macBytes(s.dstMac ?? DEFAULT_DST_MAC);
  const type = s.type ?? (s.arp ? ETH_P_ARP : ETH_P_IP);
  writeEthHeader(dv, 0, macHi(dst), macLo(dst), macHi(src), macLo(src), type);
  // Tags from the outside in: each is a TPID where the EtherType was, then its TCI.
  let t = 0;
  if (s.qinq !== undefined) {
    dv.setUint16(ETH_TYPE, ETH_P_8021AD);
    dv.setUint16(VLAN_TCI, s.qinq);
    t = VLAN_HLEN;
  }
  if (s.vlan !== undefined) {
    dv.setUint16(t + ETH_TYPE, ETH_P_8021Q);
    dv.setUint16(t + VLAN_TCI, s.vlan);
    dv.setUint16(t + ETH_TYPE + VLAN_HLEN, type);
  }
  f.set(payload, hdrs);
  if (s.arp) {
    const a = s.arp;
    const sha = macBytes(a.sha ?? src);
    const tha = macBytes(a.tha ?? [0, 0, 0, 0, 0, 0]);
    writeArp(dv, l3, a.op, macHi(sha), macLo(sha), ipNumber(a.spa), macHi(tha), macLo(tha), ipNumber(a.tpa));
    return f;
  }
  if (!ip) return f;
  const saddr = ipNumber(ip.src ?? DEFAULT_SRC_IP);
  const daddr = ipNumber(ip.dst ?? DEFAULT_DST_IP);
  const proto = ip.proto ?? (s.tcp ? IPPROTO_TCP : s.icmp ? IPPROTO_ICMP : IPPROTO_UDP);
  const tot = ihl + l4len + payload.length;
  const frag = (ip.df ? IP_DF : 0) | (ip.mf ? IP_MF : 0) | ((ip.fragOff ?? 0) >>> 3);
  const l4 = l3 + ihl;
  const seg = tot - ihl;
  if (s.udp) writeUdpHeader(dv, l4, s.udp.sport ?? 4000, s.udp.dport ?? 9, seg, saddr, daddr, s.udp.csum ?? false);
  if (s.tcp && tcpOpts) {
    const tc = s.tcp;
    f.set(tcpOpts, l4 + TCP_HLEN);
    const hlen = tc.doff === undefined ? TCP_HLEN + tcpOpts.length : tc.doff << 2;
    writeTcpHdr(dv, l4, tc.sport ?? 40000, tc.dport ?? 80, tc.seq ?? 1, tc.ack ?? 0, hlen, tc.flags ?? TCP_SYN, tc.window ?? 65535);
    tcpSetCsum(dv, l4, seg, seg, saddr, daddr, 0);
  }
  if (s.icmp) writeIcmpHeader(dv, l4, s.icmp.type, s.icmp.code ?? 0, s.icmp.rest ?? 0, seg);
  writeIpv4Header(dv, l3, ip.tos ?? 0, tot, ip.id ?? 0x1234, frag, ip.ttl ?? 64, proto, saddr, daddr);
  if (opts.length > 0 || ip.totLen !== undefined || ip.csum === false) {
    f[l3 + IPV4_VIHL] = 0x40 | (ihl >>> 2);
    f.set(opts, l3 + IPV4_HLEN);
    if (ip.totLen !== undefined) dv.setUint16(l3 + IPV4_TOT_LEN, ip.totLen);
    ipSendCheck(dv, l3);
    if (ip.csum === false) dv.setUint16(l3 + IPV4_CHECK, 0);
  }
  return f;
}

export interface UdpFrameSpec {
  srcMac: Mac;
  dstMac: Mac;
  srcIp: Ip;
  dstIp: Ip;
  sport: number;
  dport: number;
  /** Whole frame length in bytes without FCS (>= 42). Default 60 (a minimum frame, "64 B" on the wire). */
  size?: number;
  ttl?: number;
}

/**
 * The generator's frame: Ethernet + IPv4 (DF) + UDP with a correct header checksum and UDP
 * checksum 0, which IPv4 allows ("no checksum").
 */
export function buildUdpFrame(spec: UdpFrameSpec): Uint8Array {
  const size = spec.size ?? 60;
  if (size < 42 || size > 9014) throw new Error(`frame size ${size} out of range 42..9014`);
  return buildFrame({
    srcMac: spec.srcMac,
    dstMac: spec.dstMac,
    ip: { src: spec.srcIp, dst: spec.dstIp, ttl: spec.ttl, df: true, id: 0 },
    udp: { sport: spec.sport & 0xffff, dport: spec.dport & 0xffff },
    size,
  });
}
