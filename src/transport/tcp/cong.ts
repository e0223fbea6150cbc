import type { Tcb } from './tcb.ts';

/**
 * A congestion control algorithm (struct tcp_congestion_ops). cwnd and ssthresh are in segments,
 * as the kernel keeps them. Called from the ACK path: no allocation (per-connection state lives
 * in tcb.ca, made by init()).
 */
export interface CongOps {
  readonly name: string;
  init(tcb: Tcb): void;
  /** ssthresh after a loss (entering recovery or an RTO). */
  ssthresh(tcb: Tcb): number;
  /** cwnd growth for `acked` newly acknowledged segments, in the Open state. now in ms. */
  congAvoid(tcb: Tcb, acked: number, now: number): void;
  /** An RTO: forget the epoch (bictcp_state(TCP_CA_Loss)). */
  onLoss(tcb: Tcb): void;
  /** A new RTT sample, ms (CUBIC's delay_min). */
  onRtt?(tcb: Tcb, rtt: number): void;
}

/** tcp_slow_start: grow by acked up to ssthresh; returns the acked segments left over. */
export function slowStart(tcb: Tcb, acked: number): number {
  let cwnd = tcb.cwnd + acked;
  if (cwnd > tcb.ssthresh) cwnd = tcb.ssthresh;
  acked -= cwnd - tcb.cwnd;
  tcb.cwnd = cwnd;
  return acked;
}

/** tcp_cong_avoid_ai: one segment per w segments acknowledged. */
export function congAvoidAi(tcb: Tcb, w: number, acked: number): void {
  if (tcb.cwndCnt >= w) {
    tcb.cwndCnt = 0;
    tcb.cwnd++;
  }
  tcb.cwndCnt += acked;
  if (tcb.cwndCnt >= w) {
    const delta = Math.floor(tcb.cwndCnt / w);
    tcb.cwndCnt -= delta * w;
    tcb.cwnd += delta;
  }
}

/** tcp_is_cwnd_limited: grow only when the window, not the application, limits sending. */
export function cwndLimited(tcb: Tcb): boolean {
  if (tcb.cwnd < tcb.ssthresh) return tcb.cwnd < 2 * tcb.maxInflight;
  return tcb.maxInflight >= tcb.cwnd;
}

/** NewReno (RFC 5681, tcp_cong.c's tcp_reno_*). */
export const reno: CongOps = {
  name: 'reno',
  init(): void {},
  ssthresh(tcb: Tcb): number {
    const h = tcb.cwnd >>> 1;
    return h > 2 ? h : 2;
  },
  congAvoid(tcb: Tcb, acked: number): void {
    if (!cwndLimited(tcb)) return;
    if (tcb.cwnd < tcb.ssthresh) {
      acked = slowStart(tcb, acked);
      if (acked === 0) return;
    }
    congAvoidAi(tcb, tcb.cwnd, acked);
  },
  onLoss(): void {},
};
