import { congAvoidAi, cwndLimited, slowStart, type CongOps } from './cong.ts';
import type { Tcb } from './tcb.ts';

/** RFC 9438 constants (tcp_cubic.c: beta 717/1024, C 0.4 via bic_scale 41). */
const BETA = 0.7;
const C = 0.4;
/** W_est's additive increase per RTT: 3(1-β)/(1+β) (RFC 9438 4.3). */
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);

/** Per-connection CUBIC state (struct bictcp), in segments and ms. */
class CubicState {
  /** W_max: cwnd before the last reduction. */
  lastMaxCwnd = 0;
  /** Start of the current epoch (ms), 0 = none. */
  epochStart = 0;
  originPoint = 0;
  /** K in seconds. */
  k = 0;
  /** W_est, the Reno-friendly window (RFC 9438 4.3). */
  west = 0;
  /** Segments acknowledged per cwnd increment. */
  cnt = 0;
  delayMin = 0;
}

function bictcpUpdate(tcb: Tcb, c: CubicState, acked: number, now: number): void {
  const cwnd = tcb.cwnd;
  if (c.epochStart === 0) {
    c.epochStart = now;
    c.west = cwnd;
    if (c.lastMaxCwnd <= cwnd) {
      c.k = 0;
      c.originPoint = cwnd;
    } else {
      c.k = Math.cbrt((c.lastMaxCwnd - cwnd) / C);
      c.originPoint = c.lastMaxCwnd;
    }
  }
  // t: time since the epoch began plus one minimum RTT (the window the ACKs will reach).
  const t = (now - c.epochStart + c.delayMin) / 1000;
  const d = t - c.k;
  const target = c.originPoint + C * d * d * d;
  c.cnt = target > cwnd ? cwnd / (target - cwnd) : 100 * cwnd;
  // Slow growth at the very start (no W_max yet): at most 5% per RTT (tcp_cubic's cnt > 20).
  if (c.lastMaxCwnd === 0 && c.cnt > 20) c.cnt = 20;
  // Reno-friendly region: W_est grows by ALPHA segments per cwnd acknowledged.
  c.west += (ALPHA * acked) / cwnd;
  if (c.west > cwnd) {
    const w = cwnd / (c.west - cwnd);
    if (w < c.cnt) c.cnt = w;
  }
  if (c.cnt < 2) c.cnt = 2;
}

/** CUBIC (RFC 9438), Linux's default, without HyStart. */
export const cubic: CongOps = {
  name: 'cubic',
  init(tcb: Tcb): void {
    tcb.ca = new CubicState();
  },
  ssthresh(tcb: Tcb): number {
    const c = tcb.ca as CubicState;
    c.epochStart = 0;
    // Fast convergence (RFC 9438 4.7): release bandwidth to newer flows.
    c.lastMaxCwnd = tcb.cwnd < c.lastMaxCwnd ? (tcb.cwnd * (1 + BETA)) / 2 : tcb.cwnd;
    const s = Math.floor(tcb.cwnd * BETA);
    return s > 2 ? s : 2;
  },
  congAvoid(tcb: Tcb, acked: number, now: number): void {
    if (!cwndLimited(tcb)) return;
    if (tcb.cwnd < tcb.ssthresh) {
      acked = slowStart(tcb, acked);
      if (acked === 0) return;
    }
    const c = tcb.ca as CubicState;
    bictcpUpdate(tcb, c, acked, now);
    congAvoidAi(tcb, Math.ceil(c.cnt), acked);
  },
  onLoss(tcb: Tcb): void {
    const c = tcb.ca as CubicState;
    c.epochStart = 0;
    c.lastMaxCwnd = 0;
  },
  onRtt(tcb: Tcb, rtt: number): void {
    const c = tcb.ca as CubicState;
    if (c.delayMin === 0 || rtt < c.delayMin) c.delayMin = rtt;
  },
};

