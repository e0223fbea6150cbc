/** The length match (xt_length, libxt_length): IP total length in LEN or MIN:MAX. */

import { fail, neg, once, portText, type Match } from '../xt.ts';

declare module '../xt.ts' {
  interface Rule {
    length?: Range;
  }
}

export const length: Match = {
  name: 'length',
  options: [
    {
      names: ['--length'],
      parse: (c) => {
        once(c.rule.length, c.opt);
        const word = c.arg();
        const m = /^(\d+)?(?::(\d+)?)?$/.exec(word);
        const lo = m?.[1] === undefined ? 0 : Number(m[1]);
        const hi = m === null ? -1 : word.includes(':') ? (m[2] === undefined ? 65535 : Number(m[2])) : lo;
        if (m === null || word === '' || hi > 65535 || lo > hi) fail(`Bad length "${word}" for --length (LEN or MIN:MAX, 0..65535)`);
        c.rule.length = { lo, hi, inv: c.inv };
      },
    },
  ],
  spec: (r) => (r.length === undefined ? '' : `-m length ${neg(r.length.inv)}--length ${portText(r.length.lo, r.length.hi)}`),
  list: (r) => (r.length === undefined ? '' : ` length ${r.length.inv ? '!' : ''}${portText(r.length.lo, r.length.hi)}`),
  tests: [
    {
      slots: ['lo', 'hi'],
      compile: (r) => r.length && { inv: r.length.inv, v: [r.length.lo, r.length.hi] },
      test: 'p.len >= $lo && p.len <= $hi',
    },
  ],
};
