/**
 * net.netfilter.nf_conntrack_* sysctls (nf_conntrack_standalone.c and the protocols' tables):
 * the table bound, the per-state timeouts in seconds (Linux's defaults), TCP's loose pickup and
 * liberal window. Control plane only; the hot path reads the Int32Array the Conntrack keeps.
 */

import { totalmem } from 'node:os';

export interface ConntrackSysctl {
  /** Entries the table may hold (Linux: equal to the buckets by default). */
  nf_conntrack_max: number;
  nf_conntrack_tcp_timeout_syn_sent: number;
  nf_conntrack_tcp_timeout_syn_recv: number;
  nf_conntrack_tcp_timeout_established: number;
  nf_conntrack_tcp_timeout_fin_wait: number;
  nf_conntrack_tcp_timeout_close_wait: number;
  nf_conntrack_tcp_timeout_last_ack: number;
  nf_conntrack_tcp_timeout_time_wait: number;
  nf_conntrack_tcp_timeout_close: number;
  nf_conntrack_tcp_timeout_max_retrans: number;
  nf_conntrack_tcp_timeout_unacknowledged: number;
  /** Pick up connections from a mid-stream ACK (1, Linux's default) or only from a SYN (0). */
  nf_conntrack_tcp_loose: number;
  /** Out-of-window segments are not INVALID (only RSTs are checked). */
  nf_conntrack_tcp_be_liberal: number;
  nf_conntrack_tcp_max_retrans: number;
  nf_conntrack_udp_timeout: number;
  nf_conntrack_udp_timeout_stream: number;
  nf_conntrack_icmp_timeout: number;
  nf_conntrack_generic_timeout: number;
  /**
   * softnet: 1 = track every packet from now on; 0 (default) = track only while a rule needs it
   * (a conntrack/state match, a CT target), as the kernel registers its conntrack hooks per netns
   * only while a user holds them (nf_ct_netns_get).
   */
  nf_conntrack_enable: number;
}

/**
 * nf_conntrack_init_start's sizing from memory: 1/16384 of RAM in 8-byte bucket heads, 65536
 * above 1 GiB and 262144 above 4 GiB, at least 1024; nf_conntrack_max = buckets (max_factor 1).
 * Rounded down to a power of two here (the bucket index is a mask, not reciprocal_scale).
 */
export function defaultBuckets(memBytes = totalmem()): number {
  let n = Math.floor(memBytes / 16384 / 8);
  if (memBytes > 4 * 2 ** 30) n = 262144;
  else if (memBytes > 2 ** 30) n = 65536;
  if (n < 1024) n = 1024;
  return 2 ** Math.floor(Math.log2(n));
}

export function defaultConntrackSysctl(buckets = defaultBuckets()): ConntrackSysctl {
  return {
    nf_conntrack_max: buckets,
    nf_conntrack_tcp_timeout_syn_sent: 120,
    nf_conntrack_tcp_timeout_syn_recv: 60,
    nf_conntrack_tcp_timeout_established: 432000,
    nf_conntrack_tcp_timeout_fin_wait: 120,
    nf_conntrack_tcp_timeout_close_wait: 60,
    nf_conntrack_tcp_timeout_last_ack: 30,
    nf_conntrack_tcp_timeout_time_wait: 120,
    nf_conntrack_tcp_timeout_close: 10,
    nf_conntrack_tcp_timeout_max_retrans: 300,
    nf_conntrack_tcp_timeout_unacknowledged: 300,
    nf_conntrack_tcp_loose: 1,
    nf_conntrack_tcp_be_liberal: 0,
    nf_conntrack_tcp_max_retrans: 3,
    nf_conntrack_udp_timeout: 30,
    nf_conntrack_udp_timeout_stream: 120,
    nf_conntrack_icmp_timeout: 30,
    nf_conntrack_generic_timeout: 600,
    nf_conntrack_enable: 0,
  };
}

/** Read-only keys (`sysctl net.netfilter.nf_conntrack_count`, `..._buckets`). */
export const CONNTRACK_RO = ['nf_conntrack_count', 'nf_conntrack_buckets'] as const;

/** The key a name means (`nf_conntrack_max`, `net.netfilter.nf_conntrack_max`, `net/netfilter/...`), or null. */
export function conntrackSysctlKey(name: string): string | null {
  const k = name.replace(/\//g, '.').replace(/^net\.netfilter\./, '');
  if (k in defaultConntrackSysctl(1024) || (CONNTRACK_RO as readonly string[]).includes(k)) return k;
  return null;
}
