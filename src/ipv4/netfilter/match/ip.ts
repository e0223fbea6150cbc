/**
 * The built-in part of every rule (`struct ipt_ip`, ip_packet_match): -s, -d, -i, -o, -p, -f.
 * No `-m` loads it; `-L` prints it as columns (listColumns) rather than after them.
 */

import { formatIPv4, maskOf, parseCidr } from '../../../wire/addr.ts';
import type { Program } from '../program.ts';
import { fail, nameOf, neg, once, type Match, type OptCall, type Rule, type Test } from '../xt.ts';

export interface Addr {
  addr: number;
  len: number;
  inv: boolean;
}
export interface Iface {
  name: string;
  inv: boolean;
}

declare module '../xt.ts' {
  interface Rule {
    src?: Addr;
    dst?: Addr;
    iif?: Iface;
    oif?: Iface;
    proto?: { num: number; inv: boolean };
    frag?: { inv: boolean };
  }
}

export const PROTOCOLS: Record<string, number> = { all: 0, icmp: 1, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, sctp: 132 };

/** The -p protocol when it is not negated (what loads tcp/udp/icmp implicitly), else undefined. */
export const positiveProto = (r: Rule): number | undefined => (r.proto !== undefined && !r.proto.inv ? r.proto.num : undefined);

const addrOpt = (key: 'src' | 'dst') => (c: OptCall) => {
  const a = c.arg();
  let cidr;
  try {
    cidr = parseCidr(a);
  } catch {
    return fail(`host/network "${a}" not found for ${c.opt} (expected a.b.c.d[/len])`);
  }
  once(c.rule[key], c.opt);
  c.rule[key] = { addr: cidr.prefix, len: cidr.len, inv: c.inv };
};

const ifaceOpt = (key: 'iif' | 'oif') => (c: OptCall) => {
  once(c.rule[key], c.opt);
  const word = c.arg();
  if (word.length === 0 || word.length > 15 || /[\s/]/.test(word) || word.slice(0, -1).includes('+')) {
    fail(`Bad interface name "${word}" for ${c.opt} (at most 15 characters, "+" only as a trailing wildcard)`);
  }
  c.rule[key] = { name: word, inv: c.inv };
};

function protoOpt(c: OptCall): void {
  once(c.rule.proto, c.opt);
  const p = c.arg().toLowerCase();
  let num = PROTOCOLS[p];
  if (num === undefined) {
    if (/^\d+$/.test(p) && Number(p) <= 255) num = Number(p);
    else fail(`unknown protocol "${p}" specified for ${c.opt} (tcp, udp, icmp, all or a number 0..255)`);
  }
  if (num === 0 && c.inv) fail('rule would never match protocol ("! -p all")');
  c.rule.proto = { num, inv: c.inv };
}

const cidrText = (a: Addr) => `${formatIPv4(a.addr)}/${a.len}`;

const addrTest = (key: 'src' | 'dst', field: 'saddr' | 'daddr'): Test => ({
  slots: ['addr', 'mask'],
  compile: (r) => {
    const a = r[key];
    return a && { inv: a.inv, v: [a.addr, maskOf(a.len)] };
  },
  test: `((p.${field} ^ $addr) & $mask) === 0`,
  hot: true,
});

/**
 * -i/-o by name with the "+" wildcard, resolved once per device index into the rule's 256-entry
 * cache in aux (0 unknown yet, 1 match, 2 no match): the names of an index never change.
 */
function ifMatch(x: Int32Array, cache: number, dev: number, prog: Program, r: number, side: number): boolean {
  if (dev < 0 || dev > 255) return false;
  const c = x[cache + dev];
  if (c !== 0) return c === 1;
  return ifResolve(x, cache + dev, dev, prog, r, side);
}

function ifResolve(x: Int32Array, at: number, dev: number, prog: Program, r: number, side: number): boolean {
  const rule = prog.rules[r];
  const pat = (side === 0 ? rule.iif : rule.oif)!.name;
  let name: string;
  try {
    name = String(prog.host.devName(dev) ?? '');
  } catch {
    name = ''; // an index the device table does not know matches no name
  }
  const ok = pat.endsWith('+') ? name.startsWith(pat.slice(0, -1)) : name === pat;
  x[at] = ok ? 1 : 2;
  return ok;
}

const ifaceTest = (key: 'iif' | 'oif', side: number): Test => ({
  slots: ['cache'],
  compile: (r, aux) => {
    const i = r[key];
    if (i === undefined) return undefined;
    const at = aux.length;
    for (let k = 0; k < 256; k++) aux.push(0);
    return { inv: i.inv, v: [at] };
  },
  test: `ifMatch(x, $cache, p.${key}, prog, r, ${side})`,
  helpers: { ifMatch },
});

export const ip: Match = {
  options: [
    { names: ['-s', '--source', '--src'], parse: addrOpt('src') },
    { names: ['-d', '--destination', '--dst'], parse: addrOpt('dst') },
    { names: ['-i', '--in-interface'], parse: ifaceOpt('iif') },
    { names: ['-o', '--out-interface'], parse: ifaceOpt('oif') },
    { names: ['-p', '--protocol'], parse: protoOpt },
    {
      names: ['-f', '--fragment'],
      parse: (c) => {
        once(c.rule.frag, c.opt);
        c.rule.frag = { inv: c.inv };
      },
    },
  ],
  spec(r) {
    const p: string[] = [];
    if (r.src) p.push(`${neg(r.src.inv)}-s ${cidrText(r.src)}`);
    if (r.dst) p.push(`${neg(r.dst.inv)}-d ${cidrText(r.dst)}`);
    if (r.iif) p.push(`${neg(r.iif.inv)}-i ${r.iif.name}`);
    if (r.oif) p.push(`${neg(r.oif.inv)}-o ${r.oif.name}`);
    if (r.proto) p.push(`${neg(r.proto.inv)}-p ${nameOf(PROTOCOLS, r.proto.num) ?? r.proto.num}`);
    if (r.frag) p.push(`${neg(r.frag.inv)}-f`);
    return p.join(' ');
  },
  tests: [
    addrTest('src', 'saddr'),
    addrTest('dst', 'daddr'),
    ifaceTest('iif', 0),
    ifaceTest('oif', 1),
    {
      slots: ['num'],
      // -p all (0) tests nothing
      compile: (r) => (r.proto && r.proto.num !== 0 ? { inv: r.proto.inv, v: [r.proto.num] } : undefined),
      test: 'p.proto === $num',
      hot: true,
    },
    { slots: [], compile: (r) => r.frag && { inv: r.frag.inv, v: [] }, test: 'p.fragOff !== 0' },
  ],
};

/** Address column text of -L. */
function listAddr(a: Addr | undefined, numeric: boolean): string {
  if (a === undefined || a.len === 0) return numeric ? '0.0.0.0/0' : 'anywhere';
  return a.len === 32 ? formatIPv4(a.addr) : `${formatIPv4(a.addr & maskOf(a.len))}/${a.len}`;
}

/** The -L columns the ip part fills: prot, opt, (in, out with -v), source, destination. */
export function listColumns(r: Rule, verbose: boolean, numeric: boolean): string {
  let s = r.proto?.inv ? '!' : ' ';
  const pn = r.proto === undefined ? 'all' : (nameOf(PROTOCOLS, r.proto.num) ?? String(r.proto.num));
  s += pn.padEnd(5);
  s += (r.frag?.inv ? '!' : '-') + (r.frag ? 'f' : '-') + ' ';
  if (verbose) {
    const ifc = (x: Iface | undefined) => (x === undefined ? (numeric ? '*' : 'any') : `${x.inv ? '!' : ''}${x.name}`);
    s += ` ${ifc(r.iif).padEnd(6)} ${ifc(r.oif).padEnd(6)} `;
  }
  s += (r.src?.inv ? '!' : ' ') + listAddr(r.src, numeric).padEnd(19) + ' ';
  s += (r.dst?.inv ? '!' : ' ') + listAddr(r.dst, numeric).padEnd(19) + ' ';
  return s;
}
