/**
 * MASQUERADE (xt_MASQUERADE, nf_nat_masquerade_ipv4; libxt_NAT): SNAT to the outgoing port's own
 * address, chosen when the connection starts (the NAT core reads it then), optionally into
 * `--to-ports P[-Q]`. Connections masqueraded through a port are forgotten when its address
 * goes (the NAT core's flush). nat table, POSTROUTING only.
 */

import { NF_INET_POST_ROUTING } from '../packet.ts';
import type { TargetExt } from '../xt.ts';
import { flagOpt, NAT_MASQUERADE, NAT_SLOTS, natCode, natCompile, natInit, natText, NF_NAT_RANGE_PROTO_RANDOM, NF_NAT_RANGE_PROTO_RANDOM_FULLY, toPortsOpt } from './nat-range.ts';

export const masquerade: TargetExt = {
  kind: 'MASQUERADE',
  name: 'MASQUERADE',
  table: 'nat',
  hooks: 1 << NF_INET_POST_ROUTING,
  init: () => natInit('MASQUERADE'),
  options: [
    toPortsOpt,
    flagOpt('--random', NF_NAT_RANGE_PROTO_RANDOM),
    flagOpt('--random-fully', NF_NAT_RANGE_PROTO_RANDOM_FULLY),
  ],
  spec: (t) => `-j MASQUERADE${natText(t, '--to-ports ', true, true)}`,
  list: (t) => natText(t, 'masq ports: ', false, true),
  slots: NAT_SLOTS,
  compile: natCompile,
  code: natCode(NAT_MASQUERADE),
};
