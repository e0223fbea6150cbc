import type { TcpCtx } from './ctx.ts';
import { advMss } from './output.ts';
import { seqAdd, seqLt } from './seq.ts';
import type { Tcb } from './tcb.ts';

/**
 * Receive buffer autotuning (dynamic right-sizing: tcp_rcv_rtt_measure, tcp_rcv_space_adjust).
 * Once per receiver RTT, the bytes the application took in that RTT are compared with the
 * previous RTT's; when they grew, the buffer (here: the window, t.rcvbuf) becomes
 * 2 × taken + 16 segments, more while the sender is still speeding up, within tcp_rmem[2] and
 * half the sockets' frame share (a window of out-of-order frames must fit in the pool's share).
 * Only grows, as Linux's. Off with net.ipv4.tcp_moderate_rcvbuf = 0.
 */

/** Bytes the application has taken (copied_seq): received in order less what still waits for it. */
function copiedBytes(t: Tcb): number {
  return t.bytesReceived - t.rx.pending - (t.user !== null ? t.user.appQueued() : 0) - (t.frames !== null ? t.frames.bytes : 0);
}

/**
 * tcp_rcv_rtt_measure (without timestamps: softnet's TS clock ticks in ms, too coarse on a LAN):
 * the time a window's worth of data takes to arrive, the least seen. Called per in-order segment.
 */
export function rcvRttMeasure(ctx: TcpCtx, t: Tcb): void {
  const now = ctx.now();
  if (t.rcvRttTime !== 0) {
    if (seqLt(t.rcv_nxt, t.rcvRttSeq)) return;
    let d = now - t.rcvRttTime;
    if (d < 0.001) d = 0.001; // the clock ticks per poll round: never 0 (it means "no sample")
    if (t.rcvRtt === 0 || d < t.rcvRtt) t.rcvRtt = d;
  }
  t.rcvRttSeq = seqAdd(t.rcv_nxt, t.rcv_wnd);
  t.rcvRttTime = now;
}

/** tcp_rcv_space_adjust: after the application took bytes (tcp_recvmsg). */
export function rcvSpaceAdjust(ctx: TcpCtx, t: Tcb): void {
  const now = ctx.now();
  const copied = copiedBytes(t);
  if (t.rcvSpaceTime === 0) {
    // tcp_init_buffer_space: the first measure is against min(window, 10 segments).
    const init = 10 * advMss(t);
    t.rcvSpace = t.rcvbuf < init ? t.rcvbuf : init;
    t.rcvSpaceSeq = copied;
    t.rcvSpaceTime = now;
    return;
  }
  if (t.rcvRtt === 0 || now - t.rcvSpaceTime < t.rcvRtt) return;
  const got = copied - t.rcvSpaceSeq;
  if (got > t.rcvSpace) {
    if (ctx.sysctl.tcp_moderate_rcvbuf !== 0) {
      const mss = advMss(t);
      // Twice what one RTT took (room for a loss's recovery) and a cushion; more during slow start.
      let win = 2 * got + 16 * mss;
      win += 2 * Math.floor((win * (got - t.rcvSpace)) / t.rcvSpace);
      let cap = ctx.sysctl.tcp_rmem[2];
      const share = (ctx.tsys.sock_frames_max >>> 1) * mss;
      if (share < cap) cap = share;
      if (win > cap) win = cap;
      if (win > t.rcvbuf) t.rcvbuf = win;
    }
    t.rcvSpace = got;
  }
  t.rcvSpaceSeq = copied;
  t.rcvSpaceTime = now;
}
