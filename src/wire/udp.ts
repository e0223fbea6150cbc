import { csumFinish, csumPartial, pseudoHdrSum } from './checksum.ts';
import { IPPROTO_UDP } from './ipv4.ts';

/** The UDP header (include/uapi/linux/udp.h, RFC 768). Offsets from the UDP header start. */

export const UDP_SOURCE = 0;
export const UDP_DEST = 2;
export const UDP_LEN = 4;
export const UDP_CHECK = 6;
export const UDP_HLEN = 8;

// This file's functions read module-local copies: V8 loads an exported (or imported) binding
// from its module cell, with a TDZ check, at every use, and folds a local const (README, "On the
// hot path"). udp-rcv calls udpLenOk and udpCsumOk for every datagram.
const SOURCE = UDP_SOURCE;
const DEST = UDP_DEST;
const LEN = UDP_LEN;
const CHECK = UDP_CHECK;
const HLEN = UDP_HLEN;
const PROTO_UDP = IPPROTO_UDP;

export function udpSport(dv: DataView, p: number): number {
  return dv.getUint16(p + SOURCE);
}

export function udpDport(dv: DataView, p: number): number {
  return dv.getUint16(p + DEST);
}

export function udpLen(dv: DataView, p: number): number {
  return dv.getUint16(p + LEN);
}

export function udpCheck(dv: DataView, p: number): number {
  return dv.getUint16(p + CHECK);
}

/**
 * Valid for `avail` bytes of IP payload from p: the header fits and the UDP length covers the
 * header and no more than what arrived (__udp4_lib_rcv's checks). Checksum not included.
 */
export function udpLenOk(dv: DataView, p: number, avail: number): boolean {
  if (avail < HLEN) return false;
  const len = dv.getUint16(p + LEN);
  return len >= HLEN && len <= avail;
}

/** True when the checksum is absent (0) or the datagram with its pseudo-header sums to zero. */
export function udpCsumOk(dv: DataView, p: number, saddr: number, daddr: number): boolean {
  if (dv.getUint16(p + CHECK) === 0) return true;
  return udpSum(dv, p, dv.getUint16(p + LEN), saddr, daddr) === 0;
}

/**
 * Write the header at p for `len` bytes (header + payload, payload in place) and, when `csum`,
 * its checksum over the pseudo-header (0 is sent as 0xffff); otherwise the checksum is 0 ("none").
 */
export function writeUdpHeader(dv: DataView, p: number, sport: number, dport: number, len: number, saddr: number, daddr: number, csum: boolean): void {
  dv.setUint16(p + SOURCE, sport);
  dv.setUint16(p + DEST, dport);
  dv.setUint16(p + LEN, len);
  dv.setUint16(p + CHECK, 0);
  if (!csum) return;
  const c = udpSum(dv, p, len, saddr, daddr);
  dv.setUint16(p + CHECK, c === 0 ? 0xffff : c);
}

/** The folded checksum of the `len` bytes at p with the pseudo-header (0 when they verify). */
function udpSum(dv: DataView, p: number, len: number, saddr: number, daddr: number): number {
  return csumFinish(csumPartial(dv, p, len, pseudoHdrSum(saddr, daddr, PROTO_UDP, len)));
}
