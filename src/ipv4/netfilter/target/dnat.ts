/**
 * DNAT (xt_nat's DNAT, libxt_NAT): rewrite the destination of a new connection to
 * `--to-destination A[-B][:P[-Q]]` (a port forward). nat table, PREROUTING and OUTPUT only.
 */

import { NF_INET_LOCAL_OUT, NF_INET_PRE_ROUTING } from '../packet.ts';
import type { TargetExt } from '../xt.ts';
import { flagOpt, NAT_DNAT, NAT_SLOTS, natCode, natCompile, natInit, natText, NF_NAT_RANGE_PERSISTENT, NF_NAT_RANGE_PROTO_RANDOM, toOpt, toRequired } from './nat-range.ts';

export const dnat: TargetExt = {
  kind: 'DNAT',
  name: 'DNAT',
  table: 'nat',
  hooks: (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_OUT),
  init: () => natInit('DNAT'),
  options: [toOpt('--to-destination'), flagOpt('--random', NF_NAT_RANGE_PROTO_RANDOM), flagOpt('--persistent', NF_NAT_RANGE_PERSISTENT)],
  check: toRequired('--to-destination'),
  spec: (t) => `-j DNAT${natText(t, '--to-destination ', true, false)}`,
  list: (t) => natText(t, 'to:', false, false),
  slots: NAT_SLOTS,
  compile: natCompile,
  code: natCode(NAT_DNAT),
};
