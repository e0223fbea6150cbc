import { csumFinish, csumPartial, pseudoHdrSum } from './checksum.ts';
import { IPPROTO_TCP } from './ipv4.ts';

/** The TCP header (include/uapi/linux/tcp.h, RFC 9293). Offsets from the TCP header start. */

export const TCP_SOURCE = 0;
export const TCP_DEST = 2;
export const TCP_SEQ = 4;
export const TCP_ACK_SEQ = 8;
/** Data offset in 32-bit words (high nibble). */
export const TCP_DOFF = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECK = 16;
export const TCP_URG_PTR = 18;
export const TCP_HLEN = 20;
export const TCP_MAX_HLEN = 60;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

// Options (RFC 9293 3.2, RFC 7323, RFC 2018).
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WINDOW = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

export function tcpSport(dv: DataView, p: number): number {
  return dv.getUint16(p + TCP_SOURCE);
}

export function tcpDport(dv: DataView, p: number): number {
  return dv.getUint16(p + TCP_DEST);
}

export function tcpSeq(dv: DataView, p: number): number {
  return dv.getUint32(p + TCP_SEQ);
}

export function tcpAckSeq(dv: DataView, p: number): number {
  return dv.getUint32(p + TCP_ACK_SEQ);
}

/** Header length in bytes (data offset * 4). */
export function tcpHdrLen(u8: Uint8Array, p: number): number {
  return (u8[p + TCP_DOFF] >>> 4) << 2;
}

export function tcpFlags(u8: Uint8Array, p: number): number {
  return u8[p + TCP_FLAGS];
}

export function tcpWindow(dv: DataView, p: number): number {
  return dv.getUint16(p + TCP_WINDOW);
}

/** The header fits in `avail` bytes and its data offset is sane (tcp_v4_rcv's doff checks). */
export function tcpHdrOk(u8: Uint8Array, p: number, avail: number): boolean {
  if (avail < TCP_HLEN) return false;
  const hl = (u8[p + TCP_DOFF] >>> 4) << 2;
  return hl >= TCP_HLEN && hl <= avail;
}

/** True when the `len`-byte segment at p with its pseudo-header sums to zero. */
export function tcpCsumOk(dv: DataView, p: number, len: number, saddr: number, daddr: number): boolean {
  return csumFinish(csumPartial(dv, p, len, pseudoHdrSum(saddr, daddr, IPPROTO_TCP, len))) === 0;
}

/**
 * Write a header without options at p (doff 5) for a `len`-byte segment (header + payload,
 * payload in place) and its checksum over the pseudo-header.
 */
export function writeTcpHeader(
  dv: DataView,
  p: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  window: number,
  len: number,
  saddr: number,
  daddr: number,
): void {
  dv.setUint16(p + TCP_SOURCE, sport);
  dv.setUint16(p + TCP_DEST, dport);
  dv.setUint32(p + TCP_SEQ, seq >>> 0);
  dv.setUint32(p + TCP_ACK_SEQ, ack >>> 0);
  dv.setUint8(p + TCP_DOFF, (TCP_HLEN >>> 2) << 4);
  dv.setUint8(p + TCP_FLAGS, flags);
  dv.setUint16(p + TCP_WINDOW, window);
  dv.setUint16(p + TCP_CHECK, 0);
  dv.setUint16(p + TCP_URG_PTR, 0);
  dv.setUint16(p + TCP_CHECK, csumFinish(csumPartial(dv, p, len, pseudoHdrSum(saddr, daddr, IPPROTO_TCP, len))));
}
