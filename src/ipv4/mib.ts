import { counterIds, Counters } from '../core/counters.ts';

/**
 * The IPv4 and ICMP SNMP MIBs under the names `netstat -s` / /proc/net/snmp and /proc/net/netstat
 * (IpExt) show. Counter ids are resolved once here so stages do `mib.ip.v[IP.InReceives]++`.
 * Drops are also counted as graph drop reasons (`ip.InHdrErrors`...); the MIB is the netstat view.
 */
export const IP_NAMES = [
  // /proc/net/snmp Ip:
  'InReceives', 'InHdrErrors', 'InAddrErrors', 'ForwDatagrams', 'InUnknownProtos', 'InDiscards',
  'InDelivers', 'OutRequests', 'OutDiscards', 'OutNoRoutes', 'ReasmTimeout', 'ReasmReqds',
  'ReasmOKs', 'ReasmFails', 'FragOKs', 'FragFails', 'FragCreates', 'OutTransmits',
  // /proc/net/netstat IpExt:
  'InNoRoutes', 'InTruncatedPkts', 'InMcastPkts', 'OutMcastPkts', 'InBcastPkts', 'OutBcastPkts',
  'InOctets', 'OutOctets', 'InCsumErrors', 'ReasmOverlaps',
] as const;

export const ICMP_NAMES = [
  'InMsgs', 'InErrors', 'InCsumErrors', 'InDestUnreachs', 'InTimeExcds', 'InParmProbs',
  'InSrcQuenchs', 'InRedirects', 'InEchos', 'InEchoReps', 'InTimestamps', 'InTimestampReps',
  'OutMsgs', 'OutErrors', 'OutRateLimitGlobal', 'OutRateLimitHost', 'OutDestUnreachs',
  'OutTimeExcds', 'OutParmProbs', 'OutEchos', 'OutEchoReps', 'OutTimestamps', 'OutTimestampReps',
] as const;

/** /proc/net/stat/rt_cache columns softnet keeps (martians are dropped, not MIB-counted, by Linux). */
export const RT_NAMES = ['in_martian_src', 'in_martian_dst', 'in_no_route', 'in_brd'] as const;

/** Counter ids (indexes into Counters.v) of the Ip, Icmp and rt_cache groups. */
export const IP = counterIds(IP_NAMES);
export const ICMP = counterIds(ICMP_NAMES);
export const RT = counterIds(RT_NAMES);

export class Ipv4Mib {
  readonly ip = new Counters('Ip', IP_NAMES);
  readonly icmp = new Counters('Icmp', ICMP_NAMES);
  readonly rt = new Counters('rt_cache', RT_NAMES);

  /** netstat -s style snapshot. */
  toJSON(): { Ip: Record<string, number>; Icmp: Record<string, number>; rt_cache: Record<string, number> } {
    return { Ip: this.ip.toJSON(), Icmp: this.icmp.toJSON(), rt_cache: this.rt.toJSON() };
  }
}
