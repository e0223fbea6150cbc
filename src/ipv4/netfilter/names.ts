/** Name tables iptables users type: ICMP types, TCP flags, reject types, services, protocols. */

import {
  REJECT_ADMIN_PROHIBITED,
  REJECT_HOST_PROHIBITED,
  REJECT_HOST_UNREACH,
  REJECT_NET_PROHIBITED,
  REJECT_NET_UNREACH,
  REJECT_PORT_UNREACH,
  REJECT_PROTO_UNREACH,
  REJECT_TCP_RESET,
} from './packet.ts';

/** `iptables -p icmp --help` names: [type, codeLo, codeHi]; type 255 = any. */
export const ICMP_TYPES: Record<string, [number, number, number]> = {
  any: [255, 0, 255],
  'echo-reply': [0, 0, 255],
  pong: [0, 0, 255],
  'destination-unreachable': [3, 0, 255],
  'network-unreachable': [3, 0, 0],
  'host-unreachable': [3, 1, 1],
  'protocol-unreachable': [3, 2, 2],
  'port-unreachable': [3, 3, 3],
  'fragmentation-needed': [3, 4, 4],
  'source-route-failed': [3, 5, 5],
  'network-unknown': [3, 6, 6],
  'host-unknown': [3, 7, 7],
  'network-prohibited': [3, 9, 9],
  'host-prohibited': [3, 10, 10],
  'TOS-network-unreachable': [3, 11, 11],
  'TOS-host-unreachable': [3, 12, 12],
  'communication-prohibited': [3, 13, 13],
  'host-precedence-violation': [3, 14, 14],
  'precedence-cutoff': [3, 15, 15],
  'source-quench': [4, 0, 255],
  redirect: [5, 0, 255],
  'network-redirect': [5, 0, 0],
  'host-redirect': [5, 1, 1],
  'TOS-network-redirect': [5, 2, 2],
  'TOS-host-redirect': [5, 3, 3],
  'echo-request': [8, 0, 255],
  ping: [8, 0, 255],
  'router-advertisement': [9, 0, 255],
  'router-solicitation': [10, 0, 255],
  'time-exceeded': [11, 0, 255],
  'ttl-exceeded': [11, 0, 255],
  'ttl-zero-during-transit': [11, 0, 0],
  'ttl-zero-during-reassembly': [11, 1, 1],
  'parameter-problem': [12, 0, 255],
  'ip-header-bad': [12, 0, 0],
  'required-option-missing': [12, 1, 1],
  'timestamp-request': [13, 0, 255],
  'timestamp-reply': [14, 0, 255],
  'address-mask-request': [17, 0, 255],
  'address-mask-reply': [18, 0, 255],
};

export const TCP_FLAGS: Record<string, number> = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ALL: 0x3f, NONE: 0 };

export const REJECT_WITH: Record<string, number> = {
  'icmp-net-unreachable': REJECT_NET_UNREACH,
  'icmp-host-unreachable': REJECT_HOST_UNREACH,
  'icmp-proto-unreachable': REJECT_PROTO_UNREACH,
  'icmp-port-unreachable': REJECT_PORT_UNREACH,
  'icmp-net-prohibited': REJECT_NET_PROHIBITED,
  'icmp-host-prohibited': REJECT_HOST_PROHIBITED,
  'icmp-admin-prohibited': REJECT_ADMIN_PROHIBITED,
  'tcp-reset': REJECT_TCP_RESET,
};
/** Aliases iptables accepts (net-unreach...) mapped to the canonical names above. */
export const REJECT_ALIASES: Record<string, string> = {
  'net-unreach': 'icmp-net-unreachable',
  'host-unreach': 'icmp-host-unreachable',
  'proto-unreach': 'icmp-proto-unreachable',
  'port-unreach': 'icmp-port-unreachable',
  'net-prohib': 'icmp-net-prohibited',
  'host-prohib': 'icmp-host-prohibited',
  'admin-prohib': 'icmp-admin-prohibited',
  'tcp-rst': 'tcp-reset',
};

export const PROTOCOLS: Record<string, number> = { all: 0, icmp: 1, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, sctp: 132 };

/** A few /etc/services names, so `--dport ssh` works without reading files. */
export const SERVICES: Record<string, number> = {
  ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, bootps: 67, bootpc: 68, tftp: 69, http: 80, www: 80,
  pop3: 110, ntp: 123, imap: 143, snmp: 161, bgp: 179, https: 443, syslog: 514,
};

export function nameOf(table: Record<string, number>, v: number): string | undefined {
  for (const k in table) if (table[k] === v) return k;
  return undefined;
}
