import { TCP_ACK, TCP_FIN } from '../../wire/tcp.ts';
import type { TcpCtx } from './ctx.ts';
import { TCPEXT } from './mib.ts';
import { armRto, challengeAck, transmit } from './output.ts';
import { ackRtt, rtoOf } from './rtt.ts';
import type { Seg } from './seg.ts';
import { seqAdd, seqDiff, seqGeq, seqGt, seqLeq, seqLt, seqMax, seqMin } from './seq.ts';
import { CA_DISORDER, CA_LOSS, CA_OPEN, CA_RECOVERY, RTX_NONE, RTX_PROBE, RTX_RTO, WAKE_WRITABLE, type Tcb } from './tcb.ts';

/** tcpAck results. */
export const ACK_OK = 0;
/** Older than snd_una but plausible: ignored, the segment's data is still processed. */
export const ACK_OLD = 1;
/** Acknowledges data never sent: send an ACK, drop (RFC 9293 3.10.7.4). */
export const ACK_UNSENT = 2;
/** Older than a window (RFC 5961 5.2): challenge ACK sent, drop. */
export const ACK_TOO_OLD = 3;

const SYN_FIN = 0x03;
/** net.ipv4.tcp_max_reordering. */
const TCP_MAX_REORDERING = 300;

/**
 * tcp_ack: the ACK field of an acceptable segment. Updates the send window (tcp_ack_update_window),
 * the SACK scoreboard, drops acknowledged bytes from the send queue, takes an RTT sample (the
 * timestamp echo, else the one timed segment: Karn), grows cwnd, counts dup ACKs and runs loss
 * recovery (tcp_fastretrans_alert: NewReno partial ACKs, SACK holes), re-arms or stops the RTO.
 */
export function tcpAck(ctx: TcpCtx, t: Tcb, s: Seg): number {
  const ack = s.ack;
  const una = t.snd_una;
  if (seqGt(ack, t.snd_nxt)) return ACK_UNSENT;
  if (seqLt(ack, una)) {
    if (seqLt(ack, (una - t.max_window) >>> 0)) {
      challengeAck(ctx, t);
      return ACK_TOO_OLD;
    }
    if (t.sackOk && s.opts.sackN > 0) sackUpdate(ctx, t, s);
    return ACK_OLD;
  }
  const now = ctx.now();
  // Any acceptable ACK answers a keepalive probe (tcp_ack: icsk_probes_out = 0).
  t.lastAckRecv = now;
  t.probes = 0;
  const oldWnd = t.snd_wnd;
  const nwin = s.wnd * (1 << t.snd_wscale);
  // tcp_may_update_window (RFC 9293's SND.WL1/WL2 rule, as Linux words it).
  if (seqGt(ack, una) || seqGt(s.seq, t.snd_wl1) || (s.seq === t.snd_wl1 && nwin > t.snd_wnd)) {
    t.snd_wnd = nwin;
    t.snd_wl1 = s.seq;
    t.snd_wl2 = ack;
    if (nwin > t.max_window) t.max_window = nwin;
    if (nwin > 0 && t.rtxMode === RTX_PROBE) {
      ctx.wheel.cancel(t.tRtx);
      t.rtxMode = RTX_NONE;
      t.probes = 0;
      t.backoff = 0;
    }
  }
  if (t.sackOk && s.opts.sackN > 0) sackUpdate(ctx, t, s);
  const acked = seqDiff(ack, una);
  if (acked > 0) {
    const sq = t.sq;
    let dataAcked = seqDiff(seqMin(ack, sq.end), seqMax(una, sq.base));
    if (dataAcked < 0) dataAcked = 0;
    if (seqGt(ack, sq.base)) {
      const n = seqDiff(ack, sq.base);
      sq.consume(n < sq.bytes ? n : sq.bytes);
    }
    t.snd_una = ack;
    t.sack.trim(ack);
    t.bytesAcked += dataAcked;
    // RTT: the timestamp echo (valid even for retransmissions, RFC 7323 4.1), else Karn's timed segment.
    let rtt = -1;
    if (t.tsOk && s.opts.hasTs && s.opts.tsEcr !== 0) rtt = seqDiff(ctx.tsNow(t), s.opts.tsEcr);
    else if (t.rttSeq !== 0 && seqGeq(ack, t.rttSeq)) {
      rtt = now - t.rttStamp;
      t.rttSeq = 0;
    }
    ackRtt(t, rtt);
    t.backoff = 0;
    t.retransmits = 0;
    if (t.srtt > 0) t.rto = rtoOf(t);
    const ackedSegs = dataAcked > 0 ? Math.ceil(dataAcked / t.mss) : 1;
    if (t.caState >= CA_RECOVERY) {
      if (seqGeq(ack, t.highSeq)) endRecovery(t);
      else if (t.caState === CA_RECOVERY) {
        // NewReno partial ACK (RFC 6582): the next segment is lost too.
        t.lostEnd = seqMax(t.lostEnd, seqAdd(ack, t.mss));
        if (!t.sackOk) {
          // Without SACK nothing else says what left the network: retransmit the new head now.
          t.renoSacked = t.renoSacked > ackedSegs ? t.renoSacked - ackedSegs : 0;
          if (retransmitHead(ctx, t)) ctx.mib.ext.v[TCPEXT.TCPFastRetrans]++;
        }
      }
    }
    if (t.caState !== CA_RECOVERY) t.cong.congAvoid(t, ackedSegs, now);
    t.maxInflight = 0;
    t.dupacks = 0;
    if (t.caState <= CA_DISORDER) {
      t.renoSacked = 0;
      t.caState = t.sack.n > 0 ? CA_DISORDER : CA_OPEN;
    }
    if (t.snd_una === t.snd_nxt) {
      if (t.rtxMode === RTX_RTO) {
        ctx.wheel.cancel(t.tRtx);
        t.rtxMode = RTX_NONE;
      }
    } else armRto(ctx, t);
    // tcp_sndbuf_expand: room for two windows of data.
    const want = 2 * t.cwnd * t.mss;
    const wmem = ctx.sysctl.tcp_wmem;
    if (want > t.sndbuf) t.sndbuf = want < wmem[2] ? want : wmem[2];
    if (t.user !== null && t.sq.bytes < t.sndbuf) ctx.wake(t, WAKE_WRITABLE);
  } else if (s.len === 0 && (s.flags & SYN_FIN) === 0 && nwin === oldWnd && t.snd_una !== t.snd_nxt) {
    t.dupacks++;
    if (!t.sackOk) {
      const segs = Math.ceil(seqDiff(t.snd_nxt, t.snd_una) / t.mss) - 1;
      t.renoSacked = t.dupacks < segs ? t.dupacks : segs > 0 ? segs : 0;
    }
  }
  if (t.caState <= CA_DISORDER && t.snd_una !== t.snd_nxt) {
    const reo = t.reordering;
    if (t.dupacks >= reo || (t.sackOk && t.sack.bytes >= reo * t.mss && !t.sack.has(t.snd_una))) enterRecovery(ctx, t);
    else if (t.dupacks > 0 || t.sack.n > 0) t.caState = CA_DISORDER;
  }
  return ACK_OK;
}

/**
 * tcp_sacktag_write_queue: record the SACK blocks that lie in (snd_una, snd_nxt]. A first block
 * below snd_una or inside the second is a D-SACK (RFC 2883): counted, not a hole map.
 */
function sackUpdate(ctx: TcpCtx, t: Tcb, s: Seg): void {
  const o = s.opts;
  const ext = ctx.mib.ext.v;
  for (let k = 0; k < o.sackN; k++) {
    let a = o.sack[2 * k];
    const b = o.sack[2 * k + 1];
    if (!seqLt(a, b)) {
      ext[TCPEXT.TCPSACKDiscard]++;
      continue;
    }
    if (k === 0 && (seqLt(a, t.snd_una) || (o.sackN > 1 && seqGeq(a, o.sack[2]) && seqLeq(b, o.sack[3])))) {
      ext[TCPEXT.TCPDSACKRecv]++;
      continue;
    }
    if (seqGt(b, t.snd_nxt)) {
      ext[TCPEXT.TCPSACKDiscard]++;
      continue;
    }
    if (seqLeq(b, t.snd_una)) continue;
    if (seqLt(a, t.snd_una)) a = t.snd_una;
    // tcp_check_sack_reordering: bytes below the highest SACK, never retransmitted, arriving
    // now were reordered, not lost: tolerate that distance before calling a hole lost.
    const high = t.sack.high(t.snd_una);
    if (seqLt(a, high) && (t.caState < CA_RECOVERY || seqGeq(a, t.retxHigh)) && t.sack.sackedIn(a, b) < seqDiff(b, a)) {
      const dist = Math.ceil(seqDiff(high, a) / t.mss) + 1;
      if (dist > t.reordering) {
        t.reordering = dist < TCP_MAX_REORDERING ? dist : TCP_MAX_REORDERING;
        ext[TCPEXT.TCPSACKReorder]++;
      }
    }
    t.sack.add(a, b);
  }
}

/** Fast retransmit (RFC 6675 step 4 / RFC 6582): reduce the window, retransmit the first segment now. */
export function enterRecovery(ctx: TcpCtx, t: Tcb): void {
  const ext = ctx.mib.ext.v;
  ext[t.sackOk ? TCPEXT.TCPSackRecovery : TCPEXT.TCPRenoRecovery]++;
  t.ssthresh = t.cong.ssthresh(t);
  t.cwnd = t.ssthresh;
  t.cwndCnt = 0;
  t.caState = CA_RECOVERY;
  t.highSeq = t.snd_nxt;
  t.lostEnd = seqAdd(t.snd_una, t.mss);
  t.retxHigh = t.snd_una;
  t.rttSeq = 0;
  retransmitHead(ctx, t);
  ext[TCPEXT.TCPFastRetrans]++;
}

/** tcp_enter_loss (an RTO): cwnd 1, everything outstanding and not SACKed is lost. */
export function enterLoss(t: Tcb): void {
  if (t.caState !== CA_LOSS || t.retransmits === 0) t.ssthresh = t.cong.ssthresh(t);
  t.cong.onLoss(t);
  t.cwnd = 1;
  t.cwndCnt = 0;
  t.caState = CA_LOSS;
  t.highSeq = t.snd_nxt;
  t.lostEnd = t.snd_nxt;
  t.retxHigh = t.snd_una;
  t.dupacks = 0;
  t.renoSacked = 0;
  t.rttSeq = 0;
}

function endRecovery(t: Tcb): void {
  // tcp_end_cwnd_reduction: leave fast recovery at ssthresh; after an RTO slow start goes on.
  if (t.caState === CA_RECOVERY && t.cwnd > t.ssthresh) t.cwnd = t.ssthresh;
  t.caState = CA_OPEN;
  t.dupacks = 0;
  t.renoSacked = 0;
  t.lostEnd = t.snd_una;
  t.retxHigh = t.snd_una;
}

/** Retransmit the segment at snd_una (or the FIN alone), whatever the window says. */
export function retransmitHead(ctx: TcpCtx, t: Tcb): boolean {
  const s = t.snd_una;
  const dataEnd = t.sq.end;
  let len = seqDiff(dataEnd, s);
  if (len > t.mss) len = t.mss;
  let fl = TCP_ACK;
  if (len <= 0) {
    if (!t.finSent) return false;
    len = 0;
    fl |= TCP_FIN;
  } else if (t.finSent && seqAdd(s, len) === dataEnd) fl |= TCP_FIN;
  if (!transmit(ctx, t, s, len, fl, true)) return false;
  const end = seqAdd(s, len + (fl & TCP_FIN));
  if (seqGt(end, t.retxHigh)) t.retxHigh = end;
  return true;
}
