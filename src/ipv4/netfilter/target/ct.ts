/**
 * The CT target, raw table only (xt_CT, libxt_CT): `-j CT --notrack`, and its old spelling
 * `-j NOTRACK` (listed as `-j CT --notrack`, as iptables does). The packet skips connection
 * tracking: its state is UNTRACKED. Other CT options (zones, helpers, timeouts) are not here.
 */

import { fail, type TargetExt } from '../xt.ts';

declare module '../xt.ts' {
  interface Target {
    notrack?: boolean;
  }
}

export const ctTarget: TargetExt = {
  kind: 'CT',
  name: 'CT',
  table: 'raw',
  conntrack: true,
  init: () => ({ kind: 'CT' }),
  options: [
    {
      names: ['--notrack'],
      noInv: true,
      parse: (c) => {
        c.rule.target.notrack = true;
      },
    },
  ],
  check(r) {
    if (r.target.notrack !== true) fail('CT: softnet supports only "-j CT --notrack" (no zones, helpers or timeout policies)');
  },
  spec: () => '-j CT --notrack',
  list: () => ' NOTRACK',
  // XT_CONTINUE: the raw chain goes on, as xt_CT's target does.
  code: 'p.notrack = 1;',
};

/** `-j NOTRACK`: the same rule as `-j CT --notrack`. */
export const notrackTarget: TargetExt = {
  kind: 'NOTRACK',
  name: 'NOTRACK',
  table: 'raw',
  conntrack: true,
  init: () => ({ kind: 'CT', notrack: true }),
  spec: () => '-j CT --notrack',
};
