import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../wire/tcp.ts';
import { ACK_TOO_OLD, ACK_UNSENT, tcpAck } from './ack.ts';
import { enterTimeWait, freeOfo, setState, tcpDone, tcpReset } from './conn.ts';
import type { TcpCtx } from './ctx.ts';
import { TCP, TCPEXT } from './mib.ts';
import { OFO_DUP } from './ofo.ts';
import { rcvRttMeasure } from './rcv-space.ts';
import { advMss, challengeAck, rcvHeld, rmemAlloc, sendActiveReset, sendAck, sendSyn } from './output.ts';
import { ackRtt } from './rtt.ts';
import { SEG_FREE, SEG_HELD, SEG_RELOOKUP, SEG_RESET, type Seg } from './seg.ts';
import { seqAdd, seqDiff, seqGt, seqLeq, seqLt } from './seq.ts';
import type { Listener } from './table.ts';
import type { TcpOptions } from '../../wire/tcp.ts';
import {
  RTX_NONE,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_CLOSING,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT1,
  TCP_FIN_WAIT2,
  TCP_LAST_ACK,
  TCP_MAX_QUICKACKS,
  TCP_SYN_RECV,
  TCP_SYN_SENT,
  TCP_TIME_WAIT,
  WAKE_ACCEPT,
  WAKE_CONNECT,
  WAKE_DATA,
  WAKE_EOF,
  type Tcb,
} from './tcb.ts';

const ACK = TCP_ACK;
const FIN = TCP_FIN;
const RST = TCP_RST;
const SYN = TCP_SYN;
/** RFC 7323 5.5: a ts_recent idle this long (24 days) no longer rejects segments. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;
/** Timestamp ticks (ms) a segment may lag ts_recent by (TCP_PAWS_WINDOW). */
const TCP_PAWS_WINDOW = 1;
/** TCP_MSS_DEFAULT: what the peer takes without an MSS option. */
export const TCP_MSS_DEFAULT = 536;

/**
 * A segment for a connection (tcp_rcv_state_process / tcp_rcv_established, RFC 9293 3.10.7):
 * returns what became of its frame (SEG_*) or a drop reason id.
 */
export function tcpRcvState(ctx: TcpCtx, t: Tcb, s: Seg): number {
  const st = t.state;
  if (st === TCP_SYN_SENT) return rcvSynSent(ctx, t, s);
  if (st === TCP_TIME_WAIT) return rcvTimeWait(ctx, t, s);
  if (st === TCP_CLOSE) return ctx.drops.closed;
  return rcvSynchronized(ctx, t, s);
}

/** The send MSS from the peer's MSS, the route MTU and our options (tcp_sync_mss). */
export function syncMss(t: Tcb): void {
  let mss = t.peerMss < t.mtu - 40 ? t.peerMss : t.mtu - 40;
  if (t.tsOk) mss -= 12;
  t.mss = mss > 64 ? mss : 64;
}

/**
 * The options of the peer's SYN against what we offered (t.wscaleOk/sackOk/tsOk preset to our
 * offer): each is on only when both sides asked for it (tcp_parse_options on a SYN).
 */
export function negotiate(ctx: TcpCtx, t: Tcb, o: TcpOptions): void {
  t.peerMss = o.mss > 0 ? o.mss : TCP_MSS_DEFAULT;
  if (t.wscaleOk && o.wscale >= 0) t.snd_wscale = o.wscale;
  else {
    t.wscaleOk = false;
    t.snd_wscale = 0;
    t.rcv_wscale = 0;
  }
  t.sackOk = t.sackOk && o.sackOk;
  t.tsOk = t.tsOk && o.hasTs;
  if (t.tsOk) {
    t.ts_recent = o.tsVal;
    t.ts_recent_stamp = ctx.now();
  }
  syncMss(t);
}

/** What our SYN or SYN-ACK offers (the sysctls); negotiate() keeps what the peer's SYN asks for too. */
export function offerOptions(ctx: TcpCtx, t: Tcb): void {
  const sys = ctx.sysctl;
  t.wscaleOk = sys.tcp_window_scaling !== 0;
  t.rcv_wscale = t.wscaleOk ? ourWscale(ctx) : 0;
  t.sackOk = sys.tcp_sack !== 0;
  t.tsOk = sys.tcp_timestamps !== 0;
}

/** The peer's SYN: its ISN, its options against our offer, its window (never scaled on a SYN). */
export function synReceived(ctx: TcpCtx, t: Tcb, s: Seg): void {
  t.irs = s.seq;
  t.rcv_nxt = seqAdd(s.seq, 1);
  t.rcv_wup = t.rcv_nxt;
  negotiate(ctx, t, s.opts);
  t.snd_wnd = s.wnd;
  t.max_window = s.wnd;
  t.snd_wl1 = s.seq;
}

/** Window scale we offer: enough for the largest receive buffer (tcp_select_initial_window). */
function ourWscale(ctx: TcpCtx): number {
  let space = Math.max(ctx.sysctl.tcp_rmem[2], ctx.tsys.rmem_max);
  let ws = 0;
  while (space > 65535 && ws < 14) {
    space >>>= 1;
    ws++;
  }
  return ws;
}

/** tcp_rcv_synsent_state_process: our SYN is out; a SYN-ACK completes the handshake. */
function rcvSynSent(ctx: TcpCtx, t: Tcb, s: Seg): number {
  const f = s.flags;
  if ((f & ACK) !== 0 && (!seqGt(s.ack, t.iss) || seqGt(s.ack, t.snd_nxt))) return (f & RST) !== 0 ? ctx.drops.reset : SEG_RESET;
  if ((f & RST) !== 0) {
    if ((f & ACK) === 0) return ctx.drops.reset;
    tcpReset(ctx, t);
    return SEG_FREE;
  }
  if ((f & SYN) === 0) return ctx.drops.flags;
  synReceived(ctx, t, s);
  if ((f & ACK) === 0) {
    // Simultaneous open (RFC 9293 3.5): answer with SYN-ACK from the same ISS.
    setState(ctx, t, TCP_SYN_RECV);
    sendSyn(ctx, t, false);
    return SEG_FREE;
  }
  t.snd_una = s.ack;
  t.snd_wl2 = s.ack;
  handshakeRtt(ctx, t, s);
  ctx.wheel.cancel(t.tRtx);
  t.rtxMode = RTX_NONE;
  t.retransmits = 0;
  t.backoff = 0;
  setState(ctx, t, TCP_ESTABLISHED);
  t.quick = TCP_MAX_QUICKACKS;
  armKeepalive(ctx, t);
  ctx.wake(t, WAKE_CONNECT);
  t.ackNow = true;
  ctx.toFlush(t);
  return SEG_FREE;
}

/** The handshake's RTT: the timestamp echo, else the SYN's send time if it was not retransmitted (Karn). */
function handshakeRtt(ctx: TcpCtx, t: Tcb, s: Seg): void {
  let rtt = -1;
  if (t.tsOk && s.opts.hasTs && s.opts.tsEcr !== 0) rtt = seqDiff(ctx.tsNow(t), s.opts.tsEcr);
  else if (t.retransmits === 0 && t.rttStamp > 0) rtt = ctx.now() - t.rttStamp;
  ackRtt(t, rtt);
}

/** Arm the keepalive check if SO_KEEPALIVE is on (it re-arms itself from the last activity). */
export function armKeepalive(ctx: TcpCtx, t: Tcb): void {
  if (!t.keepalive || t.tKeep < 0) return;
  const idle = t.keepIdleMs > 0 ? t.keepIdleMs : ctx.sysctl.tcp_keepalive_time * 1000;
  ctx.wheel.arm(t.tKeep, ctx.now() + idle);
}

/**
 * Every synchronized state: RFC 9293 3.10.7.4's checks in the kernel's order (PAWS, sequence,
 * RST per RFC 5961 3.2, SYN per RFC 5961 4.2, ACK, then text and FIN).
 */
function rcvSynchronized(ctx: TcpCtx, t: Tcb, s: Seg): number {
  const f = s.flags;
  const o = s.opts;
  const dr = ctx.drops;
  // PAWS (RFC 7323 5.3): a timestamp older than ts_recent is an old duplicate — except a
  // reordered dup ACK (tcp_disordered_ack), whose SACK blocks loss recovery needs.
  if (t.tsOk && o.hasTs && t.ts_recent !== 0 && ((t.ts_recent - o.tsVal) | 0) > TCP_PAWS_WINDOW && (f & RST) === 0 && ctx.now() - t.ts_recent_stamp < PAWS_IDLE_MS && !disorderedAck(t, s)) {
    ctx.mib.ext.v[TCPEXT.PAWSEstab]++;
    t.ackNow = true;
    ctx.toFlush(t);
    return dr.paws;
  }
  // Acceptability (tcp_sequence): ends at or after rcv_wup, starts within the window.
  let rwnd = seqDiff(seqAdd(t.rcv_wup, t.rcv_wnd), t.rcv_nxt);
  if (rwnd < 0) rwnd = 0;
  if (seqLt(s.end, t.rcv_wup) || seqGt(s.seq, seqAdd(t.rcv_nxt, rwnd))) {
    if ((f & RST) !== 0) return dr.reset;
    if ((f & SYN) !== 0) return synChallenge(ctx, t);
    t.ackNow = true;
    ctx.toFlush(t);
    return seqLt(s.end, t.rcv_wup) ? dr.oldData : dr.overWindow;
  }
  if ((f & RST) !== 0) {
    // RFC 5961 3.2: only the exact next sequence number resets; the rest of the window is challenged.
    if (s.seq === t.rcv_nxt) {
      tcpReset(ctx, t);
      return SEG_FREE;
    }
    challengeAck(ctx, t);
    return dr.reset;
  }
  if ((f & SYN) !== 0) {
    // A retransmitted SYN while our SYN-ACK is unacknowledged: send the SYN-ACK again.
    if (t.state === TCP_SYN_RECV && s.seq === t.irs && (f & ACK) === 0) {
      sendSyn(ctx, t, true);
      return SEG_FREE;
    }
    return synChallenge(ctx, t);
  }
  if ((f & ACK) === 0) return dr.flags;
  if (t.state === TCP_SYN_RECV) {
    if (!seqGt(s.ack, t.snd_una) || seqGt(s.ack, t.snd_nxt)) return SEG_RESET;
    establishPassive(ctx, t, s);
  }
  if (t.tsOk && o.hasTs && seqLeq(s.seq, t.rcv_wup)) {
    t.ts_recent = o.tsVal;
    t.ts_recent_stamp = ctx.now();
  }
  const r = tcpAck(ctx, t, s);
  if (r === ACK_UNSENT) {
    t.ackNow = true;
    ctx.toFlush(t);
    return dr.ackUnsent;
  }
  if (r === ACK_TOO_OLD) return dr.tooOldAck;
  if (t.finSent && t.snd_una === t.snd_nxt) {
    // Our FIN is acknowledged.
    const st = t.state;
    if (st === TCP_FIN_WAIT1) {
      setState(ctx, t, TCP_FIN_WAIT2);
      if (t.orphan) ctx.wheel.arm(t.tKeep, ctx.now() + ctx.sysctl.tcp_fin_timeout * 1000);
    } else if (st === TCP_CLOSING) {
      enterTimeWait(ctx, t);
      return SEG_FREE;
    } else if (st === TCP_LAST_ACK) {
      tcpDone(ctx, t);
      return SEG_FREE;
    }
  }
  ctx.toFlush(t);
  if (s.len === 0 && (f & FIN) === 0) return SEG_FREE;
  const st = t.state;
  // After the peer's FIN nothing new is valid; old retransmissions are acknowledged again.
  if ((st === TCP_CLOSE_WAIT || st === TCP_CLOSING || st === TCP_LAST_ACK) && !seqLt(s.seq, t.rcv_nxt)) return SEG_FREE;
  // Data for a connection the application closed: it cannot be read, reset (TCPAbortOnData).
  if (t.orphan && s.len > 0 && (st === TCP_FIN_WAIT1 || st === TCP_FIN_WAIT2) && seqGt(seqAdd(s.seq, s.len), t.rcv_nxt)) {
    ctx.mib.ext.v[TCPEXT.TCPAbortOnData]++;
    sendActiveReset(ctx, t);
    tcpDone(ctx, t);
    return SEG_FREE;
  }
  return dataQueue(ctx, t, s);
}

/** tcp_disordered_ack: a pure duplicate ACK at rcv_nxt that changes no window, within an RTO of ts_recent. */
function disorderedAck(t: Tcb, s: Seg): boolean {
  return (
    (s.flags & ACK) !== 0 &&
    s.seq === s.end &&
    s.seq === t.rcv_nxt &&
    s.ack === t.snd_una &&
    s.wnd * (1 << t.snd_wscale) === t.snd_wnd &&
    ((t.ts_recent - s.opts.tsVal) | 0) <= t.rto
  );
}

function synChallenge(ctx: TcpCtx, t: Tcb): number {
  ctx.mib.ext.v[TCPEXT.TCPSYNChallenge]++;
  challengeAck(ctx, t);
  return ctx.drops.invalidSyn;
}

/** SYN-RECEIVED -> ESTABLISHED on the handshake's ACK; the listener's accept queue gets it (or connect() completes). */
function establishPassive(ctx: TcpCtx, t: Tcb, s: Seg): void {
  handshakeRtt(ctx, t, s);
  const l = t.parent as Listener | null;
  if (l !== null) l.synQueue--;
  setState(ctx, t, TCP_ESTABLISHED);
  t.retransmits = 0;
  t.backoff = 0;
  t.quick = TCP_MAX_QUICKACKS;
  armKeepalive(ctx, t);
  if (l !== null) {
    ctx.mib.tcp.v[TCP.PassiveOpens]++;
    l.acceptQueue++;
    ctx.wake(t, WAKE_ACCEPT);
  } else ctx.wake(t, WAKE_CONNECT); // a simultaneous open: our connect() completes

}

/**
 * tcp_data_queue: in-order bytes are copied to the receive buffer (the frame is freed) — or, for
 * a zero-copy reader, stay in their frame on its queue — filling from the out-of-order queue
 * after them; out-of-order segments wait in their frames, answered by an immediate ACK carrying
 * SACK blocks (the peer's dup ACKs); duplicates are acknowledged.
 */
function dataQueue(ctx: TcpCtx, t: Tcb, s: Seg): number {
  const dr = ctx.drops;
  const ext = ctx.mib.ext.v;
  const fin = (s.flags & FIN) !== 0 ? 1 : 0;
  const nxt = t.rcv_nxt;
  let len = s.len;
  if (len > t.rcv_mss) {
    const adv = advMss(t);
    t.rcv_mss = len < adv ? len : adv;
  }
  if (seqLeq(seqAdd(s.seq, len + fin), nxt)) {
    // All of it was received before: the ACK was lost, or this is a spurious retransmission.
    t.ackNow = true;
    return dr.oldData;
  }
  let rwnd = seqDiff(seqAdd(t.rcv_wup, t.rcv_wnd), nxt);
  if (rwnd < 0) rwnd = 0;
  if (seqLeq(s.seq, nxt)) {
    const d = seqDiff(nxt, s.seq);
    len -= d;
    let held = false;
    if (len > 0) {
      if (rwnd === 0) {
        ext[TCPEXT.TCPZeroWindowDrop]++;
        t.ackNow = true;
        return dr.zeroWindow;
      }
      if (rcvHeld(t) + len > 2 * t.rcvbuf) {
        ext[TCPEXT.TCPRcvQDrop]++;
        t.ackNow = true;
        return dr.rcvqDrop;
      }
      if (t.zc) {
        const q = t.rcvFrames();
        if (!ctx.mem.charge()) {
          ext[TCPEXT.TCPRcvQDrop]++;
          t.ackNow = true;
          return dr.rcvqDrop;
        }
        q.push(s.frame, s.data + d, len);
        held = true;
      } else t.rx.append(ctx.u8, s.data + d, len);
      t.rcv_nxt = seqAdd(nxt, len);
      rcvRttMeasure(ctx, t);
      t.bytesReceived += len;
      t.rcvSinceAck += len;
      t.lastDataRecv = ctx.now();
      ctx.wake(t, WAKE_DATA);
    }
    if (fin !== 0) tcpFin(ctx, t);
    else if (t.ofo !== null && t.ofo.n > 0) {
      ofoDrain(ctx, t);
      t.ackNow = true;
    }
    if (t.quick > 0 && !t.pingpong) t.ackNow = true; // tcp_in_quickack_mode
    return held ? SEG_HELD : SEG_FREE;
  }
  // Out of order.
  t.ackNow = true;
  if (!seqLt(s.seq, seqAdd(nxt, rwnd))) return dr.overWindow;
  // tcp_try_rmem_schedule: the frame, at its truesize, must fit the socket's receive memory
  // (twice the window, as sk_rcvbuf is to the window) and the sockets' frame share.
  const ts = ctx.mem.truesize;
  if (rmemAlloc(t, ts) + ts > 2 * t.rcvbuf || !ctx.mem.charge()) {
    ext[TCPEXT.TCPOFODrop]++;
    return dr.ofoDrop;
  }
  const q = t.ofoQueue();
  const r = q.insert(s.seq, seqAdd(s.seq, len), s.frame, s.data, fin);
  if (q.freedN > 0) {
    for (let k = 0; k < q.freedN; k++) ctx.pool.free(q.freed[k]);
    ctx.mem.uncharge(q.freedN);
    ext[TCPEXT.TCPOFOMerge] += q.freedN;
    q.freedN = 0;
  }
  if (r === OFO_DUP) {
    ctx.mem.uncharge(1);
    ext[TCPEXT.TCPOFOMerge]++;
    return dr.oldData;
  }
  ext[TCPEXT.TCPOFOQueue]++;
  return SEG_HELD;
}

/**
 * tcp_ofo_queue: move what became in order from the out-of-order queue to the receive buffer (a
 * zero-copy reader's queue takes the frame itself, its charge with it).
 */
function ofoDrain(ctx: TcpCtx, t: Tcb): void {
  const q = t.ofo!;
  while (q.n > 0 && seqLeq(q.seq[0], t.rcv_nxt)) {
    const e = q.end[0];
    let kept = false;
    if (seqGt(e, t.rcv_nxt)) {
      const d = seqDiff(t.rcv_nxt, q.seq[0]);
      const n = seqDiff(e, t.rcv_nxt);
      if (t.zc) {
        t.rcvFrames().push(q.addr[0], q.data[0] + d, n);
        kept = true;
      } else t.rx.append(ctx.u8, q.data[0] + d, n);
      t.rcv_nxt = e;
      t.bytesReceived += n;
      t.rcvSinceAck += n;
      ctx.wake(t, WAKE_DATA);
    }
    const fin = q.fin[0] !== 0 && e === t.rcv_nxt;
    if (!kept) {
      ctx.pool.free(q.addr[0]);
      ctx.mem.uncharge(1);
    }
    q.popFront();
    if (fin) {
      tcpFin(ctx, t);
      return;
    }
  }
  t.lastDataRecv = ctx.now();
}

/** tcp_fin: the peer's FIN, in order. */
function tcpFin(ctx: TcpCtx, t: Tcb): void {
  t.rcv_nxt = seqAdd(t.rcv_nxt, 1);
  t.finRcvd = true;
  t.ackNow = true;
  freeOfo(ctx, t);
  ctx.wake(t, WAKE_EOF);
  const st = t.state;
  if (st === TCP_ESTABLISHED || st === TCP_SYN_RECV) setState(ctx, t, TCP_CLOSE_WAIT);
  else if (st === TCP_FIN_WAIT1) setState(ctx, t, TCP_CLOSING);
  else if (st === TCP_FIN_WAIT2) {
    // ACK first, as tcp_fin does: beyond tcp_max_tw_buckets the connection is gone at once, and
    // an unacknowledged FIN would hold the peer in LAST-ACK until it retransmits into a RST.
    sendAck(ctx, t);
    enterTimeWait(ctx, t);
  }
}

/** tcp_timewait_state_process (net.ipv4.tcp_rfc1337 = 0). */
function rcvTimeWait(ctx: TcpCtx, t: Tcb, s: Seg): number {
  const f = s.flags;
  const o = s.opts;
  if ((f & RST) !== 0) {
    tcpDone(ctx, t);
    return SEG_FREE;
  }
  const pawsOk = !(t.tsOk && o.hasTs && t.ts_recent !== 0 && ((o.tsVal - t.ts_recent) | 0) < 0);
  if ((f & SYN) !== 0 && (f & ACK) === 0 && seqGt(s.seq, t.rcv_nxt) && pawsOk) {
    // A new incarnation of the connection (RFC 9293 3.6.1 / RFC 6191): TIME-WAIT gives way.
    ctx.mib.ext.v[TCPEXT.TWRecycled]++;
    tcpDone(ctx, t);
    return SEG_RELOOKUP;
  }
  if ((f & FIN) !== 0 && s.end === t.rcv_nxt) {
    // The peer retransmitted its FIN: our ACK was lost. Again, and TIME-WAIT starts over.
    ctx.wheel.arm(t.tKeep, ctx.now() + ctx.sysctl.tcp_tw_len * 1000);
    sendAck(ctx, t);
    return SEG_FREE;
  }
  if (s.len > 0 || (f & (SYN | FIN)) !== 0 || !pawsOk) {
    sendAck(ctx, t);
    return ctx.drops.closed;
  }
  return SEG_FREE;
}
