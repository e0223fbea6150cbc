import { csumFinish, csumFold, csumPartial, csumReplace16 } from './checksum.ts';

/**
 * The IPv4 header (include/uapi/linux/ip.h, RFC 791). `h` is the header's offset in the buffer;
 * addresses are host-order u32. `ipv4Check` validates a received header once, in ip_rcv_core's
 * order; after it the accessors cannot read outside the header.
 */

export const IPV4_VIHL = 0; // version (high nibble), ihl in 32-bit words (low nibble)
export const IPV4_TOS = 1;
export const IPV4_TOT_LEN = 2;
export const IPV4_ID = 4;
export const IPV4_FRAG_OFF = 6; // flags (3 bits) + fragment offset in 8-byte units
export const IPV4_TTL = 8;
export const IPV4_PROTOCOL = 9;
export const IPV4_CHECK = 10;
export const IPV4_SADDR = 12;
export const IPV4_DADDR = 16;
/** Header without options. */
export const IPV4_HLEN = 20;
export const IPV4_MAX_HLEN = 60;

export const IP_CE = 0x8000;
export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFSET = 0x1fff;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** `ipv4Check` results, each a different MIB counter in ip_rcv_core. */
export const IPV4_OK = 0;
/** Not even 20 bytes, bad version, ihl < 5, or ihl / tot_len inconsistent: InHdrErrors. */
export const IPV4_BAD_HDR = 1;
/** InCsumErrors (and InHdrErrors). */
export const IPV4_BAD_CSUM = 2;
/** tot_len runs past the bytes received: InTruncatedPkts. */
export const IPV4_TRUNCATED = 3;

// This file's functions read module-local copies: V8 loads an exported binding from its module
// cell, with a TDZ check, at every use, and folds a local const (README, "On the hot path").
const VIHL = IPV4_VIHL;
const TOS = IPV4_TOS;
const TOT_LEN = IPV4_TOT_LEN;
const ID = IPV4_ID;
const FRAG_OFF = IPV4_FRAG_OFF;
const TTL = IPV4_TTL;
const PROTOCOL = IPV4_PROTOCOL;
const CHECK = IPV4_CHECK;
const SADDR = IPV4_SADDR;
const DADDR = IPV4_DADDR;
const HLEN = IPV4_HLEN;
const MF = IP_MF;
const OFFSET = IP_OFFSET;
const OK = IPV4_OK;
const BAD_HDR = IPV4_BAD_HDR;
const BAD_CSUM = IPV4_BAD_CSUM;
const TRUNCATED = IPV4_TRUNCATED;

/**
 * Validate the header at h with `avail` bytes from h on, in ip_rcv_core's order: length,
 * version/ihl, checksum, tot_len. Reads nothing outside [h, h + avail).
 */
export function ipv4Check(dv: DataView, h: number, avail: number): number {
  if (avail < HLEN) return BAD_HDR;
  const vihl = dv.getUint8(h);
  const ihl = (vihl & 0x0f) << 2;
  if ((vihl & 0xf0) !== 0x40 || ihl < HLEN || ihl > avail) return BAD_HDR;
  if (ihl === HLEN ? !ipHdrCsumOk5(dv, h) : !ipHdrCsumOk(dv, h, ihl >>> 2)) return BAD_CSUM;
  const tot = dv.getUint16(h + TOT_LEN);
  if (tot > avail) return TRUNCATED;
  if (tot < ihl) return BAD_HDR;
  return OK;
}

/** Header length in bytes. */
export function ipIhl(u8: Uint8Array, h: number): number {
  return (u8[h + VIHL] & 0x0f) << 2;
}

export function ipTotLen(dv: DataView, h: number): number {
  return dv.getUint16(h + TOT_LEN);
}

/** Flags and fragment offset as one word (test with IP_DF, IP_MF, IP_OFFSET). */
export function ipFragOff(dv: DataView, h: number): number {
  return dv.getUint16(h + FRAG_OFF);
}

/** A fragment: more follow, or not the first (ip_is_fragment). */
export function ipIsFragment(dv: DataView, h: number): boolean {
  return (dv.getUint16(h + FRAG_OFF) & (MF | OFFSET)) !== 0;
}

export function ipTtl(u8: Uint8Array, h: number): number {
  return u8[h + TTL];
}

export function ipProto(u8: Uint8Array, h: number): number {
  return u8[h + PROTOCOL];
}

export function ipSaddr(dv: DataView, h: number): number {
  return dv.getUint32(h + SADDR);
}

export function ipDaddr(dv: DataView, h: number): number {
  return dv.getUint32(h + DADDR);
}

/**
 * Write a 20-byte header (no options) at h and its checksum (iph fields as ip_build_and_send_pkt
 * sets them). `fragOff` is the flags + offset word (IP_DF for most originated packets).
 */
export function writeIpv4Header(
  dv: DataView,
  h: number,
  tos: number,
  totLen: number,
  id: number,
  fragOff: number,
  ttl: number,
  proto: number,
  saddr: number,
  daddr: number,
): void {
  dv.setUint8(h + VIHL, 0x45);
  dv.setUint8(h + TOS, tos);
  dv.setUint16(h + TOT_LEN, totLen);
  dv.setUint16(h + ID, id);
  dv.setUint16(h + FRAG_OFF, fragOff);
  dv.setUint8(h + TTL, ttl);
  dv.setUint8(h + PROTOCOL, proto);
  dv.setUint32(h + SADDR, saddr >>> 0);
  dv.setUint32(h + DADDR, daddr >>> 0);
  ipSendCheck(dv, h);
}

/**
 * True when the 20-byte header at h (ihl = 5) checksums to zero. Unrolled: this runs for every
 * received packet, and ten straight loads beat a loop here.
 */
export function ipHdrCsumOk5(dv: DataView, h: number): boolean {
  const w0 = dv.getUint32(h);
  const w1 = dv.getUint32(h + 4);
  const w2 = dv.getUint32(h + 8);
  const w3 = dv.getUint32(h + 12);
  const w4 = dv.getUint32(h + 16);
  let s =
    (w0 >>> 16) + (w0 & 0xffff) + (w1 >>> 16) + (w1 & 0xffff) + (w2 >>> 16) + (w2 & 0xffff) +
    (w3 >>> 16) + (w3 & 0xffff) + (w4 >>> 16) + (w4 & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

/** The general case (options present): `ihl` in 32-bit words. */
export function ipHdrCsumOk(dv: DataView, h: number, ihl: number): boolean {
  return csumFold(csumPartial(dv, h, ihl << 2, 0)) === 0xffff;
}

/** Recompute and store the header checksum of the header at h (ip_send_check). */
export function ipSendCheck(dv: DataView, h: number): void {
  dv.setUint16(h + CHECK, 0);
  dv.setUint16(h + CHECK, csumFinish(csumPartial(dv, h, (dv.getUint8(h) & 0x0f) << 2, 0)));
}

/**
 * ip_decrease_ttl: decrement the TTL of the header at h and patch its checksum in place
 * (RFC 1624; the TTL is the high byte of the word at IPV4_TTL). Returns the new TTL.
 */
export function ipDecreaseTtl(dv: DataView, h: number): number {
  const old = dv.getUint16(h + TTL);
  const nw = old - 0x100;
  dv.setUint16(h + TTL, nw);
  dv.setUint16(h + CHECK, csumReplace16(dv.getUint16(h + CHECK), old, nw));
  return nw >>> 8;
}
