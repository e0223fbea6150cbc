import { TCP_RTO_MAX, TCP_RTO_MIN, type Tcb } from './tcb.ts';

/**
 * tcp_rtt_estimator + __tcp_set_rto (RFC 6298), in ms: SRTT and RTTVAR with gains 1/8 and 1/4,
 * RTO = SRTT + max(4 RTTVAR, TCP_RTO_MIN) as Linux computes it (its rttvar never goes below
 * rto_min/4), capped at TCP_RTO_MAX. Karn's rule is the callers': no sample from a segment
 * that was retransmitted, unless a timestamp says which transmission the ACK is for.
 */
export function rttSample(tcb: Tcb, m: number): void {
  if (!(m > 0)) m = 1;
  if (tcb.minRtt === 0 || m < tcb.minRtt) tcb.minRtt = m;
  if (tcb.srtt === 0) {
    tcb.srtt = m;
    tcb.rttvar = m / 2;
  } else {
    const err = m - tcb.srtt;
    tcb.rttvar += ((err < 0 ? -err : err) - tcb.rttvar) / 4;
    tcb.srtt += err / 8;
  }
  tcb.rto = rtoOf(tcb);
}

/**
 * tcp_ack_update_rtt + pkts_acked: an ACK's RTT measurement (ms, -1 = none) goes to the estimator
 * and the congestion control's hook; one over an hour is not believed.
 */
export function ackRtt(tcb: Tcb, rtt: number): void {
  if (!(rtt >= 0 && rtt < 3_600_000)) return;
  rttSample(tcb, rtt);
  if (tcb.cong.onRtt !== undefined) tcb.cong.onRtt(tcb, rtt > 0 ? rtt : 1);
}

/** The RTO from the current estimate, without backoff. */
export function rtoOf(tcb: Tcb): number {
  const v = 4 * tcb.rttvar;
  const rto = tcb.srtt + (v > TCP_RTO_MIN ? v : TCP_RTO_MIN);
  return rto > TCP_RTO_MAX ? TCP_RTO_MAX : rto;
}
