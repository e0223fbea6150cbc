/**
 * What every transport protocol (UDP, TCP) shows the rest of the stack: its sockets as `ss` rows,
 * its MIB groups as `netstat -s` prints them, the frames it holds, and how it shuts down.
 */

/** One socket as `ss` shows it (inet_diag_msg + what -i / -m add). JSON-safe: it crosses the control socket. */
export interface SockInfo {
  /** `udp`, `tcp`. */
  netid: string;
  /** ss state names: UNCONN, ESTAB, LISTEN, SYN-SENT, TIME-WAIT... */
  state: string;
  /** Bytes queued for the application (UDP: what the queue charges, sk_rmem_alloc). */
  recvQ: number;
  /** Bytes not yet sent/acknowledged. */
  sendQ: number;
  localAddress: string;
  localPort: number;
  /** 0.0.0.0 and 0 when not connected (ss prints `0.0.0.0:*`). */
  peerAddress: string;
  peerPort: number;
  /** Packets the socket dropped (SO_RXQ_OVFL, ss -m's `d`). */
  drops: number;
  /** ss -i: protocol details (tcp_info fields: rtt, cwnd...). */
  info?: Record<string, number | string>;
}

/** A transport protocol registered with Transport (transport/index.ts). */
export interface TransportProto {
  /** `udp`, `tcp`: the netid of its sockets. */
  readonly name: string;
  sockets(): SockInfo[];
  /** MIB groups under their netstat -s names (`Udp`, `Tcp`, `TcpExt`). */
  mib(): Record<string, Record<string, number>>;
  /** Frames held in socket queues (and lent to the application), for the frame account. */
  held(): number;
  /** Periodic work (timers), called by the stack's aging tick with a millisecond clock. */
  tick?(now: number): void;
  /** Close every socket and return every frame (shutdown). */
  close(): void;
}
