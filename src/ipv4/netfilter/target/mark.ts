/**
 * The MARK target (xt_MARK, libxt_MARK): sets skb->mark. All five options are stored as xset
 * (value, mask): new = (old & ~mask) ^ value, as libxt_MARK encodes them. The mark match is
 * match/mark.ts.
 */

import { fail, hex, parseU32, type TargetExt } from '../xt.ts';

declare module '../xt.ts' {
  interface Target {
    markValue?: number;
    markMask?: number;
  }
}

const SET = ['--set-mark', '--set-xmark', '--and-mark', '--or-mark', '--xor-mark'];

export const markTarget: TargetExt = {
  kind: 'MARK',
  name: 'MARK',
  init: () => ({ kind: 'MARK' }),
  options: [
    {
      names: SET,
      parse: (c) => {
        const t = c.rule.target;
        const w = c.opt;
        if (t.markValue !== undefined) fail('MARK: only one of --set-mark/--set-xmark/--and-mark/--or-mark/--xor-mark');
        const [vs, ms] = c.arg().split('/');
        const v = parseU32(vs, w.slice(2));
        const m = ms === undefined ? 0xffffffff : parseU32(ms, `${w.slice(2)} mask`);
        if (ms !== undefined && w !== '--set-mark' && w !== '--set-xmark') fail(`${w} takes no mask: "${vs}/${ms}"`);
        let value = v;
        let mask = m;
        if (w === '--set-mark') mask = (m | v) >>> 0;
        else if (w === '--and-mark') (value = 0), (mask = ~v >>> 0);
        else if (w === '--or-mark') mask = v;
        else if (w === '--xor-mark') mask = 0;
        t.markValue = value >>> 0;
        t.markMask = mask >>> 0;
      },
    },
    // the mark match's option after -j MARK: refused with a hint, whether -m mark is loaded or not
    { names: ['--mark'], parse: () => fail(`unknown option "--mark" after -j MARK (use --set-mark)`) },
  ],
  check(r) {
    if (r.target.markValue === undefined) fail('MARK target: one of --set-mark/--set-xmark/--and-mark/--or-mark/--xor-mark is required');
  },
  spec: (t) => `-j MARK --set-xmark ${hex(t.markValue!)}/${hex(t.markMask!)}`,
  list(t) {
    const v = t.markValue!;
    const m = t.markMask!;
    return v === 0 ? ` MARK and ${hex(~m)}` : v === m ? ` MARK or ${hex(v)}` : m === 0 ? ` MARK xor ${hex(v)}` : m === 0xffffffff ? ` MARK set ${hex(v)}` : ` MARK xset ${hex(v)}/${hex(m)}`;
  },
  slots: ['value', 'mask'],
  compile: (t) => [t.markValue!, t.markMask!],
  code: 'p.mark = ((p.mark & ~$mask) ^ $value) >>> 0;',
};
