import { csumPartial } from '../../wire/checksum.ts';
import { IP_DF, IPPROTO_TCP, IPV4_HLEN, writeIpv4Header } from '../../wire/ipv4.ts';
import { TCP_ACK, TCP_FIN, TCP_HLEN, TCP_PSH, TCP_RST, TCP_SYN, tcpSetCsum, tcpWriteSackOption, tcpWriteSynOptions, tcpWriteTsOption, writeTcpHdr } from '../../wire/tcp.ts';
import { LL_RESERVE } from '../local-out.ts';
import type { TcpCtx } from './ctx.ts';
import { TCP, TCPEXT } from './mib.ts';
import { seqAdd, seqDiff, seqGt, seqLt, seqMax, seqMin } from './seq.ts';
import {
  CA_LOSS,
  CA_RECOVERY,
  RTX_NONE,
  RTX_PROBE,
  RTX_RTO,
  TCP_CLOSE_WAIT,
  TCP_CLOSING,
  TCP_DELACK_MS,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT1,
  TCP_LAST_ACK,
  TCP_RTO_MAX,
  TCP_SYN_SENT,
  type Tcb,
} from './tcb.ts';

// Module-local copies: V8 (Node 20) re-checks an imported binding at every use in a hot loop.
const ACK = TCP_ACK;
const FIN = TCP_FIN;
const PSH = TCP_PSH;
const SYN = TCP_SYN;
const RST = TCP_RST;
const IPH = IPV4_HLEN;
const TH = TCP_HLEN;
const LLR = LL_RESERVE;
const DELACK_MS = TCP_DELACK_MS;

/** Our MSS for the SYN (tcp_advmss): the route's MTU less the IP and TCP headers. */
export function advMss(t: Tcb): number {
  return t.mtu - IPH - TH;
}

/** Bytes received and not yet taken by the application (they close the window). */
export function rcvHeld(t: Tcb): number {
  return t.rx.pending + (t.user !== null ? t.user.appQueued() : 0) + (t.ofo !== null ? t.ofo.bytes : 0) + (t.frames !== null ? t.frames.bytes : 0);
}

/**
 * The socket's receive memory (sk_rmem_alloc): bytes copied for the application, and every frame
 * it holds (out of order, zero-copy) at its truesize, whatever the payload.
 */
export function rmemAlloc(t: Tcb, truesize: number): number {
  const frames = (t.ofo !== null ? t.ofo.n : 0) + (t.frames !== null ? t.frames.held : 0);
  return t.rx.pending + (t.user !== null ? t.user.appQueued() : 0) + frames * truesize;
}

/**
 * tcp_select_window: the window to advertise, from the receive buffer's free space, with the
 * receiver's silly-window avoidance (nothing below half the buffer that is also below an MSS
 * or a sixteenth of it) and never shrinking what was offered (RFC 9293 3.8.6.2.2). Records it as
 * rcv_wnd from rcv_nxt and returns the 16-bit field (scaled).
 */
export function selectWindow(ctx: TcpCtx, t: Tcb): number {
  const full = t.rcvbuf;
  const held = rcvHeld(t);
  t.heldAtAdv = held;
  let free = full - held;
  if (free < 0) free = 0;
  if (free < full >>> 1 && (free < full >>> 4 || free < t.rcv_mss)) free = 0;
  const shift = t.rcv_wscale;
  let win = Math.floor(free / (1 << shift)) * (1 << shift);
  const cur = seqDiff(seqAdd(t.rcv_wup, t.rcv_wnd), t.rcv_nxt);
  if (win < cur) win = Math.ceil(cur / (1 << shift)) * (1 << shift);
  const max = 65535 * (1 << shift);
  if (win > max) win = max;
  const ext = ctx.mib.ext.v;
  if (win === 0) {
    ext[TCPEXT.TCPWantZeroWindowAdv]++;
    if (t.rcv_wnd !== 0) ext[TCPEXT.TCPToZeroWindowAdv]++;
  } else if (t.rcv_wnd === 0) ext[TCPEXT.TCPFromZeroWindowAdv]++;
  t.rcv_wnd = win;
  t.rcv_wup = t.rcv_nxt;
  return win / (1 << shift);
}

/** The window a SYN or SYN-ACK offers (never scaled, RFC 7323 2.2): whole segments up to 64 KiB. */
export function synWnd(rcvbuf: number, mss: number): number {
  const w = rcvbuf < 65535 ? rcvbuf : 65535;
  return w > mss ? w - (w % mss) : w;
}

/** synWnd for t, recorded as the window offered. */
export function synWindow(t: Tcb): number {
  const w = synWnd(t.rcvbuf, advMss(t));
  t.rcv_wnd = w;
  t.rcv_wup = t.rcv_nxt;
  return w;
}

/**
 * tcp_transmit_skb: build one segment in a new frame — IP header, TCP header with options
 * (timestamps on every segment of a timestamped connection, SACK blocks while we hold out-of-order
 * data, the SYN options on a SYN), `len` payload bytes of the send queue from `seq` — and push it
 * to ip-local-out. False when the ring or the pool has no room (the caller retries later: the
 * next ACK or timer).
 */
export function transmit(ctx: TcpCtx, t: Tcb, seq: number, len: number, flags: number, retrans: boolean): boolean {
  const out = ctx.out;
  if (out.room() <= 0) return false;
  const a = out.alloc();
  if (a < 0) return false;
  const dv = ctx.dv;
  const h = a + LLR;
  const p = h + IPH;
  let q = p + TH;
  let win: number;
  if ((flags & SYN) !== 0) {
    const ts = t.tsOk;
    q += tcpWriteSynOptions(dv, q, advMss(t), t.wscaleOk ? t.rcv_wscale : -1, t.sackOk, ts, ts ? ctx.tsNow(t) : 0, t.ts_recent);
    win = synWindow(t);
  } else {
    if (t.tsOk) q += tcpWriteTsOption(dv, q, ctx.tsNow(t), t.ts_recent);
    if (t.sackOk && t.ofo !== null && t.ofo.n > 0 && (flags & RST) === 0) {
      const n = t.ofo.sackBlocks(ctx.sackOut, t.tsOk ? 3 : 4);
      if (n > 0) q += tcpWriteSackOption(dv, q, ctx.sackOut, n);
    }
    win = (flags & RST) !== 0 ? 0 : selectWindow(ctx, t);
  }
  const hlen = q - p;
  let sum = 0;
  if (len > 0) {
    t.sq.copyOut(seq, len, ctx.u8, q);
    sum = csumPartial(dv, q, len, 0);
  }
  writeTcpHdr(dv, p, t.lport, t.rport, seq, (flags & ACK) !== 0 ? t.rcv_nxt : 0, hlen, flags, win);
  tcpSetCsum(dv, p, hlen, hlen + len, t.laddr, t.raddr, sum);
  const ip = ctx.ipv4.ctx;
  writeIpv4Header(dv, h, 0, IPH + hlen + len, ip.nextIdent(), IP_DF, ip.sysctl.ip_default_ttl, IPPROTO_TCP, t.laddr, t.raddr);
  out.push(a, LLR + IPH + hlen + len);
  const m = ctx.mib.tcp.v;
  m[TCP.OutSegs]++;
  t.segsOut++;
  if (retrans) {
    m[TCP.RetransSegs]++;
    t.totalRetrans++;
  }
  if ((flags & ACK) !== 0) {
    t.rcvSinceAck = 0;
    t.ackNow = false;
    if (t.quick > 0) t.quick--;
    ctx.wheel.cancel(t.tDack);
  }
  if (len > 0) {
    const now = ctx.now();
    // tcp_event_data_sent: data sent within the delayed-ACK time of the last data received is a
    // reply — an interactive exchange (pingpong), whose ACKs ride on the replies, not quickacks.
    if (now - t.lastDataRecv < DELACK_MS) t.pingpong = true;
    t.lastDataSent = now;
  }
  return true;
}

/** A pure ACK (tcp_send_ack). */
export function sendAck(ctx: TcpCtx, t: Tcb): boolean {
  return transmit(ctx, t, t.snd_nxt, 0, ACK, false);
}

/** RFC 5961 challenge ACK, rate limited (tcp_send_challenge_ack). */
export function challengeAck(ctx: TcpCtx, t: Tcb): void {
  if (!ctx.challengeAllowed()) return;
  ctx.mib.ext.v[TCPEXT.TCPChallengeACK]++;
  sendAck(ctx, t);
}

/** tcp_send_active_reset: RST|ACK at snd_nxt. */
export function sendActiveReset(ctx: TcpCtx, t: Tcb): void {
  if (transmit(ctx, t, t.snd_nxt, 0, RST | ACK, false)) ctx.mib.tcp.v[TCP.OutRsts]++;
}

/** The SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) at iss. */
export function sendSyn(ctx: TcpCtx, t: Tcb, retrans: boolean): boolean {
  return transmit(ctx, t, t.iss, 0, t.state === TCP_SYN_SENT ? SYN : SYN | ACK, retrans);
}

/** tcp_xmit_probe_skb: a segment the peer must answer with an ACK (seq snd_una - 1, no data). */
export function sendProbe(ctx: TcpCtx, t: Tcb): boolean {
  return transmit(ctx, t, (t.snd_una - 1) >>> 0, 0, ACK, false);
}

/** Arm the retransmission timer for an RTO from now (RFC 6298 5.1/5.3). */
export function armRto(ctx: TcpCtx, t: Tcb): void {
  t.rtxMode = RTX_RTO;
  ctx.wheel.arm(t.tRtx, ctx.now() + t.rto);
}

/** Arm the zero-window probe timer (ICSK_TIME_PROBE0, backed off like the RTO). */
export function armProbe(ctx: TcpCtx, t: Tcb): void {
  t.rtxMode = RTX_PROBE;
  let when = t.rto * 2 ** t.backoff;
  if (when > TCP_RTO_MAX) when = TCP_RTO_MAX;
  ctx.wheel.arm(t.tRtx, ctx.now() + when);
}

/**
 * Where recovery's "lost" region ends: after an RTO everything outstanding; in fast recovery the
 * first segment (NewReno) and, with SACK, every hole with tcp_reordering - 1 segments SACKed
 * above it (FACK-like IsLost, RFC 6675).
 */
export function lossLimit(t: Tcb): number {
  if (t.caState === CA_LOSS) return t.highSeq;
  let lim = t.lostEnd;
  if (t.sack.n > 0) {
    const h = (t.sack.high(t.snd_una) - (t.reordering - 1) * t.mss) >>> 0;
    lim = seqMax(lim, h);
  }
  return seqMin(lim, t.highSeq);
}

/**
 * The bytes in flight (RFC 6675 "pipe"): outstanding, less what was SACKed (or, without SACK,
 * one segment per dup ACK) and less what is lost and not yet retransmitted.
 */
export function inflight(ctx: TcpCtx, t: Tcb): number {
  const outstanding = seqDiff(t.snd_nxt, t.snd_una);
  let sacked = t.sackOk ? t.sack.bytes : t.renoSacked * t.mss;
  if (sacked > outstanding) sacked = outstanding;
  let pipe = outstanding - sacked;
  if (t.caState >= CA_RECOVERY) {
    const lim = lossLimit(t);
    const from = seqMax(t.retxHigh, t.snd_una);
    if (seqLt(from, lim)) pipe -= seqDiff(lim, from) - t.sack.sackedIn(from, lim);
  }
  return pipe > 0 ? pipe : 0;
}

/** Can this state send data (or a FIN)? */
function canSend(state: number): boolean {
  return state === TCP_ESTABLISHED || state === TCP_CLOSE_WAIT || state === TCP_FIN_WAIT1 || state === TCP_CLOSING || state === TCP_LAST_ACK;
}

/**
 * tcp_xmit_retransmit_queue + tcp_write_xmit: while the congestion window has room, first
 * retransmit the lost holes (recovery, after an RTO), then send new data as the peer's window,
 * sender-side silly-window avoidance and Nagle allow, the FIN after the last byte. Arms the RTO
 * when something went out and none is pending; the zero-window probe when the peer's window
 * stops everything.
 */
export function xmit(ctx: TcpCtx, t: Tcb): void {
  if (!canSend(t.state)) return;
  const mss = t.mss;
  const cwndBytes = t.cwnd * mss;
  let pipe = inflight(ctx, t);
  let sent = false;
  if (t.caState >= CA_RECOVERY) {
    const lim = lossLimit(t);
    const ext = ctx.mib.ext.v;
    while (pipe < cwndBytes) {
      if (!t.sack.nextHole(seqMax(t.retxHigh, t.snd_una), lim)) break;
      const s = t.sack.holeStart;
      const dataEnd = t.sq.end;
      let len = seqDiff(t.sack.holeEnd, s);
      if (len > mss) len = mss;
      let fl = ACK;
      if (!seqLt(s, dataEnd)) {
        if (!t.finSent) break;
        len = 0;
        fl |= FIN;
      } else {
        if (seqGt(seqAdd(s, len), dataEnd)) len = seqDiff(dataEnd, s);
        if (t.finSent && seqAdd(s, len) === dataEnd && seqGt(t.sack.holeEnd, dataEnd)) fl |= FIN;
      }
      if (!transmit(ctx, t, s, len, fl, true)) return;
      const used = len + ((fl & FIN) !== 0 ? 1 : 0);
      t.retxHigh = seqAdd(s, used);
      t.rttSeq = 0; // Karn
      pipe += used;
      ext[t.caState === CA_LOSS ? TCPEXT.TCPSlowStartRetrans : TCPEXT.TCPFastRetrans]++;
      sent = true;
    }
  }
  for (;;) {
    const avail = seqDiff(t.sq.end, t.snd_nxt);
    const fin = t.finQueued && !t.finSent;
    if (avail <= 0 && !fin) break;
    let len = avail > mss ? mss : avail > 0 ? avail : 0;
    const room = seqDiff(seqAdd(t.snd_una, t.snd_wnd), t.snd_nxt);
    if (len > room) {
      // Sender SWS avoidance: a partial segment only when it is half the largest window seen.
      if (room <= 0 || (room < mss && room < t.max_window >>> 1)) {
        if (t.snd_una === t.snd_nxt && t.rtxMode !== RTX_PROBE) armProbe(ctx, t);
        break;
      }
      len = room;
    }
    if (pipe > 0 && pipe + len > cwndBytes) break;
    const last = len === avail;
    // Nagle (RFC 896): a small segment waits while data is unacknowledged, unless it ends the stream.
    if (len < mss && !t.noDelay && t.snd_nxt !== t.snd_una && !(fin && last)) break;
    let fl = ACK;
    if (last && len > 0) fl |= PSH;
    if (fin && (last || avail <= 0)) fl |= FIN;
    if (len === 0 && (fl & FIN) === 0) break;
    if (!transmit(ctx, t, t.snd_nxt, len, fl, false)) {
      // No frame or ring room: try again from the retransmit timer if nothing else will wake us.
      if (t.rtxMode === RTX_NONE) armRto(ctx, t);
      break;
    }
    if (len > 0) {
      ctx.mib.ext.v[TCPEXT.TCPOrigDataSent]++;
      if (!t.tsOk && t.rttSeq === 0) {
        t.rttSeq = seqAdd(t.snd_nxt, len);
        t.rttStamp = ctx.now();
      }
    }
    const used = len + ((fl & FIN) !== 0 ? 1 : 0);
    t.snd_nxt = seqAdd(t.snd_nxt, used);
    if ((fl & FIN) !== 0) t.finSent = true;
    pipe += used;
    sent = true;
  }
  if (sent && t.rtxMode !== RTX_RTO) armRto(ctx, t);
  const segs = Math.ceil(pipe / mss);
  if (segs > t.maxInflight) t.maxInflight = segs;
}
