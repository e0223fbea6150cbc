import { formatIPv4 } from '../../wire/addr.ts';
import type { SockInfo } from '../types.ts';
import type { TcpCtx } from './ctx.ts';
import { rcvHeld } from './output.ts';
import { seqDiff } from './seq.ts';
import type { Listener } from './table.ts';
import { STATE_NAMES, type Tcb } from './tcb.ts';

/** Congestion-avoidance state names (ss -i's ca_state, enum tcp_ca_state). */
const CA_NAMES = ['open', 'disorder', 'cwr', 'recovery', 'loss'];

/** struct tcp_info's fields that softnet keeps (times in ms, windows in bytes, cwnd in segments). */
export interface TcpInfo {
  state: string;
  caState: string;
  congestion: string;
  rtt: number;
  rttvar: number;
  minRtt: number;
  rto: number;
  cwnd: number;
  /** null while still "infinite" (no loss yet). */
  ssthresh: number | null;
  mss: number;
  rcvMss: number;
  sndWscale: number;
  rcvWscale: number;
  sndWnd: number;
  rcvWnd: number;
  /** Receiver RTT estimate (tcpi_rcv_rtt, ms), bytes taken per RTT (tcpi_rcv_space), the buffer (autotuned). */
  rcvRtt: number;
  rcvSpace: number;
  rcvbuf: number;
  /** Retransmissions of the head now (tcpi_retransmits) and in all (tcpi_total_retrans). */
  retransmits: number;
  totalRetrans: number;
  /** Bytes sent and not acknowledged (tcpi_unacked, in bytes here), and SACKed of them. */
  unacked: number;
  sacked: number;
  bytesAcked: number;
  bytesReceived: number;
  segsIn: number;
  segsOut: number;
  /** Bytes queued to send (sent or not) and received but not read. */
  sendQ: number;
  recvQ: number;
}

export function tcpInfo(t: Tcb): TcpInfo {
  return {
    state: STATE_NAMES[t.state],
    caState: CA_NAMES[t.caState] ?? String(t.caState),
    congestion: t.cong.name,
    rtt: round(t.srtt),
    rttvar: round(t.rttvar),
    minRtt: round(t.minRtt),
    rto: round(t.rto),
    cwnd: t.cwnd,
    ssthresh: t.ssthresh >= 0x7fffffff ? null : t.ssthresh,
    mss: t.mss,
    rcvMss: t.rcv_mss,
    sndWscale: t.snd_wscale,
    rcvWscale: t.rcv_wscale,
    sndWnd: t.snd_wnd,
    rcvWnd: t.rcv_wnd,
    rcvRtt: round(t.rcvRtt),
    rcvSpace: t.rcvSpace,
    rcvbuf: t.rcvbuf,
    retransmits: t.retransmits,
    totalRetrans: t.totalRetrans,
    unacked: seqDiff(t.snd_nxt, t.snd_una),
    sacked: t.sack.bytes,
    bytesAcked: t.bytesAcked,
    bytesReceived: t.bytesReceived,
    segsIn: t.segsIn,
    segsOut: t.segsOut,
    sendQ: t.sq.bytes,
    recvQ: rcvHeld(t),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** ss rows: listeners (Recv-Q = accept queue, Send-Q = backlog, as ss shows) then connections. */
export function tcpSockets(ctx: TcpCtx): SockInfo[] {
  const rows: SockInfo[] = [];
  for (const l of ctx.table.listeners) if (l !== null) rows.push(listenRow(l));
  for (const t of ctx.table.all()) rows.push(connRow(t));
  return rows;
}

function listenRow(l: Listener): SockInfo {
  return { netid: 'tcp', state: 'LISTEN', recvQ: l.acceptQueue, sendQ: l.backlog, localAddress: formatIPv4(l.addr), localPort: l.port, peerAddress: '0.0.0.0', peerPort: 0, drops: 0 };
}

function connRow(t: Tcb): SockInfo {
  const i = tcpInfo(t);
  const info: Record<string, number | string> = {
    cong: i.congestion,
    wscale: `${i.sndWscale},${i.rcvWscale}`,
    rto: i.rto,
    rtt: `${i.rtt}/${i.rttvar}`,
    mss: i.mss,
    rcvmss: i.rcvMss,
    cwnd: i.cwnd,
  };
  if (i.ssthresh !== null) info.ssthresh = i.ssthresh;
  info.bytes_acked = i.bytesAcked;
  info.bytes_received = i.bytesReceived;
  info.segs_out = i.segsOut;
  info.segs_in = i.segsIn;
  info.ca_state = i.caState;
  if (i.unacked > 0) info.unacked = i.unacked;
  info.retrans = `${i.retransmits}/${i.totalRetrans}`;
  if (i.rcvRtt > 0) info.rcv_rtt = i.rcvRtt;
  if (i.rcvSpace > 0) info.rcv_space = i.rcvSpace;
  if (i.minRtt > 0) info.minrtt = i.minRtt;
  return {
    netid: 'tcp',
    state: i.state,
    recvQ: i.recvQ,
    sendQ: i.sendQ,
    localAddress: formatIPv4(t.laddr),
    localPort: t.lport,
    peerAddress: formatIPv4(t.raddr),
    peerPort: t.rport,
    drops: 0,
    info,
  };
}
