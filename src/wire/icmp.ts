import { csumFinish, csumPartial } from './checksum.ts';

/** The ICMP header (include/uapi/linux/icmp.h, RFC 792). Offsets from the ICMP header start. */

export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CHECKSUM = 2;
/** Echo: identifier and sequence; errors: unused / pointer / next-hop MTU (the "rest of header"). */
export const ICMP_UN = 4;
export const ICMP_ECHO_ID = 4;
export const ICMP_ECHO_SEQ = 6;
export const ICMP_HLEN = 8;
/** Timestamp and timestamp reply (RFC 792): three times in ms since midnight UT after id/seq. */
export const ICMP_TS_ORIGINATE = 8;
export const ICMP_TS_RECEIVE = 12;
export const ICMP_TS_TRANSMIT = 16;
export const ICMP_TS_LEN = 20;

export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETERPROB = 12;
export const ICMP_TIMESTAMP = 13;
export const ICMP_TIMESTAMPREPLY = 14;
export const NR_ICMP_TYPES = 18;
// Codes for ICMP_DEST_UNREACH.
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP_NET_ANO = 9;
export const ICMP_HOST_ANO = 10;
export const ICMP_PKT_FILTERED = 13;
// Codes for ICMP_TIME_EXCEEDED.
export const ICMP_EXC_TTL = 0;
export const ICMP_EXC_FRAGTIME = 1;

// This file's functions read module-local copies: V8 loads an exported binding from its module
// cell, with a TDZ check, at every use, and folds a local const (README, "On the hot path").
// icmp-send calls them for every error it sends.
const TYPE = ICMP_TYPE;
const CODE = ICMP_CODE;
const CHECKSUM = ICMP_CHECKSUM;
const UN = ICMP_UN;
const DEST_UNREACH = ICMP_DEST_UNREACH;
const SOURCE_QUENCH = ICMP_SOURCE_QUENCH;
const REDIRECT = ICMP_REDIRECT;
const TIME_EXCEEDED = ICMP_TIME_EXCEEDED;
const PARAMETERPROB = ICMP_PARAMETERPROB;

/** icmp_pointers[type].error: the error types (never answered with an error). */
export function icmpIsError(type: number): boolean {
  return type === DEST_UNREACH || type === SOURCE_QUENCH || type === REDIRECT || type === TIME_EXCEEDED || type === PARAMETERPROB;
}

export function icmpType(u8: Uint8Array, p: number): number {
  return u8[p + TYPE];
}

export function icmpCode(u8: Uint8Array, p: number): number {
  return u8[p + CODE];
}

/** True when the `len` bytes of ICMP message at p checksum to zero. */
export function icmpCsumOk(dv: DataView, p: number, len: number): boolean {
  return csumFinish(csumPartial(dv, p, len, 0)) === 0;
}

/**
 * Write type, code and the 32-bit rest of header at p, then the checksum over the `len` bytes of
 * the message (the body must already be in place).
 */
export function writeIcmpHeader(dv: DataView, p: number, type: number, code: number, rest: number, len: number): void {
  dv.setUint8(p + TYPE, type);
  dv.setUint8(p + CODE, code);
  dv.setUint16(p + CHECKSUM, 0);
  dv.setUint32(p + UN, rest >>> 0);
  dv.setUint16(p + CHECKSUM, csumFinish(csumPartial(dv, p, len, 0)));
}
