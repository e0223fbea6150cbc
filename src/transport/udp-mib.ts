import { counterIds } from '../core/counters.ts';

/**
 * The Udp MIB under the names of /proc/net/snmp (`netstat -s`, `nstat` as Udp*), in the kernel's
 * order. InDatagrams counts datagrams the application read (udp_recvmsg), not queued ones.
 * IgnoredMulti: broadcasts nobody listens for; MemErrors: refused because sockets hold their share
 * of the pool (net.core.sock_frames_max), as the kernel counts udp_mem refusals.
 */
export const UDP_NAMES = ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors', 'InCsumErrors', 'IgnoredMulti', 'MemErrors'] as const;

export const UDP = counterIds(UDP_NAMES);
