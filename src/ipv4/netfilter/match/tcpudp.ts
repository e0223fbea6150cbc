/**
 * The tcp and udp matches (xt_tcpudp.c; libxt_tcp, libxt_udp): --sport, --dport, and for tcp
 * --tcp-flags/--syn. Loaded by `-p tcp|udp` or `-m tcp|udp`. Both write the same port fields
 * and share their tests; which of the two a rule uses follows its -p.
 */

import { fail, neg, parsePortRange, portText, SERVICES, nameOf, once, type Match, type Opt, type OptCall, type Range, type Rule, type Test } from '../xt.ts';

declare module '../xt.ts' {
  interface Rule {
    sport?: Range;
    dport?: Range;
    tcpFlags?: { mask: number; comp: number; inv: boolean };
  }
}

export const TCP_FLAGS: Record<string, number> = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ALL: 0x3f, NONE: 0 };

function parseFlagList(word: string, opt: string): number {
  let v = 0;
  for (const f of word.split(',')) {
    const b = TCP_FLAGS[f.toUpperCase()];
    if (b === undefined) fail(`Unknown TCP flag "${f}" in ${opt} (FIN,SYN,RST,PSH,ACK,URG,ALL,NONE)`);
    v |= b;
  }
  return v;
}

function flagNames(v: number): string {
  if (v === 0) return 'NONE';
  const names: string[] = [];
  for (const n of ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG']) if (v & TCP_FLAGS[n]) names.push(n);
  return names.join(',');
}

const portOpt = (key: 'sport' | 'dport') => (c: OptCall) => {
  const range = parsePortRange(c.arg(), c.opt, c.inv);
  once(c.rule[key], c.opt);
  c.rule[key] = range;
};

const ports: Opt[] = [
  { names: ['--sport', '--source-port'], parse: portOpt('sport') },
  { names: ['--dport', '--destination-port'], parse: portOpt('dport') },
];

// As xt_tcpudp: a later fragment, or a header too short to hold ports, never matches, even negated.
const portTest = (key: 'sport' | 'dport'): Test => ({
  slots: ['lo', 'hi'],
  compile: (r) => {
    const x = r[key];
    return x && { inv: x.inv, v: [x.lo, x.hi] };
  },
  guard: 'p.fragOff === 0 && p.sport >= 0',
  test: `p.${key} >= $lo && p.${key} <= $hi`,
});
const sport = portTest('sport');
const dport = portTest('dport');

const used = (r: Rule) => r.sport !== undefined || r.dport !== undefined || r.tcpFlags !== undefined;
const isUdp = (r: Rule) => r.proto?.num === 17;

function spec(r: Rule): string {
  let s = `-m ${isUdp(r) ? 'udp' : 'tcp'}`;
  if (r.sport) s += ` ${neg(r.sport.inv)}--sport ${portText(r.sport.lo, r.sport.hi)}`;
  if (r.dport) s += ` ${neg(r.dport.inv)}--dport ${portText(r.dport.lo, r.dport.hi)}`;
  if (r.tcpFlags) s += ` ${neg(r.tcpFlags.inv)}--tcp-flags ${flagNames(r.tcpFlags.mask)} ${flagNames(r.tcpFlags.comp)}`;
  return s;
}

function list(r: Rule, numeric: boolean): string {
  // without -n, well-known ports print by name (as getservbyport would)
  const pn = (v: number) => (numeric ? `${v}` : (nameOf(SERVICES, v) ?? `${v}`));
  const range = (name: string, x: Range | undefined) =>
    x === undefined ? '' : x.lo === x.hi ? ` ${name}:${x.inv ? '!' : ''}${pn(x.lo)}` : ` ${name}s:${x.inv ? '!' : ''}${pn(x.lo)}:${pn(x.hi)}`;
  let s = isUdp(r) ? ' udp' : ' tcp';
  s += range('spt', r.sport) + range('dpt', r.dport);
  const f = r.tcpFlags;
  if (f) s += ` flags:${f.inv ? '!' : ''}0x${f.mask.toString(16).toUpperCase().padStart(2, '0')}/0x${f.comp.toString(16).toUpperCase().padStart(2, '0')}`;
  return s;
}

export const tcp: Match = {
  name: 'tcp',
  proto: 6,
  options: [
    ...ports,
    {
      names: ['--tcp-flags', '--syn'],
      parse: (c) => {
        once(c.rule.tcpFlags, '--tcp-flags/--syn');
        if (c.opt === '--syn') c.rule.tcpFlags = { mask: 0x17, comp: 0x02, inv: c.inv };
        else {
          const mask = parseFlagList(c.arg(), c.opt);
          c.rule.tcpFlags = { mask, comp: parseFlagList(c.arg(), c.opt), inv: c.inv };
        }
      },
    },
  ],
  spec: (r) => (used(r) && !isUdp(r) ? spec(r) : ''),
  list: (r, numeric) => (used(r) && !isUdp(r) ? list(r, numeric) : ''),
  tests: [
    sport,
    dport,
    {
      slots: ['mask', 'comp'],
      compile: (r) => r.tcpFlags && { inv: r.tcpFlags.inv, v: [r.tcpFlags.mask, r.tcpFlags.comp] },
      guard: 'p.fragOff === 0',
      test: '(p.tcpFlags & $mask) === $comp',
    },
  ],
};

export const udp: Match = {
  name: 'udp',
  proto: 17,
  options: ports,
  spec: (r) => (used(r) && isUdp(r) ? spec(r) : ''),
  list: (r, numeric) => (used(r) && isUdp(r) ? list(r, numeric) : ''),
  tests: [sport, dport],
};
