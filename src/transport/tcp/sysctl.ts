/**
 * net.ipv4.tcp_* sysctls (Documentation/networking/ip-sysctl.rst), with Linux's defaults unless
 * noted. Times in the kernel's units (seconds for the keepalive/FIN/TIME_WAIT ones). Control plane.
 */
export interface TcpSysctl {
  /** min, default, max receive buffer (bytes); the default is a new connection's SO_RCVBUF. */
  tcp_rmem: [number, number, number];
  /** 1: the receive buffer grows from tcp_rmem[1] toward tcp_rmem[2] with what the application takes per RTT. */
  tcp_moderate_rcvbuf: number;
  /** min, default, max send buffer; the send buffer grows with cwnd up to max (tcp_sndbuf_expand). */
  tcp_wmem: [number, number, number];
  tcp_timestamps: number;
  tcp_sack: number;
  tcp_window_scaling: number;
  tcp_syn_retries: number;
  tcp_synack_retries: number;
  /** Retransmissions of data before the connection times out (ETIMEDOUT). */
  tcp_retries2: number;
  /** FIN-WAIT-2 lifetime of an orphaned connection, s. */
  tcp_fin_timeout: number;
  tcp_keepalive_time: number;
  tcp_keepalive_intvl: number;
  tcp_keepalive_probes: number;
  /** SYN queue length per listener (half-open connections). */
  tcp_max_syn_backlog: number;
  /** 1: SYN cookies when a listener's SYN queue overflows. */
  tcp_syncookies: number;
  /** cubic (default) or reno. */
  tcp_congestion_control: string;
  /** Connections in TIME-WAIT at most; beyond, a closing connection skips it (TCPTimeWaitOverflow). */
  tcp_max_tw_buckets: number;
  /** Challenge ACKs per second (RFC 5961 4.2 rate limit; Linux 1000 per netns in older kernels). */
  tcp_challenge_ack_limit: number;
  /** Dup ACKs / SACKed segments that mean a loss (tcp_reordering). */
  tcp_reordering: number;
  /** softnet: connections (any state) the table holds; beyond, SYNs and connects are refused. */
  tcp_max_conns: number;
  /** TIME-WAIT length, s (TCP_TIMEWAIT_LEN, a constant in Linux). */
  tcp_tw_len: number;
}

export const DEFAULT_TCP_SYSCTL: TcpSysctl = {
  tcp_rmem: [4096, 131072, 6291456],
  tcp_moderate_rcvbuf: 1,
  tcp_wmem: [4096, 16384, 4194304],
  tcp_timestamps: 1,
  tcp_sack: 1,
  tcp_window_scaling: 1,
  tcp_syn_retries: 6,
  tcp_synack_retries: 5,
  tcp_retries2: 15,
  tcp_fin_timeout: 60,
  tcp_keepalive_time: 7200,
  tcp_keepalive_intvl: 75,
  tcp_keepalive_probes: 9,
  tcp_max_syn_backlog: 512,
  tcp_syncookies: 1,
  tcp_congestion_control: 'cubic',
  tcp_max_tw_buckets: 8192,
  tcp_challenge_ack_limit: 1000,
  tcp_reordering: 3,
  tcp_max_conns: 16384,
  tcp_tw_len: 60,
};

const TRIPLES = new Set(['tcp_rmem', 'tcp_wmem']);

/** The key a name means (`tcp_rmem`, `net.ipv4.tcp_rmem`, `net/ipv4/tcp_rmem`), or null. */
export function tcpSysctlKey(name: string): keyof TcpSysctl | null {
  const n = name.replace(/\//g, '.').replace(/^net\.ipv4\./, '');
  return n in DEFAULT_TCP_SYSCTL ? (n as keyof TcpSysctl) : null;
}

/** Read, or set then read, a TCP sysctl; triples read back tab-separated as /proc prints them. */
export function tcpSysctl(s: TcpSysctl, key: keyof TcpSysctl, value?: number | string): number | string {
  if (value !== undefined) {
    if (TRIPLES.has(key)) {
      const w = String(value).trim().split(/\s+/).map(Number);
      if (w.length !== 3 || w.some((x) => !Number.isInteger(x) || x < 1) || w[0] > w[1] || w[1] > w[2]) {
        throw new Error(`sysctl: net.ipv4.${key} wants "MIN DEFAULT MAX" (positive integers, ascending), got "${value}"`);
      }
      (s[key] as number[]) = w;
    } else if (key === 'tcp_congestion_control') {
      const v = String(value).trim();
      if (v !== 'cubic' && v !== 'reno') throw new Error(`sysctl: net.ipv4.tcp_congestion_control: available are cubic reno, got "${value}"`);
      s.tcp_congestion_control = v;
    } else {
      const v = typeof value === 'number' ? value : Number(value);
      if (!Number.isInteger(v) || v < 0) throw new Error(`sysctl: net.ipv4.${key} wants a non-negative integer, got "${value}"`);
      (s as unknown as Record<string, number>)[key] = v;
    }
  }
  const v = s[key];
  return Array.isArray(v) ? v.join('\t') : v;
}
