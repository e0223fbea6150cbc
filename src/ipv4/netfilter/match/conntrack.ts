/**
 * The conntrack and state matches (xt_conntrack, libxt_conntrack; xt_state, libxt_state):
 * `-m conntrack [!] --ctstate LIST [!] --ctstatus LIST` and `-m state [!] --state LIST`, tested
 * against what connection tracking found for the packet (NfPacket.ctState/ctStatus, filled by
 * ../nf-hooks.ts). Using either turns connection tracking on (../../conntrack/README.md).
 */

import { CTSTATE_NAMES, CTSTATUS_NAMES } from '../../conntrack/common.ts';
import { fail, neg, once, type Match } from '../xt.ts';

declare module '../xt.ts' {
  interface Rule {
    /** XT_CONNTRACK_STATE_* bits: the rule matches when the packet's state bit is in mask. */
    ctstate?: { mask: number; inv: boolean };
    /** IPS_* bits: matches when the entry's status has one of them (never without an entry). */
    ctstatus?: { mask: number; inv: boolean };
    /** -m state: the same bits as ctstate (no SNAT/DNAT). */
    state?: { mask: number; inv: boolean };
  }
}

function parseList(word: string, names: ReadonlyArray<[string, number]>, what: string): number {
  let m = 0;
  for (const w of word.split(',')) {
    const hit = names.find(([n]) => n === w.toUpperCase());
    if (hit === undefined) fail(`Bad ${what} "${w}" (one of ${names.map(([n]) => n).join(', ')})`);
    m |= hit![1];
  }
  return m;
}

function listText(mask: number, names: ReadonlyArray<[string, number]>): string {
  const out = names.filter(([, b]) => b !== 0 && (mask & b) !== 0).map(([n]) => n);
  return out.length === 0 ? 'NONE' : out.join(',');
}

const STATE_NAMES = CTSTATE_NAMES.filter(([n]) => n !== 'SNAT' && n !== 'DNAT');

export const conntrack: Match = {
  name: 'conntrack',
  conntrack: true,
  options: [
    {
      names: ['--ctstate'],
      parse: (c) => {
        once(c.rule.ctstate, c.opt);
        c.rule.ctstate = { mask: parseList(c.arg(), CTSTATE_NAMES, 'ctstate'), inv: c.inv };
      },
    },
    {
      names: ['--ctstatus'],
      parse: (c) => {
        once(c.rule.ctstatus, c.opt);
        c.rule.ctstatus = { mask: parseList(c.arg(), CTSTATUS_NAMES, 'ctstatus'), inv: c.inv };
      },
    },
  ],
  spec(r) {
    if (r.ctstate === undefined && r.ctstatus === undefined) return '';
    let s = '-m conntrack';
    if (r.ctstate) s += ` ${neg(r.ctstate.inv)}--ctstate ${listText(r.ctstate.mask, CTSTATE_NAMES)}`;
    if (r.ctstatus) s += ` ${neg(r.ctstatus.inv)}--ctstatus ${listText(r.ctstatus.mask, CTSTATUS_NAMES)}`;
    return s;
  },
  list(r) {
    let s = '';
    if (r.ctstate) s += `${r.ctstate.inv ? ' !' : ''} ctstate ${listText(r.ctstate.mask, CTSTATE_NAMES)}`;
    if (r.ctstatus) s += `${r.ctstatus.inv ? ' !' : ''} ctstatus ${listText(r.ctstatus.mask, CTSTATUS_NAMES)}`;
    return s;
  },
  tests: [
    {
      slots: ['mask'],
      compile: (r) => r.ctstate && { inv: r.ctstate.inv, v: [r.ctstate.mask] },
      test: '(p.ctState & $mask) !== 0',
    },
    {
      slots: ['mask'],
      compile: (r) => r.ctstatus && { inv: r.ctstatus.inv, v: [r.ctstatus.mask] },
      guard: 'p.ctStatus >= 0',
      test: '(p.ctStatus & $mask) !== 0',
    },
  ],
};

export const state: Match = {
  name: 'state',
  conntrack: true,
  options: [
    {
      names: ['--state'],
      parse: (c) => {
        once(c.rule.state, c.opt);
        c.rule.state = { mask: parseList(c.arg(), STATE_NAMES, 'state'), inv: c.inv };
      },
    },
  ],
  spec: (r) => (r.state === undefined ? '' : `-m state ${neg(r.state.inv)}--state ${listText(r.state.mask, STATE_NAMES)}`),
  list: (r) => (r.state === undefined ? '' : `${r.state.inv ? ' !' : ''} state ${listText(r.state.mask, STATE_NAMES)}`),
  tests: [
    {
      slots: ['mask'],
      compile: (r) => r.state && { inv: r.state.inv, v: [r.state.mask] },
      test: '(p.ctState & $mask) !== 0',
    },
  ],
};
