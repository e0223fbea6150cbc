/**
 * SNAT (xt_nat's SNAT, libxt_NAT): rewrite the source of a new connection to an address of
 * `--to-source A[-B][:P[-Q]]`; the NAT core picks a tuple no other connection uses. nat table,
 * POSTROUTING and INPUT only (the kernel's hook mask).
 */

import { NF_INET_LOCAL_IN, NF_INET_POST_ROUTING } from '../packet.ts';
import type { TargetExt } from '../xt.ts';
import { flagOpt, NAT_SLOTS, NAT_SNAT, natCode, natCompile, natInit, natText, NF_NAT_RANGE_PERSISTENT, NF_NAT_RANGE_PROTO_RANDOM, NF_NAT_RANGE_PROTO_RANDOM_FULLY, toOpt, toRequired } from './nat-range.ts';

export const snat: TargetExt = {
  kind: 'SNAT',
  name: 'SNAT',
  table: 'nat',
  hooks: (1 << NF_INET_POST_ROUTING) | (1 << NF_INET_LOCAL_IN),
  init: () => natInit('SNAT'),
  options: [toOpt('--to-source'), flagOpt('--random', NF_NAT_RANGE_PROTO_RANDOM), flagOpt('--random-fully', NF_NAT_RANGE_PROTO_RANDOM_FULLY), flagOpt('--persistent', NF_NAT_RANGE_PERSISTENT)],
  check: toRequired('--to-source'),
  spec: (t) => `-j SNAT${natText(t, '--to-source ', true, false)}`,
  list: (t) => natText(t, 'to:', false, false),
  slots: NAT_SLOTS,
  compile: natCompile,
  code: natCode(NAT_SNAT),
};
