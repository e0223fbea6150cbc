import { Counters, counterIds } from '../../core/counters.ts';

/** RFC 4022's tcp group as /proc/net/snmp's `Tcp:` line (netstat -s), Linux's order. */
export const TCP_MIB_NAMES = [
  'RtoAlgorithm',
  'RtoMin',
  'RtoMax',
  'MaxConn',
  'ActiveOpens',
  'PassiveOpens',
  'AttemptFails',
  'EstabResets',
  'CurrEstab',
  'InSegs',
  'OutSegs',
  'RetransSegs',
  'InErrs',
  'OutRsts',
  'InCsumErrors',
] as const;
export const TCP = counterIds(TCP_MIB_NAMES);

/** The `TcpExt:` counters softnet counts (a subset of /proc/net/netstat's, same names). */
export const TCPEXT_NAMES = [
  'SyncookiesSent',
  'SyncookiesRecv',
  'SyncookiesFailed',
  'EmbryonicRsts',
  'TW',
  'TWRecycled',
  'PAWSEstab',
  'DelayedACKs',
  'ListenOverflows',
  'ListenDrops',
  'TCPPureAcks',
  'TCPHPAcks',
  'TCPRenoRecovery',
  'TCPSackRecovery',
  'TCPFastRetrans',
  'TCPSlowStartRetrans',
  'TCPTimeouts',
  'TCPLossFailures',
  'TCPAbortOnData',
  'TCPAbortOnClose',
  'TCPAbortOnTimeout',
  'TCPAbortOnMemory',
  'TCPDSACKRecv',
  'TCPSACKReorder',
  'TCPSACKDiscard',
  'TCPRcvCoalesce',
  'TCPOFOQueue',
  'TCPOFODrop',
  'TCPOFOMerge',
  'TCPChallengeACK',
  'TCPSYNChallenge',
  'TCPWantZeroWindowAdv',
  'TCPToZeroWindowAdv',
  'TCPFromZeroWindowAdv',
  'TCPOrigDataSent',
  'TCPWinProbe',
  'TCPKeepAlive',
  'TCPRcvQDrop',
  'TCPTimeWaitOverflow',
  'TCPZeroWindowDrop',
  'TCPRetransFail',
  'TCPAckCompressed',
  'OutOfWindowIcmps',
] as const;
export const TCPEXT = counterIds(TCPEXT_NAMES);

export class TcpMib {
  readonly tcp = new Counters('Tcp', TCP_MIB_NAMES);
  readonly ext = new Counters('TcpExt', TCPEXT_NAMES);

  constructor() {
    const v = this.tcp.v;
    v[TCP.RtoAlgorithm] = 1; // RFC 6298
    v[TCP.RtoMin] = 200;
    v[TCP.RtoMax] = 120000;
    v[TCP.MaxConn] = -1;
  }

  toJSON(): Record<string, Record<string, number>> {
    return { Tcp: this.tcp.toJSON(), TcpExt: this.ext.toJSON() };
  }
}
