/** The icmp match (ipt_icmp in ip_tables.c; libipt_icmp): --icmp-type TYPE[/CODE] or a name. Loaded by `-p icmp`. */

import { fail, neg, once, type Match } from '../xt.ts';

declare module '../xt.ts' {
  interface Rule {
    /** Code range lo..hi of type; type 255 = any. */
    icmp?: { type: number; lo: number; hi: number; inv: boolean };
  }
}

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

export const icmp: Match = {
  name: 'icmp',
  proto: 1,
  options: [
    {
      names: ['--icmp-type'],
      parse: (c) => {
        once(c.rule.icmp, c.opt);
        const word = c.arg();
        const named = ICMP_TYPES[word];
        if (named !== undefined) {
          c.rule.icmp = { type: named[0], lo: named[1], hi: named[2], inv: c.inv };
          return;
        }
        const m = /^(\d{1,3})(?:\/(\d{1,3}))?$/.exec(word);
        if (m === null || Number(m[1]) > 255 || (m[2] !== undefined && Number(m[2]) > 255)) {
          fail(`Invalid ICMP type "${word}" for --icmp-type (a name from iptables -p icmp -h, or TYPE[/CODE])`);
        }
        const code = m![2] === undefined ? -1 : Number(m![2]);
        c.rule.icmp = { type: Number(m![1]), lo: code < 0 ? 0 : code, hi: code < 0 ? 255 : code, inv: c.inv };
      },
    },
  ],
  spec(r) {
    const i = r.icmp;
    if (i === undefined) return '';
    const t = i.type === 255 ? 'any' : i.lo === 0 && i.hi === 255 ? `${i.type}` : `${i.type}/${i.lo}`;
    return `-m icmp ${neg(i.inv)}--icmp-type ${t}`;
  },
  list(r, numeric) {
    const i = r.icmp;
    if (i === undefined) return '';
    // without -n, the type prints by name
    const name = numeric ? undefined : Object.keys(ICMP_TYPES).find((k) => ICMP_TYPES[k][0] === i.type && ICMP_TYPES[k][1] === i.lo && ICMP_TYPES[k][2] === i.hi);
    if (name !== undefined) return ` icmp ${i.inv ? '!' : ''}${name}`;
    let s = i.type === 255 ? ` icmp ${i.inv ? '!' : ''}any` : ` icmp${i.inv ? ' !' : ''}type ${i.type}`;
    if (i.type !== 255) s += i.lo === i.hi ? ` code ${i.lo}` : i.lo !== 0 || i.hi !== 255 ? ` codes ${i.lo}-${i.hi}` : '';
    return s;
  },
  tests: [
    {
      slots: ['type', 'lo', 'hi'],
      compile: (r) => r.icmp && { inv: r.icmp.inv, v: [r.icmp.type, r.icmp.lo, r.icmp.hi] },
      // a later fragment never matches; a missing header (icmpType -1) is a plain no-match, so "!" matches it
      guard: 'p.fragOff === 0',
      test: 'p.icmpType >= 0 && ($type === 255 || (p.icmpType === $type && p.icmpCode >= $lo && p.icmpCode <= $hi))',
    },
  ],
};
