/** The mark match (xt_mark, libxt_mark): --mark VALUE[/MASK] against skb->mark. The MARK target is target/mark.ts. */

import { hex, neg, once, parseU32, type Match } from '../xt.ts';

declare module '../xt.ts' {
  interface Rule {
    /** Matches when (mark & mask) === value (value is stored masked). */
    mark?: { value: number; mask: number; inv: boolean };
  }
}

const text = (m: { value: number; mask: number }) => `${hex(m.value)}${m.mask === 0xffffffff ? '' : `/${hex(m.mask)}`}`;

export const mark: Match = {
  name: 'mark',
  options: [
    {
      names: ['--mark'],
      parse: (c) => {
        once(c.rule.mark, c.opt);
        const [v, m] = c.arg().split('/');
        const value = parseU32(v, 'mark');
        const mask = m === undefined ? 0xffffffff : parseU32(m, 'mark mask');
        c.rule.mark = { value: (value & mask) >>> 0, mask, inv: c.inv };
      },
    },
  ],
  spec: (r) => (r.mark === undefined ? '' : `-m mark ${neg(r.mark.inv)}--mark ${text(r.mark)}`),
  list: (r) => (r.mark === undefined ? '' : ` mark match ${r.mark.inv ? '!' : ''}${text(r.mark)}`),
  tests: [
    {
      slots: ['value', 'mask'],
      compile: (r) => r.mark && { inv: r.mark.inv, v: [r.mark.value, r.mark.mask] },
      test: '(p.mark & $mask) === $value',
    },
  ],
};
