/** The printers: `iptables -S` rule specs (also how -D/-C compare rules) and the rows of `-L`, from the extensions in registry order. */

import { MATCHES, targetOf } from './extensions.ts';
import { listColumns } from './match/ip.ts';
import type { Rule } from './xt.ts';

/** The rule as `iptables -S` prints it after `-A CHAIN` (canonical: also how -D matches a spec). */
export function formatSpec(r: Rule): string {
  const p: string[] = [];
  for (const m of MATCHES) {
    const s = m.spec(r);
    if (s !== '') p.push(s);
  }
  const t = targetOf(r.target).spec(r.target);
  if (t !== '') p.push(t);
  return p.join(' ');
}

/** The match and target text `iptables -L` prints after the destination column. */
export function formatListExtras(r: Rule, numeric = true): string {
  let s = '';
  for (const m of MATCHES) s += m.list?.(r, numeric) ?? '';
  return s + (targetOf(r.target).list?.(r.target) ?? '');
}

/** An `iptables -L` row after the counters: target, the ip part's columns, then matches and target text. */
export function formatListRow(r: Rule, verbose: boolean, numeric: boolean): string {
  const t = r.target;
  const target = t.kind === 'NONE' ? '' : (t.chain ?? t.kind);
  return `${target.padEnd(9)} ${listColumns(r, verbose, numeric)}${formatListExtras(r, numeric)}`;
}
