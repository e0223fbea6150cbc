/** The multiport match (xt_multiport, libxt_multiport): up to 15 ports or ranges, by source, destination or either. */

import type { NfPacket } from '../packet.ts';
import { fail, neg, once, parsePortRange, portText, type Match, type OptCall } from '../xt.ts';

declare module '../xt.ts' {
  interface Rule {
    multiport?: { dir: 'sports' | 'dports' | 'ports'; list: Array<[number, number]>; inv: boolean };
  }
}

function parse(c: OptCall): void {
  once(c.rule.multiport, 'multiport ports');
  const dir = c.opt === '--ports' ? 'ports' : c.opt.startsWith('--d') ? 'dports' : 'sports';
  const word = c.arg();
  const list: Array<[number, number]> = [];
  let slots = 0;
  for (const part of word.split(',')) {
    const range = parsePortRange(part, c.opt, false);
    list.push([range.lo, range.hi]);
    slots += range.lo === range.hi ? 1 : 2;
  }
  if (slots > 15) fail(`too many ports in "${word}" for ${c.opt} (at most 15; a range counts as 2)`);
  c.rule.multiport = { dir, list, inv: c.inv };
}

/** The ranges are lo,hi pairs in aux at off; dir: 1 source, 2 destination, 3 either. */
function mportMatch(x: Int32Array, off: number, cnt: number, dir: number, p: NfPacket): boolean {
  for (let i = off, e = off + 2 * cnt; i < e; i += 2) {
    const lo = x[i];
    const hi = x[i + 1];
    if (dir & 1 && p.sport >= lo && p.sport <= hi) return true;
    if (dir & 2 && p.dport >= lo && p.dport <= hi) return true;
  }
  return false;
}

export const multiport: Match = {
  name: 'multiport',
  load(r) {
    if (r.proto === undefined || r.proto.inv || (r.proto.num !== 6 && r.proto.num !== 17)) fail('multiport needs "-p tcp" or "-p udp" before it');
  },
  options: [{ names: ['--dports', '--sports', '--ports', '--destination-ports', '--source-ports'], parse }],
  spec(r) {
    const m = r.multiport;
    return m === undefined ? '' : `-m multiport ${neg(m.inv)}--${m.dir} ${m.list.map(([a, b]) => portText(a, b)).join(',')}`;
  },
  list(r) {
    const m = r.multiport;
    return m === undefined ? '' : ` multiport ${m.dir} ${m.inv ? '!' : ''}${m.list.map(([a, b]) => portText(a, b)).join(',')}`;
  },
  tests: [
    {
      slots: ['off', 'cnt', 'dir'],
      compile(r, aux) {
        const m = r.multiport;
        if (m === undefined) return undefined;
        const off = aux.length;
        for (const [lo, hi] of m.list) aux.push(lo, hi);
        return { inv: m.inv, v: [off, m.list.length, m.dir === 'sports' ? 1 : m.dir === 'dports' ? 2 : 3] };
      },
      guard: 'p.fragOff === 0 && p.sport >= 0',
      test: 'mportMatch(x, $off, $cnt, $dir, p)',
      helpers: { mportMatch },
    },
  ],
};
