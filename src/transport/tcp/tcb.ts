import type { CongOps } from './cong.ts';
import { OfoQueue } from './ofo.ts';
import { RcvFrames } from './rcv-frames.ts';
import { RcvBuf } from './rcv-buf.ts';
import { SackBoard } from './sack.ts';
import { SendQueue } from './send-queue.ts';

// Connection states, numbered as include/net/tcp_states.h (ss and tcp_info use these numbers).
export const TCP_ESTABLISHED = 1;
export const TCP_SYN_SENT = 2;
export const TCP_SYN_RECV = 3;
export const TCP_FIN_WAIT1 = 4;
export const TCP_FIN_WAIT2 = 5;
export const TCP_TIME_WAIT = 6;
export const TCP_CLOSE = 7;
export const TCP_CLOSE_WAIT = 8;
export const TCP_LAST_ACK = 9;
export const TCP_LISTEN = 10;
export const TCP_CLOSING = 11;

/** ss's names for the states. */
export const STATE_NAMES = ['UNKNOWN', 'ESTAB', 'SYN-SENT', 'SYN-RECV', 'FIN-WAIT-1', 'FIN-WAIT-2', 'TIME-WAIT', 'UNCONN', 'CLOSE-WAIT', 'LAST-ACK', 'LISTEN', 'CLOSING'];

// Congestion-avoidance states (enum tcp_ca_state).
export const CA_OPEN = 0;
export const CA_DISORDER = 1;
export const CA_RECOVERY = 3;
export const CA_LOSS = 4;

// What the retransmit timer is armed for (icsk_pending).
export const RTX_NONE = 0;
export const RTX_RTO = 1;
export const RTX_PROBE = 2;

// Events for the application side, delivered on a microtask (Tcb.wake).
export const WAKE_DATA = 1;
export const WAKE_EOF = 2;
export const WAKE_CONNECT = 4;
export const WAKE_ERROR = 8;
export const WAKE_WRITABLE = 16;
export const WAKE_ACCEPT = 32;
export const WAKE_CLOSED = 64;

export const TCP_INIT_CWND = 10;
export const TCP_TIMEOUT_INIT = 1000;
export const TCP_RTO_MIN = 200;
export const TCP_RTO_MAX = 120_000;
/** Delayed ACK timeout (TCP_DELACK_MIN; the kernel adapts between 40 and 200 ms). */
export const TCP_DELACK_MS = 40;
/** Segments acknowledged at once after the handshake (quickack mode, TCP_MAX_QUICKACKS). */
export const TCP_MAX_QUICKACKS = 16;

/** The application end of a connection (the socket): told about events, after the dispatch. */
export interface TcbUser {
  onWake(tcb: Tcb, events: number): void;
  /** Bytes the application side holds unread (they count against the receive window). */
  appQueued(): number;
}

/**
 * One connection (struct tcp_sock with the parts of inet_connection_sock it needs). An object per
 * connection, never per segment; sequence numbers are u32 values compared with seq.ts. Names
 * follow the kernel's (snd_una, rcv_nxt, ...) so tcp_input.c reads alongside.
 */
export class Tcb {
  /** Slot in the connection table, -1 when not hashed. */
  id = -1;
  state = TCP_CLOSE;
  laddr = 0;
  lport = 0;
  raddr = 0;
  rport = 0;
  /** Egress device and its MTU (from the route at connect/accept). */
  oif = -1;
  mtu = 1500;

  // Send sequence space.
  iss = 0;
  snd_una = 0;
  snd_nxt = 0;
  /** Peer's window, bytes (already scaled). */
  snd_wnd = 0;
  snd_wl1 = 0;
  snd_wl2 = 0;
  max_window = 0;
  snd_wscale = 0;
  /** Payload bytes per segment (peer MSS, route MTU, minus our options). */
  mss = 536;
  /** The MSS the peer announced (its receive limit). */
  peerMss = 536;

  // Receive sequence space.
  irs = 0;
  rcv_nxt = 0;
  /** Window advertised last (bytes) and rcv_nxt when it was: the right edge is rcv_wup + rcv_wnd. */
  rcv_wnd = 0;
  rcv_wup = 0;
  rcv_wscale = 0;
  /** Largest segment seen from the peer (delayed-ACK pacing). */
  rcv_mss = 536;
  rcvbuf = 131072;
  /** Autotuning (rcv-space.ts): receiver RTT (ms, the least time a window took to arrive) and its probe. */
  rcvRtt = 0;
  rcvRttSeq = 0;
  rcvRttTime = 0;
  /** rcvq_space: bytes the application took in the last measured RTT, the count then and when. */
  rcvSpace = 0;
  rcvSpaceSeq = 0;
  rcvSpaceTime = 0;
  /** Bytes held unread when the last window was advertised (a read since frees the window). */
  heldAtAdv = 0;
  sndbuf = 16384;

  // Options agreed on the handshake.
  tsOk = false;
  sackOk = false;
  wscaleOk = false;
  ts_recent = 0;
  ts_recent_stamp = 0;
  /** Added to our clock for TSval (randomised per connection, as the kernel's ts_offset). */
  tsOffset = 0;

  // RTT and RTO (RFC 6298), ms.
  srtt = 0;
  rttvar = 0;
  minRtt = 0;
  rto = TCP_TIMEOUT_INIT;
  /** Consecutive timeouts (icsk_backoff) and retransmissions of the head (icsk_retransmits). */
  backoff = 0;
  retransmits = 0;
  /** Karn: one timed segment when there are no timestamps (end seq, send time; 0 = none). */
  rttSeq = 0;
  rttStamp = 0;
  rtxMode = RTX_NONE;
  /** Keepalive / zero-window probes sent without an answer. */
  probes = 0;

  // Congestion control (segments, as the kernel's snd_cwnd).
  cwnd = TCP_INIT_CWND;
  ssthresh = 0x7fffffff;
  cwndCnt = 0;
  caState = CA_OPEN;
  /** Recovery point (high_seq): recovery ends when it is acknowledged. */
  highSeq = 0;
  /** Data before lostEnd that is not SACKed counts as lost (fast retransmit, RTO: everything). */
  lostEnd = 0;
  /** Retransmitted up to here in this recovery episode. */
  retxHigh = 0;
  dupacks = 0;
  /** Segments of reordering tolerated before a hole counts as lost (tp->reordering, adaptive). */
  reordering = 3;
  /** Reno (no SACK): dup ACKs as segments that left the network (tcp_add_reno_sack). */
  renoSacked = 0;
  /** The most segments in flight since the last cwnd check (tcp_is_cwnd_limited). */
  maxInflight = 0;
  cong: CongOps;
  /** Per-connection congestion state of `cong` (e.g. CUBIC's epoch). */
  ca: unknown = null;

  readonly sq = new SendQueue();
  readonly sack = new SackBoard();
  readonly rx = new RcvBuf();
  /** Zero-copy receive (the application reads with recvBatch): in-order bytes stay in their frames. */
  zc = false;
  frames: RcvFrames | null = null;
  ofo: OfoQueue | null = null;
  /** The application shut down writing: a FIN follows the queued data. */
  finQueued = false;
  finSent = false;
  /** The peer's FIN was received in order (EOF after the queued data). */
  finRcvd = false;

  // ACK scheduling.
  /** Bytes received since the last ACK we sent. */
  rcvSinceAck = 0;
  /** An ACK must go out at the end of this batch. */
  ackNow = false;
  quick = 0;
  /** Interactive exchange: we reply within the delayed-ACK time, so quickack mode is off (pingpong). */
  pingpong = false;
  /** On the stage's flush list for this batch. */
  onFlush = false;

  // Timers (ids in the stack's timer wheel): retransmit/probe, delayed ACK, keepalive/TIME-WAIT/FIN-WAIT-2.
  tRtx = -1;
  tDack = -1;
  tKeep = -1;

  keepalive = false;
  keepIdleMs = 0;
  noDelay = false;
  /** The application has let go (close/destroy): the connection finishes on its own. */
  orphan = false;

  user: TcbUser | null = null;
  /** Listener a passive connection came from (SYN-RECEIVED: its SYN queue; then its accept queue). */
  parent: object | null = null;
  /** Pending application events (WAKE_*), and the errno name for WAKE_ERROR. */
  wakeFlags = 0;
  error = '';
  /** sk_err_soft: the last ICMP error while established (err.ts); a timeout reports it instead of ETIMEDOUT. */
  softErr = '';

  // tcp_info counters.
  totalRetrans = 0;
  segsIn = 0;
  segsOut = 0;
  bytesAcked = 0;
  bytesReceived = 0;
  lastDataRecv = 0;
  lastDataSent = 0;
  lastAckRecv = 0;
  startedAt = 0;

  constructor(cong: CongOps) {
    this.cong = cong;
  }

  rcvFrames(): RcvFrames {
    if (this.frames === null) this.frames = new RcvFrames();
    return this.frames;
  }

  ofoQueue(): OfoQueue {
    if (this.ofo === null) this.ofo = new OfoQueue();
    return this.ofo;
  }
}
