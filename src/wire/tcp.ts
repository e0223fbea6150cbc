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

export const TCPOLEN_MSS = 4;
export const TCPOLEN_WINDOW = 3;
export const TCPOLEN_SACK_PERM = 2;
export const TCPOLEN_TIMESTAMP = 10;
/** NOP NOP TIMESTAMP: the 12 bytes every segment of a timestamped connection carries. */
export const TCPOLEN_TSTAMP_ALIGNED = 12;
/** SACK option header with its two leading NOPs; each block adds TCPOLEN_SACK_PERBLOCK. */
export const TCPOLEN_SACK_BASE_ALIGNED = 4;
export const TCPOLEN_SACK_PERBLOCK = 8;
/** Largest window scale shift (RFC 7323 2.3). */
export const TCP_MAX_WSCALE = 14;
/** SACK blocks an option can carry (4 fit in 40 bytes; 3 beside a timestamp). */
export const TCP_NUM_SACKS = 4;

// This file's functions read module-local copies: V8 loads an exported binding from its module
// cell, with a TDZ check, at every use, and folds a local const (README, "On the hot path").
const SOURCE = TCP_SOURCE;
const DEST = TCP_DEST;
const SEQ = TCP_SEQ;
const ACK_SEQ = TCP_ACK_SEQ;
const DOFF = TCP_DOFF;
const FLAGS = TCP_FLAGS;
const WINDOW = TCP_WINDOW;
const CHECK = TCP_CHECK;
const HLEN = TCP_HLEN;
const PROTO_TCP = IPPROTO_TCP;
const OPT_EOL = TCPOPT_EOL;
const OPT_NOP = TCPOPT_NOP;
const OPT_MSS = TCPOPT_MSS;
const OPT_WINDOW = TCPOPT_WINDOW;
const OPT_SACK_PERM = TCPOPT_SACK_PERM;
const OPT_SACK = TCPOPT_SACK;
const OPT_TIMESTAMP = TCPOPT_TIMESTAMP;
const OLEN_MSS = TCPOLEN_MSS;
const OLEN_WINDOW = TCPOLEN_WINDOW;
const OLEN_SACK_PERM = TCPOLEN_SACK_PERM;
const OLEN_TIMESTAMP = TCPOLEN_TIMESTAMP;
const OLEN_TSTAMP_ALIGNED = TCPOLEN_TSTAMP_ALIGNED;
const OLEN_SACK_BASE_ALIGNED = TCPOLEN_SACK_BASE_ALIGNED;
const OLEN_SACK_PERBLOCK = TCPOLEN_SACK_PERBLOCK;
const MAX_WSCALE = TCP_MAX_WSCALE;
const NUM_SACKS = TCP_NUM_SACKS;

export function tcpSport(dv: DataView, p: number): number {
  return dv.getUint16(p + SOURCE);
}

export function tcpDport(dv: DataView, p: number): number {
  return dv.getUint16(p + DEST);
}

export function tcpSeq(dv: DataView, p: number): number {
  return dv.getUint32(p + SEQ);
}

export function tcpAckSeq(dv: DataView, p: number): number {
  return dv.getUint32(p + ACK_SEQ);
}

/** Header length in bytes (data offset * 4). */
export function tcpHdrLen(u8: Uint8Array, p: number): number {
  return (u8[p + DOFF] >>> 4) << 2;
}

export function tcpFlags(u8: Uint8Array, p: number): number {
  return u8[p + FLAGS];
}

export function tcpWindow(dv: DataView, p: number): number {
  return dv.getUint16(p + WINDOW);
}

/** The header fits in `avail` bytes and its data offset is sane (tcp_v4_rcv's doff checks). */
export function tcpHdrOk(u8: Uint8Array, p: number, avail: number): boolean {
  if (avail < HLEN) return false;
  const hl = (u8[p + DOFF] >>> 4) << 2;
  return hl >= HLEN && hl <= avail;
}

/** True when the `len`-byte segment at p with its pseudo-header sums to zero. */
export function tcpCsumOk(dv: DataView, p: number, len: number, saddr: number, daddr: number): boolean {
  return csumFinish(csumPartial(dv, p, len, pseudoHdrSum(saddr, daddr, PROTO_TCP, len))) === 0;
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
  writeTcpHdr(dv, p, sport, dport, seq, ack, HLEN, flags, window);
  tcpSetCsum(dv, p, len, len, saddr, daddr, 0);
}

/**
 * A segment's options as tcp_parse_options fills tcp_options_received. One object is reused for
 * every segment (parse resets it): no allocation per segment. Absent options: mss 0, wscale -1.
 */
export class TcpOptions {
  mss = 0;
  wscale = -1;
  sackOk = false;
  hasTs = false;
  tsVal = 0;
  tsEcr = 0;
  /** SACK blocks present (0..4): start/end pairs in sack[0..2n). */
  sackN = 0;
  readonly sack = new Uint32Array(NUM_SACKS * 2);
}

/**
 * tcp_parse_options over the option bytes of the header at p (`hlen` = header length). Like the
 * kernel it stops at EOL or at a malformed length (the options before stay parsed) and ignores
 * options of the wrong size; window scales above 14 are clamped to 14 (RFC 7323 2.3). The caller
 * decides which ones count (MSS, WS, SACK-permitted on a SYN only).
 */
export function tcpParseOptions(u8: Uint8Array, dv: DataView, p: number, hlen: number, o: TcpOptions): void {
  o.mss = 0;
  o.wscale = -1;
  o.sackOk = false;
  o.hasTs = false;
  o.sackN = 0;
  let q = p + HLEN;
  const end = p + hlen;
  while (q < end) {
    const kind = u8[q];
    if (kind === OPT_EOL) return;
    if (kind === OPT_NOP) {
      q++;
      continue;
    }
    if (q + 1 >= end) return;
    const size = u8[q + 1];
    if (size < 2 || q + size > end) return; // "silly options" / partial option: stop
    if (kind === OPT_MSS) {
      if (size === OLEN_MSS) o.mss = dv.getUint16(q + 2);
    } else if (kind === OPT_WINDOW) {
      if (size === OLEN_WINDOW) o.wscale = u8[q + 2] > MAX_WSCALE ? MAX_WSCALE : u8[q + 2];
    } else if (kind === OPT_SACK_PERM) {
      if (size === OLEN_SACK_PERM) o.sackOk = true;
    } else if (kind === OPT_TIMESTAMP) {
      if (size === OLEN_TIMESTAMP) {
        o.hasTs = true;
        o.tsVal = dv.getUint32(q + 2);
        o.tsEcr = dv.getUint32(q + 6);
      }
    } else if (kind === OPT_SACK) {
      if (size >= 2 + OLEN_SACK_PERBLOCK && ((size - 2) & 7) === 0) {
        const n = (size - 2) >>> 3;
        for (let k = 0; k < n && k < NUM_SACKS; k++) {
          o.sack[2 * k] = dv.getUint32(q + 2 + 8 * k);
          o.sack[2 * k + 1] = dv.getUint32(q + 6 + 8 * k);
        }
        o.sackN = n < NUM_SACKS ? n : NUM_SACKS;
      }
    }
    q += size;
  }
}

/**
 * A SYN's options in Linux's order and layout (tcp_options_write): MSS, then SACK-permitted +
 * timestamp in 12 bytes (or NOP NOP + one of them), then NOP + window scale. `wscale` -1 = none.
 * Returns the bytes written (a multiple of 4).
 */
export function tcpWriteSynOptions(dv: DataView, q: number, mss: number, wscale: number, sackOk: boolean, ts: boolean, tsVal: number, tsEcr: number): number {
  const q0 = q;
  dv.setUint32(q, ((OPT_MSS << 24) | (OLEN_MSS << 16) | mss) >>> 0);
  q += 4;
  if (ts) {
    const head = sackOk ? (OPT_SACK_PERM << 24) | (OLEN_SACK_PERM << 16) : (OPT_NOP << 24) | (OPT_NOP << 16);
    dv.setUint32(q, (head | (OPT_TIMESTAMP << 8) | OLEN_TIMESTAMP) >>> 0);
    dv.setUint32(q + 4, tsVal >>> 0);
    dv.setUint32(q + 8, tsEcr >>> 0);
    q += 12;
  } else if (sackOk) {
    dv.setUint32(q, (OPT_NOP << 24) | (OPT_NOP << 16) | (OPT_SACK_PERM << 8) | OLEN_SACK_PERM);
    q += 4;
  }
  if (wscale >= 0) {
    dv.setUint32(q, (OPT_NOP << 24) | (OPT_WINDOW << 16) | (OLEN_WINDOW << 8) | wscale);
    q += 4;
  }
  return q - q0;
}

/** NOP NOP TIMESTAMP (12 bytes), the layout every kernel sends. */
export function tcpWriteTsOption(dv: DataView, q: number, tsVal: number, tsEcr: number): number {
  dv.setUint32(q, (OPT_NOP << 24) | (OPT_NOP << 16) | (OPT_TIMESTAMP << 8) | OLEN_TIMESTAMP);
  dv.setUint32(q + 4, tsVal >>> 0);
  dv.setUint32(q + 8, tsEcr >>> 0);
  return OLEN_TSTAMP_ALIGNED;
}

/** NOP NOP SACK with n blocks from blocks[0..2n) (start/end pairs). Returns 4 + 8n. */
export function tcpWriteSackOption(dv: DataView, q: number, blocks: Uint32Array, n: number): number {
  dv.setUint32(q, (OPT_NOP << 24) | (OPT_NOP << 16) | (OPT_SACK << 8) | (2 + n * OLEN_SACK_PERBLOCK));
  for (let k = 0; k < n; k++) {
    dv.setUint32(q + 4 + 8 * k, blocks[2 * k] >>> 0);
    dv.setUint32(q + 8 + 8 * k, blocks[2 * k + 1] >>> 0);
  }
  return OLEN_SACK_BASE_ALIGNED + n * OLEN_SACK_PERBLOCK;
}

/**
 * The fixed header fields at p for a header of `hlen` bytes (options written by the caller
 * after p + 20); the checksum is left 0 for tcpSetCsum.
 */
export function writeTcpHdr(dv: DataView, p: number, sport: number, dport: number, seq: number, ack: number, hlen: number, flags: number, window: number): void {
  dv.setUint32(p + SOURCE, ((sport << 16) | dport) >>> 0);
  dv.setUint32(p + SEQ, seq >>> 0);
  dv.setUint32(p + ACK_SEQ, ack >>> 0);
  dv.setUint16(p + DOFF, ((hlen << 10) & 0xf000) | flags);
  dv.setUint16(p + WINDOW, window);
  dv.setUint32(p + CHECK, 0); // checksum and urgent pointer
}

/**
 * Store the checksum of the `len`-byte segment at p: its first `hlen` bytes are summed here,
 * `restSum` is the unfolded sum of the rest (the payload, 0 when none).
 */
export function tcpSetCsum(dv: DataView, p: number, hlen: number, len: number, saddr: number, daddr: number, restSum: number): void {
  dv.setUint16(p + CHECK, csumFinish(csumPartial(dv, p, hlen, pseudoHdrSum(saddr, daddr, PROTO_TCP, len) + restSum)));
}
