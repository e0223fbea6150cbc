/**
 * The REJECT target (ipt_REJECT, libipt_REJECT): drop and answer with an ICMP unreachable of the
 * chosen code or a TCP RST. The verdict is NF_REJECT with p.rejectWith; nf-hooks.ts answers.
 */

import {
  NF_REJECT,
  REJECT_ADMIN_PROHIBITED,
  REJECT_HOST_PROHIBITED,
  REJECT_HOST_UNREACH,
  REJECT_NET_PROHIBITED,
  REJECT_NET_UNREACH,
  REJECT_PORT_UNREACH,
  REJECT_PROTO_UNREACH,
  REJECT_TCP_RESET,
} from '../packet.ts';
import { fail, nameOf, type TargetExt } from '../xt.ts';

declare module '../xt.ts' {
  interface Target {
    /** ICMP unreachable code or REJECT_TCP_RESET. */
    rejectWith?: number;
  }
}

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
const ALIASES: Record<string, string> = {
  'net-unreach': 'icmp-net-unreachable',
  'host-unreach': 'icmp-host-unreachable',
  'proto-unreach': 'icmp-proto-unreachable',
  'port-unreach': 'icmp-port-unreachable',
  'net-prohib': 'icmp-net-prohibited',
  'host-prohib': 'icmp-host-prohibited',
  'admin-prohib': 'icmp-admin-prohibited',
  'tcp-rst': 'tcp-reset',
};

const withText = (t: { rejectWith?: number }) => nameOf(REJECT_WITH, t.rejectWith!);

export const reject: TargetExt = {
  kind: 'REJECT',
  name: 'REJECT',
  table: 'filter',
  init: () => ({ kind: 'REJECT', rejectWith: REJECT_PORT_UNREACH }),
  options: [
    {
      names: ['--reject-with'],
      parse: (c) => {
        const word = c.arg();
        const code = REJECT_WITH[ALIASES[word] ?? word];
        if (code === undefined) fail(`unknown reject type "${word}" (${Object.keys(REJECT_WITH).join('|')})`);
        c.rule.target.rejectWith = code;
      },
    },
  ],
  check(r) {
    if (r.target.rejectWith === REJECT_TCP_RESET && (r.proto === undefined || r.proto.num !== 6 || r.proto.inv)) fail('--reject-with tcp-reset is only valid with "-p tcp"');
  },
  spec: (t) => `-j REJECT --reject-with ${withText(t)}`,
  list: (t) => ` reject-with ${withText(t)}`,
  slots: ['code'],
  compile: (t) => [t.rejectWith!],
  code: `p.rejectWith = $code; return ${NF_REJECT};`,
};
