/** The comment match (xt_comment, libxt_comment): matches everything, carries a note for -S/-L. */

import { fail, quote, type Match } from '../xt.ts';

declare module '../xt.ts' {
  interface Rule {
    comment?: string;
  }
}

export const comment: Match = {
  name: 'comment',
  options: [
    {
      names: ['--comment'],
      noInv: true,
      parse: (c) => {
        const text = c.arg();
        if (text.length > 255) fail('comment too long (at most 255 characters)');
        c.rule.comment = text;
      },
    },
  ],
  spec: (r) => (r.comment === undefined ? '' : `-m comment --comment ${quote(r.comment)}`),
  list: (r) => (r.comment === undefined ? '' : ` /* ${r.comment} */`),
};
