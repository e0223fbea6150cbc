import { parseIPv4, parseMac } from './addr.ts';
import { writeArp, ARP_LEN } from './arp.ts';
import { ETH_HLEN, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_TYPE, VLAN_HLEN, VLAN_TCI, macHi, macLo, writeEthHeader } from './ethernet.ts';
import { ICMP_HLEN, writeIcmpHeader } from './icmp.ts';
import { IP_DF, IP_MF, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_HLEN, ipSendCheck, writeIpv4Header } from './ipv4.ts';
import { TCP_HLEN, writeTcpHeader } from './tcp.ts';
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
  /** EtherType; defaults from what follows (IPv4, ARP), else 0x0800. */
  type?: number;
  arp?: ArpSpec;
  ip?: Ipv4Spec;
  udp?: { sport?: number; dport?: number; csum?: boolean };
  tcp?: { sport?: number; dport?: number; seq?: number; ack?: number; flags?: number; window?: number };
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

export function buildFrame(s: FrameSpec): Uint8Array {
  const ip = s.ip ?? (s.udp || s.tcp || s.icmp ? {} : undefined);
  const tag = s.vlan === undefined ? 0 : VLAN_HLEN;
  const l3 = ETH_HLEN + tag;
  const opts = ip?.options ?? [];
  const ihl = IPV4_HLEN + ((opts.length + 3) & ~3);
  const l4len = s.udp ? UDP_HLEN : s.tcp ? TCP_HLEN : s.icmp ? ICMP_HLEN : 0;
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
  if (s.vlan !== undefined) {
    dv.setUint16(ETH_TYPE, ETH_P_8021Q);
    dv.setUint16(VLAN_TCI, s.vlan);
    dv.setUint16(ETH_TYPE + VLAN_HLEN, type);
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
  if (s.tcp) {
    const t = s.tcp;
    writeTcpHeader(dv, l4, t.sport ?? 40000, t.dport ?? 80, t.seq ?? 1, t.ack ?? 0, t.flags ?? 0x02, t.window ?? 65535, seg, saddr, daddr);
  }
  if (s.icmp) writeIcmpHeader(dv, l4, s.icmp.type, s.icmp.code ?? 0, s.icmp.rest ?? 0, seg);
  writeIpv4Header(dv, l3, ip.tos ?? 0, tot, ip.id ?? 0x1234, frag, ip.ttl ?? 64, proto, saddr, daddr);
  if (opts.length > 0 || ip.totLen !== undefined || ip.csum === false) {
    f[l3] = 0x40 | (ihl >>> 2);
    f.set(opts, l3 + IPV4_HLEN);
    if (ip.totLen !== undefined) dv.setUint16(l3 + 2, ip.totLen);
    ipSendCheck(dv, l3);
    if (ip.csum === false) dv.setUint16(l3 + 10, 0);
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
