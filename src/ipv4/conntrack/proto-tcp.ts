/**
 * TCP connection tracking (nf_conntrack_proto_tcp.c): tcp_error's header and flag checks, the
 * state table, tcp_new, tcp_packet and tcp_in_window (Guido van Rooij's window tracking: a
 * segment must fall inside what the receiver could have advertised and acknowledge only what
 * was seen). Reads the segment in place; state lives in the table's tcp* columns.
 */

import type { CtTable } from './table.ts';
import * as wireTcp from '../../wire/tcp.ts';

// Hot path: imported bindings as module-local consts (src/wire/README.md, "On the hot path").
const { TCP_HLEN, TCP_MAX_WSCALE, TCPOLEN_SACK_PERBLOCK, TCPOLEN_SACK_PERM, TCPOLEN_WINDOW, TCPOPT_EOL, TCPOPT_NOP, TCPOPT_SACK, TCPOPT_SACK_PERM, TCPOPT_WINDOW } = wireTcp;
const { tcpAckSeq, tcpFlags, tcpHdrLen, tcpSeq, tcpWindow } = wireTcp;
/** An option's length byte, and where its data starts (kind, length, data). */
const OPT_LEN = 1;
const OPT_DATA = 2;
import { IPS_ASSURED, IPS_SEEN_REPLY } from './common.ts';

// enum tcp_conntrack
export const TCP_CONNTRACK_NONE = 0;
export const TCP_CONNTRACK_SYN_SENT = 1;
export const TCP_CONNTRACK_SYN_RECV = 2;
export const TCP_CONNTRACK_ESTABLISHED = 3;
export const TCP_CONNTRACK_FIN_WAIT = 4;
export const TCP_CONNTRACK_CLOSE_WAIT = 5;
export const TCP_CONNTRACK_LAST_ACK = 6;
export const TCP_CONNTRACK_TIME_WAIT = 7;
export const TCP_CONNTRACK_CLOSE = 8;
export const TCP_CONNTRACK_SYN_SENT2 = 9;
const TCP_CONNTRACK_MAX = 10;
const TCP_CONNTRACK_IGNORE = 11;
/** Timeout slots after the states (tcp_timeouts[]). */
export const TCP_CONNTRACK_RETRANS = 10;
export const TCP_CONNTRACK_UNACK = 11;
export const TCP_TIMEOUTS = 12;

export const TCP_STATE_NAMES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'];

// enum tcp_bit_set
const TCP_SYN_SET = 0;
const TCP_SYNACK_SET = 1;
const TCP_FIN_SET = 2;
const TCP_ACK_SET = 3;
const TCP_RST_SET = 4;
const TCP_NONE_SET = 5;

// IP_CT_TCP_FLAG_*
const F_WINDOW_SCALE = 0x01;
const F_SACK_PERM = 0x02;
const F_CLOSE_INIT = 0x04;
const F_BE_LIBERAL = 0x08;
const F_DATA_UNACKNOWLEDGED = 0x10;
const F_MAXACK_SET = 0x20;

/** tcp_packet results other than a timeout (seconds, >= 0). */
export const TCP_INVALID = -1;
/** Kill the entry and look the packet up again (a SYN reopening a closed connection). */
export const TCP_REPEAT = -2;
/** Accept without touching the timeout (an ignored packet). */
export const TCP_ACCEPT_KEEP = -3;
/** Accept, then kill the entry (an unanswered connection reset). */
export const TCP_ACCEPT_KILL = -4;

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

const sNO = TCP_CONNTRACK_NONE;
const sSS = TCP_CONNTRACK_SYN_SENT;
const sSR = TCP_CONNTRACK_SYN_RECV;
const sES = TCP_CONNTRACK_ESTABLISHED;
const sFW = TCP_CONNTRACK_FIN_WAIT;
const sCW = TCP_CONNTRACK_CLOSE_WAIT;
const sLA = TCP_CONNTRACK_LAST_ACK;
const sTW = TCP_CONNTRACK_TIME_WAIT;
const sCL = TCP_CONNTRACK_CLOSE;
const sS2 = TCP_CONNTRACK_SYN_SENT2;
const sIV = TCP_CONNTRACK_MAX;
const sIG = TCP_CONNTRACK_IGNORE;

/** tcp_conntracks[dir][index][state], flattened: (dir * 6 + index) * 10 + state. Linux 6.x's table. */
// prettier-ignore
const TRANSITIONS = new Uint8Array([
  // ORIGINAL      sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
  /* syn    */     sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2,
  /* synack */     sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR,
  /* fin    */     sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
  /* ack    */     sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV,
  /* rst    */     sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
  /* none   */     sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
  // REPLY
  /* syn    */     sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2,
  /* synack */     sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR,
  /* fin    */     sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
  /* ack    */     sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG,
  /* rst    */     sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
  /* none   */     sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
]);

/** tcp_valid_flags: the flag combinations (PSH, ECE and CWR aside) a segment may carry. */
const VALID_FLAGS = new Uint8Array(0x40);
for (const f of [SYN, SYN | 0x20, SYN | ACK, RST, RST | ACK, FIN | ACK, FIN | ACK | 0x20, ACK, ACK | 0x20]) VALID_FLAGS[f] = 1;

function conntrackIndex(flags: number): number {
  if ((flags & RST) !== 0) return TCP_RST_SET;
  if ((flags & SYN) !== 0) return (flags & ACK) !== 0 ? TCP_SYNACK_SET : TCP_SYN_SET;
  if ((flags & FIN) !== 0) return TCP_FIN_SET;
  if ((flags & ACK) !== 0) return TCP_ACK_SET;
  return TCP_NONE_SET;
}

const before = (a: number, b: number) => ((a - b) | 0) < 0;
const after = (a: number, b: number) => ((b - a) | 0) < 0;

/**
 * tcp_error: a header that fits the datagram (data offset >= 5 words, within `len`) and a valid
 * flag combination. `th` is the TCP header's offset, `len` the bytes from it to the datagram's end.
 */
export function tcpError(u8: Uint8Array, th: number, len: number): boolean {
  if (len < 20) return true;
  const doff = tcpHdrLen(u8, th);
  if (doff < 20 || doff > len) return true;
  return VALID_FLAGS[tcpFlags(u8, th) & 0x37] === 0;
}

/**
 * segment_seq_plus_len: the sequence number after this segment, as int32 (a returned u32 >= 2^31
 * would be a boxed double); callers take `>>> 0` before comparing it with u32 words.
 */
function segEnd(u8: Uint8Array, dv: DataView, th: number, len: number): number {
  const flags = tcpFlags(u8, th);
  const doff = tcpHdrLen(u8, th);
  return (tcpSeq(dv, th) + len - doff + ((flags & SYN) !== 0 ? 1 : 0) + ((flags & FIN) !== 0 ? 1 : 0)) | 0;
}

/** tcp_options: window scale and SACK-permitted of a SYN into direction slot s (bounded by the header). */
function tcpOptions(t: CtTable, s: number, u8: Uint8Array, th: number): void {
  const end = th + (tcpHdrLen(u8, th));
  t.tcpScale[s] = 0;
  t.tcpFlags[s] &= ~(F_WINDOW_SCALE | F_SACK_PERM);
  let p = th + TCP_HLEN;
  while (p < end) {
    const kind = u8[p];
    if (kind === TCPOPT_EOL) return;
    if (kind === TCPOPT_NOP) {
      p++;
      continue;
    }
    if (p + 1 >= end) return;
    const size = u8[p + OPT_LEN];
    if (size < 2 || p + size > end) return;
    if (kind === TCPOPT_SACK_PERM && size === TCPOLEN_SACK_PERM) t.tcpFlags[s] |= F_SACK_PERM;
    else if (kind === TCPOPT_WINDOW && size === TCPOLEN_WINDOW) {
      const ws = u8[p + OPT_DATA];
      t.tcpScale[s] = ws > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : ws;
      t.tcpFlags[s] |= F_WINDOW_SCALE;
    }
    p += size;
  }
}

/** tcp_sack: the highest right edge of the SACK blocks, or ack when there are none (int32, as segEnd). */
function tcpSack(u8: Uint8Array, dv: DataView, th: number, ack: number): number {
  const end = th + (tcpHdrLen(u8, th));
  let sack = ack;
  let p = th + TCP_HLEN;
  while (p < end) {
    const kind = u8[p];
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      p++;
      continue;
    }
    if (p + 1 >= end) break;
    const size = u8[p + OPT_LEN];
    if (size < 2 || p + size > end) break;
    if (kind === TCPOPT_SACK && size >= OPT_DATA + TCPOLEN_SACK_PERBLOCK && (size - OPT_DATA) % TCPOLEN_SACK_PERBLOCK === 0) {
      for (let q = p + OPT_DATA; q < p + size; q += TCPOLEN_SACK_PERBLOCK) {
        const right = dv.getUint32(q + 4); // a block: left edge, right edge
        if (after(right, sack)) sack = right;
      }
      break;
    }
    p += size;
  }
  return sack | 0;
}

/**
 * tcp_new: the first segment of an entry. A SYN starts SYN_SENT; with nf_conntrack_tcp_loose a
 * mid-stream ACK is picked up (window scaling unknown: liberal from then on). false: INVALID.
 */
export function tcpNew(t: CtTable, e: number, u8: Uint8Array, dv: DataView, th: number, len: number, loose: number): boolean {
  const index = conntrackIndex(tcpFlags(u8, th));
  const ns = TRANSITIONS[index * 10 + sNO];
  if (ns >= TCP_CONNTRACK_MAX) return false;
  if (ns !== sSS && loose === 0) return false;
  const s0 = e * 8;
  t.tcpSeen.fill(0, s0, s0 + 8);
  t.tcpScale[e * 2] = t.tcpScale[e * 2 + 1] = 0;
  t.tcpFlags[e * 2] = t.tcpFlags[e * 2 + 1] = 0;
  t.tcpLast.fill(0, e * 4, e * 4 + 4);
  t.tcpLastB.fill(0, e * 8, e * 8 + 8);
  const end = segEnd(u8, dv, th, len) >>> 0;
  const win = tcpWindow(dv, th);
  t.tcpSeen[s0] = end;
  t.tcpSeen[s0 + 2] = win === 0 ? 1 : win;
  if (ns === sSS) {
    t.tcpSeen[s0 + 1] = end;
    tcpOptions(t, e * 2, u8, th);
  } else {
    t.tcpSeen[s0 + 1] = (end + t.tcpSeen[s0 + 2]) >>> 0;
    t.tcpFlags[e * 2] = t.tcpFlags[e * 2 + 1] = F_SACK_PERM | F_BE_LIBERAL;
  }
  t.state[e] = sNO;
  t.tcpLastB[e * 8 + 1] = TCP_NONE_SET;
  return true;
}

/** tcp_init_sender: a SYN (or SYN/ACK) (re)starts its direction's window data. */
function initSender(t: CtTable, e: number, dir: number, u8: Uint8Array, th: number, end: number, win: number): void {
  const s = e * 8 + dir * 4;
  t.tcpSeen[s] = end;
  t.tcpSeen[s + 1] = end;
  t.tcpSeen[s + 2] = win === 0 ? 1 : win;
  tcpOptions(t, e * 2 + dir, u8, th);
  // RFC 1323: scaling only when both sides offer it.
  const r = e * 2 + (1 - dir);
  if ((t.tcpFlags[e * 2 + dir] & F_WINDOW_SCALE) === 0 || (t.tcpFlags[r] & F_WINDOW_SCALE) === 0) {
    t.tcpScale[e * 2 + dir] = 0;
    t.tcpScale[r] = 0;
  }
}

const MAXACKWINCONST = 66000;

/** tcp_in_window: 1 in window (state updated), 0 out of window, 2 ignore (an old ACK: accept, no update). */
function inWindow(t: CtTable, e: number, dir: number, index: number, u8: Uint8Array, dv: DataView, th: number, len: number, liberal: number): number {
  const S = e * 8 + dir * 4; // sender
  const R = e * 8 + (1 - dir) * 4; // receiver
  const sw = t.tcpSeen;
  const flags = tcpFlags(u8, th);
  const state = t.state[e];
  let seq = tcpSeq(dv, th);
  let ack = tcpAckSeq(dv, th);
  const winRaw = tcpWindow(dv, th);
  let win = winRaw;
  let end = segEnd(u8, dv, th, len) >>> 0;
  let sack = ack;
  if ((t.tcpFlags[e * 2 + 1 - dir] & F_SACK_PERM) !== 0) sack = tcpSack(u8, dv, th, ack | 0) >>> 0;

  if (sw[S + 2] === 0) {
    if ((flags & SYN) !== 0) {
      initSender(t, e, dir, u8, th, end | 0, win);
      if ((flags & ACK) === 0) return 1; // simultaneous open
    } else {
      // Picked up mid-stream in this direction: take what the segment says.
      sw[S] = end;
      const swin = (win << t.tcpScale[e * 2 + dir]) >>> 0;
      sw[S + 2] = swin === 0 ? 1 : swin;
      sw[S + 1] = (end + sw[S + 2]) >>> 0;
      if (sw[R + 2] === 0) sw[R] = sw[R + 1] = sack;
      else if (sack === ((sw[R] + 1) >>> 0)) sw[R] = sack; // a keepalive's answer
    }
  } else if ((flags & SYN) !== 0 && after(end, sw[S]) && (state === sSS || state === sSR)) {
    initSender(t, e, dir, u8, th, end | 0, win);
  }

  if ((flags & ACK) === 0) ack = sack = sw[R];
  else if ((flags & (ACK | RST)) === (ACK | RST) && ack === 0) ack = sack = sw[R];

  if (seq === end && ((flags & RST) === 0 || (seq === 0 && state === sSS))) seq = end = sw[S];

  const maxAckWin = sw[S + 2] > MAXACKWINCONST ? sw[S + 2] : MAXACKWINCONST;
  const inRecvWin = sw[R + 2] === 0 || after(end, (sw[S] - sw[R + 2] - 1) >>> 0);
  const ok1 = before(seq, (sw[S + 1] + 1) >>> 0);
  const ok3 = before(sack, (sw[R] + 1) >>> 0);
  const ok4 = after(sack, (sw[R] - maxAckWin - 1) >>> 0);
  if (ok1 && inRecvWin && ok3 && ok4) {
    if ((flags & SYN) === 0) win = (win << t.tcpScale[e * 2 + dir]) >>> 0;
    const swin = (win + (sack - ack)) >>> 0;
    if (sw[S + 2] < swin) sw[S + 2] = swin;
    if (after(end, sw[S])) {
      sw[S] = end;
      t.tcpFlags[e * 2 + dir] |= F_DATA_UNACKNOWLEDGED;
    }
    if ((flags & ACK) !== 0) {
      if ((t.tcpFlags[e * 2 + dir] & F_MAXACK_SET) === 0) {
        sw[S + 3] = ack;
        t.tcpFlags[e * 2 + dir] |= F_MAXACK_SET;
      } else if (after(ack, sw[S + 3])) sw[S + 3] = ack;
    }
    if (sw[R + 2] !== 0 && after(end, sw[S + 1])) sw[R + 2] = (sw[R + 2] + end - sw[S + 1]) >>> 0;
    if (after((sack + win) >>> 0, (sw[R + 1] - 1) >>> 0)) {
      sw[R + 1] = (sack + win) >>> 0;
      if (win === 0) sw[R + 1] = (sw[R + 1] + 1) >>> 0;
    }
    if (ack === sw[R]) t.tcpFlags[e * 2 + 1 - dir] &= ~F_DATA_UNACKNOWLEDGED;
    if (index === TCP_ACK_SET) {
      const L = e * 4;
      const B = e * 8;
      const tl = t.tcpLast;
      if (t.tcpLastB[B] === dir && tl[L] === seq && tl[L + 1] === ack && tl[L + 2] === end && tl[L + 3] === winRaw) {
        if (t.tcpLastB[B + 4] < 255) t.tcpLastB[B + 4]++;
      } else {
        t.tcpLastB[B] = dir;
        tl[L] = seq;
        tl[L + 1] = ack;
        tl[L + 2] = end;
        tl[L + 3] = winRaw;
        t.tcpLastB[B + 4] = 0;
      }
    }
    return 1;
  }
  if ((t.tcpFlags[e * 2 + dir] & F_BE_LIBERAL) !== 0 || liberal !== 0) return 1;
  // Linux 6.x: an ACK below the window is an old duplicate, let through without learning from it.
  if (ok1 && inRecvWin && ok3 && (flags & RST) === 0) return 2;
  return 0;
}

/**
 * tcp_packet: one segment of entry e in direction dir. Returns the timeout (seconds) to refresh
 * to, or TCP_INVALID / TCP_REPEAT / TCP_ACCEPT_KEEP / TCP_ACCEPT_KILL. `timeouts` is indexed by
 * state, then TCP_CONNTRACK_RETRANS and TCP_CONNTRACK_UNACK.
 */
export function tcpPacket(
  t: CtTable,
  e: number,
  dir: number,
  u8: Uint8Array,
  dv: DataView,
  th: number,
  len: number,
  timeouts: Int32Array,
  liberal: number,
  maxRetrans: number,
): number {
  const flags = tcpFlags(u8, th);
  const index = conntrackIndex(flags);
  let oldState = t.state[e];
  let newState = TRANSITIONS[(dir * 6 + index) * 10 + oldState];
  const B = e * 8;
  const lb = t.tcpLastB;
  switch (newState) {
    case sSS:
      if (oldState >= sTW) {
        // A SYN reopening a closed or reset connection: start over with a new entry.
        if (((t.tcpFlags[e * 2] | t.tcpFlags[e * 2 + 1]) & F_CLOSE_INIT) !== 0 || (lb[B] === dir && lb[B + 1] === TCP_RST_SET)) return TCP_REPEAT;
      } else break;
    // falls through
    case sIG: {
      // Out of sync with the endpoints: remember the segment, let it through, learn nothing.
      const L = e * 4;
      if (index === TCP_SYNACK_SET && lb[B + 1] === TCP_SYN_SET && lb[B] !== dir && tcpAckSeq(dv, th) === t.tcpLast[L + 2]) {
        // This SYN/ACK answers a SYN we ignored: the endpoints are in sync, take its values.
        const od = lb[B];
        oldState = sSS;
        newState = sSR;
        const s = e * 8 + od * 4;
        t.tcpSeen[s] = t.tcpSeen[s + 1] = t.tcpLast[L + 2];
        t.tcpSeen[s + 2] = t.tcpLast[L + 3] === 0 ? 1 : t.tcpLast[L + 3];
        t.tcpScale[e * 2 + od] = lb[B + 2];
        t.tcpFlags[e * 2 + od] = lb[B + 3];
        const r = e * 8 + dir * 4;
        t.tcpSeen.fill(0, r, r + 4);
        t.tcpScale[e * 2 + dir] = 0;
        t.tcpFlags[e * 2 + dir] = 0;
        break;
      }
      lb[B + 1] = index;
      lb[B] = dir;
      t.tcpLast[L] = tcpSeq(dv, th);
      t.tcpLast[L + 2] = segEnd(u8, dv, th, len) >>> 0;
      t.tcpLast[L + 3] = tcpWindow(dv, th);
      if (index === TCP_SYN_SET && dir === 0) {
        // Note the SYN's options in case the SYN/ACK proves it right.
        const sc = t.tcpScale[e * 2];
        const fl = t.tcpFlags[e * 2];
        tcpOptions(t, e * 2, u8, th);
        lb[B + 2] = (t.tcpFlags[e * 2] & F_WINDOW_SCALE) !== 0 ? t.tcpScale[e * 2] : 0;
        lb[B + 3] = t.tcpFlags[e * 2] & (F_WINDOW_SCALE | F_SACK_PERM);
        t.tcpScale[e * 2] = sc;
        t.tcpFlags[e * 2] = fl;
      }
      return TCP_ACCEPT_KEEP;
    }
    case sIV:
      return TCP_INVALID;
    case sCL:
      if (index === TCP_RST_SET) {
        const o = e * 8 + (1 - dir) * 4;
        if ((t.tcpFlags[e * 2 + 1 - dir] & F_MAXACK_SET) !== 0 && before(tcpSeq(dv, th), t.tcpSeen[o + 3])) return TCP_INVALID;
        const st = t.status[e];
        const ackedIgnored =
          (((st & IPS_SEEN_REPLY) !== 0 && lb[B + 1] === TCP_SYN_SET) || ((st & IPS_ASSURED) === 0 && lb[B + 1] === TCP_ACK_SET)) &&
          tcpAckSeq(dv, th) === t.tcpLast[e * 4 + 2];
        // A RST answering a SYN or ACK we let through while out of sync: skip the window check.
        if (ackedIgnored) return finish(t, e, dir, index, oldState, newState, flags, timeouts, maxRetrans);
      }
      break;
  }
  const w = inWindow(t, e, dir, index, u8, dv, th, len, liberal);
  if (w === 0) return TCP_INVALID;
  if (w === 2) return TCP_ACCEPT_KEEP;
  return finish(t, e, dir, index, oldState, newState, flags, timeouts, maxRetrans);
}

/** The in-window tail of tcp_packet: new state, CLOSE_INIT, the timeout, ASSURED. */
function finish(t: CtTable, e: number, dir: number, index: number, oldState: number, newState: number, flags: number, timeouts: Int32Array, maxRetrans: number): number {
  const B = e * 8;
  t.tcpLastB[B + 1] = index;
  t.tcpLastB[B] = dir;
  t.state[e] = newState;
  if (oldState !== newState && newState === sFW) t.tcpFlags[e * 2 + dir] |= F_CLOSE_INIT;
  let timeout = timeouts[newState];
  if (t.tcpLastB[B + 4] >= maxRetrans && timeout > timeouts[TCP_CONNTRACK_RETRANS]) timeout = timeouts[TCP_CONNTRACK_RETRANS];
  else if (((t.tcpFlags[e * 2] | t.tcpFlags[e * 2 + 1]) & F_DATA_UNACKNOWLEDGED) !== 0 && timeout > timeouts[TCP_CONNTRACK_UNACK]) timeout = timeouts[TCP_CONNTRACK_UNACK];
  const st = t.status[e];
  if ((st & IPS_SEEN_REPLY) === 0) {
    // Only a RST came back: no connection worth keeping.
    if ((flags & RST) !== 0) return TCP_ACCEPT_KILL;
  } else if ((st & IPS_ASSURED) === 0 && (oldState === sSR || oldState === sES) && newState === sES) {
    t.status[e] = st | IPS_ASSURED;
  }
  return timeout;
}
