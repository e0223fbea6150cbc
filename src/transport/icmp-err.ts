import { ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, ICMP_PARAMETERPROB, ICMP_TIME_EXCEEDED } from '../wire/icmp.ts';

/**
 * icmp_err_convert (net/ipv4/icmp.c): destination-unreachable code -> errno name and whether the
 * error is "hard" (fatal: reported to a socket without IP_RECVERR). Index = ICMP code 0..15.
 */
const UNREACH_ERR: readonly string[] = [
  'ENETUNREACH', // NET_UNREACH
  'EHOSTUNREACH', // HOST_UNREACH
  'ENOPROTOOPT', // PROT_UNREACH
  'ECONNREFUSED', // PORT_UNREACH
  'EMSGSIZE', // FRAG_NEEDED
  'EOPNOTSUPP', // SR_FAILED
  'ENETUNREACH', // NET_UNKNOWN
  'EHOSTDOWN', // HOST_UNKNOWN
  'ENONET', // HOST_ISOLATED
  'ENETUNREACH', // NET_ANO
  'EHOSTUNREACH', // HOST_ANO
  'ENETUNREACH', // NET_UNR_TOS
  'EHOSTUNREACH', // HOST_UNR_TOS
  'EHOSTUNREACH', // PKT_FILTERED
  'EHOSTUNREACH', // PREC_VIOLATION
  'EHOSTUNREACH', // PREC_CUTOFF
];
const UNREACH_FATAL = new Uint8Array([0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1]);

/**
 * The errno an ICMP error means to a socket (__udp4_lib_err, tcp_v4_err), '' for none (source
 * quench, other types). UDP reports only hard ones (isHardIcmpErr) without IP_RECVERR.
 */
export function icmpErrName(type: number, code: number): string {
  if (type === ICMP_DEST_UNREACH) return code < UNREACH_ERR.length ? UNREACH_ERR[code] : 'EHOSTUNREACH';
  if (type === ICMP_TIME_EXCEEDED) return 'EHOSTUNREACH';
  if (type === ICMP_PARAMETERPROB) return 'EPROTO';
  return '';
}

/**
 * Is it fatal (harderr)? A fragmentation-needed is, for a socket sending with DF (softnet's
 * datagrams that fit the MTU always do: PMTU discovery's "want", as udp4_lib_err reads it).
 */
export function isHardIcmpErr(type: number, code: number): boolean {
  if (type === ICMP_DEST_UNREACH) return code === ICMP_FRAG_NEEDED || (code < UNREACH_FATAL.length && UNREACH_FATAL[code] !== 0);
  return type === ICMP_PARAMETERPROB;
}
