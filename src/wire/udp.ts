import { csumFinish, csumPartial, pseudoHdrSum } from './checksum.ts';
import { IPPROTO_UDP } from './ipv4.ts';

/** The UDP header (include/uapi/linux/udp.h, RFC 768). Offsets from the UDP header start. */

export const UDP_SOURCE = 0;
export const UDP_DEST = 2;
export const UDP_LEN = 4;
export const UDP_CHECK = 6;
export const UDP_HLEN = 8;

export function udpSport(dv: DataView, p: number): number {
  return dv.getUint16(p + UDP_SOURCE);
}

export function udpDport(dv: DataView, p: number): number {
  return dv.getUint16(p + UDP_DEST);
}

export function udpLen(dv: DataView, p: number): number {
  return dv.getUint16(p + UDP_LEN);
}

export function udpCheck(dv: DataView, p: number): number {
  return dv.getUint16(p + UDP_CHECK);
}

/**
 * Valid for `avail` bytes of IP payload from p: the header fits and the UDP length covers the
 * header and no more than what arrived (__udp4_lib_rcv's checks). Checksum not included.
 */
export function udpLenOk(dv: DataView, p: number, avail: number): boolean {
  if (avail < UDP_HLEN) return false;
  const len = dv.getUint16(p + UDP_LEN);
  return len >= UDP_HLEN && len <= avail;
}

/** True when the checksum is absent (0) or the datagram with its pseudo-header sums to zero. */
export function udpCsumOk(dv: DataView, p: number, saddr: number, daddr: number): boolean {
  if (dv.getUint16(p + UDP_CHECK) === 0) return true;
  const len = dv.getUint16(p + UDP_LEN);
  return csumFinish(csumPartial(dv, p, len, pseudoHdrSum(saddr, daddr, IPPROTO_UDP, len))) === 0;
}

/**
 * Write the header at p for `len` bytes (header + payload, payload in place) and, when `csum`,
 * its checksum over the pseudo-header (0 is sent as 0xffff); otherwise the checksum is 0 ("none").
 */
export function writeUdpHeader(dv: DataView, p: number, sport: number, dport: number, len: number, saddr: number, daddr: number, csum: boolean): void {
  dv.setUint16(p + UDP_SOURCE, sport);
  dv.setUint16(p + UDP_DEST, dport);
  dv.setUint16(p + UDP_LEN, len);
  dv.setUint16(p + UDP_CHECK, 0);
  if (!csum) return;
  const c = csumFinish(csumPartial(dv, p, len, pseudoHdrSum(saddr, daddr, IPPROTO_UDP, len)));
  dv.setUint16(p + UDP_CHECK, c === 0 ? 0xffff : c);
}
