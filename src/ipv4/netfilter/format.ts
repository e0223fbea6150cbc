/** The printers: `iptables -S` rule specs (also how -D/-C compare rules) and the text of `-L`. */

import { formatIPv4, maskOf } from '../addr.ts';
import { ICMP_TYPES, nameOf, PROTOCOLS, REJECT_WITH, SERVICES, TCP_FLAGS } from './names.ts';
import type { Range, Rule } from './rule.ts';

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
const portText = (lo: number, hi: number) => (lo === hi ? `${lo}` : `${lo}:${hi}`);
const cidrText = (a: { addr: number; len: number }) => `${formatIPv4(a.addr)}/${a.len}`;
const neg = (inv: boolean) => (inv ? '! ' : '');

function flagNames(v: number): string {
  if (v === 0) return 'NONE';
  const names: string[] = [];
  for (const n of ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG']) if (v & TCP_FLAGS[n]) names.push(n);
  return names.join(',');
}

/** The rule as `iptables -S` prints it after `-A CHAIN` (canonical: also how -D matches a spec). */
export function formatSpec(r: Rule): string {
  const p: string[] = [];
  if (r.src) p.push(`${neg(r.src.inv)}-s ${cidrText(r.src)}`);
  if (r.dst) p.push(`${neg(r.dst.inv)}-d ${cidrText(r.dst)}`);
  if (r.iif) p.push(`${neg(r.iif.inv)}-i ${r.iif.name}`);
  if (r.oif) p.push(`${neg(r.oif.inv)}-o ${r.oif.name}`);
  if (r.proto) p.push(`${neg(r.proto.inv)}-p ${nameOf(PROTOCOLS, r.proto.num) ?? r.proto.num}`);
  if (r.frag) p.push(`${neg(r.frag.inv)}-f`);
  if (r.sport || r.dport || r.tcpFlags) {
    p.push(`-m ${r.proto?.num === 17 ? 'udp' : 'tcp'}`);
    if (r.sport) p.push(`${neg(r.sport.inv)}--sport ${portText(r.sport.lo, r.sport.hi)}`);
    if (r.dport) p.push(`${neg(r.dport.inv)}--dport ${portText(r.dport.lo, r.dport.hi)}`);
    if (r.tcpFlags) p.push(`${neg(r.tcpFlags.inv)}--tcp-flags ${flagNames(r.tcpFlags.mask)} ${flagNames(r.tcpFlags.comp)}`);
  }
  if (r.icmp) {
    const t = r.icmp.type === 255 ? 'any' : r.icmp.lo === 0 && r.icmp.hi === 255 ? `${r.icmp.type}` : `${r.icmp.type}/${r.icmp.lo}`;
    p.push(`-m icmp ${neg(r.icmp.inv)}--icmp-type ${t}`);
  }
  if (r.multiport) p.push(`-m multiport ${neg(r.multiport.inv)}--${r.multiport.dir} ${r.multiport.list.map(([a, b]) => portText(a, b)).join(',')}`);
  if (r.length) p.push(`-m length ${neg(r.length.inv)}--length ${portText(r.length.lo, r.length.hi)}`);
  if (r.mark) p.push(`-m mark ${neg(r.mark.inv)}--mark ${hex(r.mark.value)}${r.mark.mask === 0xffffffff ? '' : `/${hex(r.mark.mask)}`}`);
  if (r.comment !== undefined) p.push(`-m comment --comment ${quote(r.comment)}`);
  const t = r.target;
  switch (t.kind) {
    case 'NONE':
      break;
    case 'JUMP':
      p.push(`-j ${t.chain}`);
      break;
    case 'GOTO':
      p.push(`-g ${t.chain}`);
      break;
    case 'REJECT':
      p.push(`-j REJECT --reject-with ${nameOf(REJECT_WITH, t.rejectWith!)}`);
      break;
    case 'LOG':
      p.push('-j LOG' + (t.logPrefix ? ` --log-prefix ${quote(t.logPrefix)}` : '') + (t.logLevel !== 4 ? ` --log-level ${t.logLevel}` : ''));
      break;
    case 'MARK':
      p.push(`-j MARK --set-xmark ${hex(t.markValue!)}/${hex(t.markMask!)}`);
      break;
    default:
      p.push(`-j ${t.kind}`);
  }
  return p.join(' ');
}

function quote(s: string): string {
  return /^[\w.:,/@+-]+$/.test(s) ? s : `"${s.replace(/"/g, '\\"')}"`;
}

/** The match and target text `iptables -L` prints after the destination column. */
export function formatListExtras(r: Rule, numeric = true): string {
  let s = '';
  // without -n, well-known ports and ICMP types print by name (as getservbyport would)
  const pn = (v: number) => (numeric ? `${v}` : (nameOf(SERVICES, v) ?? `${v}`));
  const ports = (name: string, x: Range | undefined) =>
    x === undefined ? '' : x.lo === x.hi ? ` ${name}:${x.inv ? '!' : ''}${pn(x.lo)}` : ` ${name}s:${x.inv ? '!' : ''}${pn(x.lo)}:${pn(x.hi)}`;
  if (r.sport || r.dport || r.tcpFlags) {
    s += r.proto?.num === 17 ? ' udp' : ' tcp';
    s += ports('spt', r.sport) + ports('dpt', r.dport);
    if (r.tcpFlags) s += ` flags:${r.tcpFlags.inv ? '!' : ''}0x${r.tcpFlags.mask.toString(16).toUpperCase().padStart(2, '0')}/0x${r.tcpFlags.comp.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  const icmpName = r.icmp && !numeric ? Object.keys(ICMP_TYPES).find((k) => ICMP_TYPES[k][0] === r.icmp!.type && ICMP_TYPES[k][1] === r.icmp!.lo && ICMP_TYPES[k][2] === r.icmp!.hi) : undefined;
  if (icmpName !== undefined) s += ` icmp ${r.icmp!.inv ? '!' : ''}${icmpName}`;
  else if (r.icmp) {
    const i = r.icmp;
    s += i.type === 255 ? ` icmp ${i.inv ? '!' : ''}any` : ` icmp${i.inv ? ' !' : ''}type ${i.type}`;
    if (i.type !== 255) s += i.lo === i.hi ? ` code ${i.lo}` : i.lo !== 0 || i.hi !== 255 ? ` codes ${i.lo}-${i.hi}` : '';
  }
  if (r.multiport) s += ` multiport ${r.multiport.dir} ${r.multiport.inv ? '!' : ''}${r.multiport.list.map(([a, b]) => portText(a, b)).join(',')}`;
  if (r.length) s += ` length ${r.length.inv ? '!' : ''}${portText(r.length.lo, r.length.hi)}`;
  if (r.mark) s += ` mark match ${r.mark.inv ? '!' : ''}${hex(r.mark.value)}${r.mark.mask === 0xffffffff ? '' : `/${hex(r.mark.mask)}`}`;
  if (r.comment !== undefined) s += ` /* ${r.comment} */`;
  const t = r.target;
  if (t.kind === 'REJECT') s += ` reject-with ${nameOf(REJECT_WITH, t.rejectWith!)}`;
  else if (t.kind === 'LOG') s += ` LOG flags 0 level ${t.logLevel}${t.logPrefix ? ` prefix "${t.logPrefix}"` : ''}`;
  else if (t.kind === 'MARK') {
    const v = t.markValue!;
    const m = t.markMask!;
    s += v === 0 ? ` MARK and ${hex(~m)}` : v === m ? ` MARK or ${hex(v)}` : m === 0 ? ` MARK xor ${hex(v)}` : m === 0xffffffff ? ` MARK set ${hex(v)}` : ` MARK xset ${hex(v)}/${hex(m)}`;
  } else if (t.kind === 'GOTO') s += ` [goto]`;
  return s;
}

/** Address column text of -L. */
export function listAddr(a: { addr: number; len: number } | undefined, numeric: boolean): string {
  if (a === undefined || a.len === 0) return numeric ? '0.0.0.0/0' : 'anywhere';
  return a.len === 32 ? formatIPv4(a.addr) : `${formatIPv4(a.addr & maskOf(a.len))}/${a.len}`;
}
