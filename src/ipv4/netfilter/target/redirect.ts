/**
 * REDIRECT (xt_REDIRECT, nf_nat_redirect_ipv4; libxt_NAT): DNAT to the router itself, the
 * address of the port the packet came in on (NAT core), optionally to `--to-ports P[-Q]`.
 * nat table, PREROUTING and OUTPUT only. In OUTPUT Linux redirects to 127.0.0.1; softnet has no
 * loopback, so such packets find no route (ip.OutNoRoutes).
 */

import { NF_INET_LOCAL_OUT, NF_INET_PRE_ROUTING } from '../packet.ts';
import type { TargetExt } from '../xt.ts';
import { flagOpt, NAT_REDIRECT, NAT_SLOTS, natCode, natCompile, natInit, natText, NF_NAT_RANGE_PROTO_RANDOM, toPortsOpt } from './nat-range.ts';

export const redirect: TargetExt = {
  kind: 'REDIRECT',
  name: 'REDIRECT',
  table: 'nat',
  hooks: (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_OUT),
  init: () => natInit('REDIRECT'),
  options: [
    toPortsOpt,
    flagOpt('--random', NF_NAT_RANGE_PROTO_RANDOM),
  ],
  spec: (t) => `-j REDIRECT${natText(t, '--to-ports ', true, true)}`,
  list: (t) => natText(t, 'redir ports ', false, true),
  slots: NAT_SLOTS,
  compile: natCompile,
  code: natCode(NAT_REDIRECT),
};
