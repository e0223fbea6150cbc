/**
 * What the four NAT targets share (libxt_NAT.c's parse_to/parse_ports/__NAT_print, the kernel's
 * `struct nf_nat_range2` and its NF_NAT_RANGE_* flags): the range a rule maps to, its parse,
 * its `-S`/`-L` text, and the compiled code that hands it to the NAT core through NfPacket.
 * The targets only choose a range; src/ipv4/nat/ turns it into a unique tuple (nf_nat_setup_info).
 */

import { formatIPv4, tryParseIPv4 } from '../../../wire/addr.ts';
import { NF_ACCEPT } from '../packet.ts';
import { fail, SERVICES, type Opt, type OptCall, type Rule, type Target } from '../xt.ts';

// include/uapi/linux/netfilter/nf_nat.h
export const NF_NAT_RANGE_MAP_IPS = 1;
export const NF_NAT_RANGE_PROTO_SPECIFIED = 2;
export const NF_NAT_RANGE_PROTO_RANDOM = 4;
export const NF_NAT_RANGE_PERSISTENT = 8;
export const NF_NAT_RANGE_PROTO_RANDOM_FULLY = 16;
export const NF_NAT_RANGE_PROTO_RANDOM_ALL = NF_NAT_RANGE_PROTO_RANDOM | NF_NAT_RANGE_PROTO_RANDOM_FULLY;

/** NfPacket.natKind: which target chose the range (0: none ran). */
export const NAT_SNAT = 1;
export const NAT_DNAT = 2;
export const NAT_MASQUERADE = 3;
export const NAT_REDIRECT = 4;

declare module '../xt.ts' {
  interface Target {
    /** The range (nf_nat_range2): addresses host-order u32, ports, NF_NAT_RANGE_* flags. */
    natMinIp?: number;
    natMaxIp?: number;
    natMinPort?: number;
    natMaxPort?: number;
    natFlags?: number;
  }
}

export const natInit = (kind: string): Target => ({ kind, natMinIp: 0, natMaxIp: 0, natMinPort: 0, natMaxPort: 0, natFlags: 0 });

/** libxt_NAT's portok: ports (or ICMP ids) need a protocol that has them. */
function portOk(r: Rule): boolean {
  const p = r.proto;
  return p !== undefined && !p.inv && (p.num === 6 || p.num === 17 || p.num === 132 || p.num === 33 || p.num === 1);
}

function port(word: string, services: boolean): number {
  if (/^\d+$/.test(word) && Number(word) <= 65535) return Number(word);
  if (services && SERVICES[word] !== undefined) return SERVICES[word];
  return fail(`Port "${word}" not valid`);
}

/** parse_ports: P or P-Q (no service names in a range), into t. */
export function parsePorts(arg: string, r: Rule): void {
  if (!portOk(r)) fail(`Need TCP, UDP, SCTP or DCCP with port specification ("${arg}" needs -p tcp or -p udp before -j)`);
  const t = r.target;
  if (arg.includes(':')) fail(`Invalid port:port syntax - use dash: "${arg}"`);
  if (arg.includes('/')) fail(`Shifted portmap ranges are not supported by softnet: "${arg}"`);
  const dash = arg.indexOf('-');
  if (dash < 0) {
    t.natMinPort = t.natMaxPort = port(arg, true);
  } else {
    const lo = port(arg.slice(0, dash), false);
    const hi = port(arg.slice(dash + 1), false);
    if (hi < lo) fail(`Port range "${arg}" funky (${hi} < ${lo})`);
    t.natMinPort = lo;
    t.natMaxPort = hi;
  }
  t.natFlags! |= NF_NAT_RANGE_PROTO_SPECIFIED;
}

/** parse_to: [A[-B]][:P[-Q]] into t (at least one of the two parts). */
export function parseTo(arg: string, r: Rule): void {
  const t = r.target;
  const colon = arg.indexOf(':');
  if (colon >= 0) parsePorts(arg.slice(colon + 1), r);
  const ips = colon >= 0 ? arg.slice(0, colon) : arg;
  if (ips === '') {
    if (colon < 0) fail(`Bad IP address "" (expected A[-B][:P[-Q]])`);
    return;
  }
  const dash = ips.indexOf('-');
  const lo = tryParseIPv4(dash < 0 ? ips : ips.slice(0, dash));
  if (lo === null) fail(`Bad IP address "${dash < 0 ? ips : ips.slice(0, dash)}"`);
  const hi = dash < 0 ? lo : tryParseIPv4(ips.slice(dash + 1));
  if (hi === null) fail(`Bad IP address "${ips.slice(dash + 1)}"`);
  if (hi! >>> 0 < lo! >>> 0) fail(`Bad IP address range "${ips}" (${formatIPv4(hi!)} < ${formatIPv4(lo!)})`);
  t.natMinIp = lo! >>> 0;
  t.natMaxIp = hi! >>> 0;
  t.natFlags! |= NF_NAT_RANGE_MAP_IPS;
}

/** An option that may appear once (libxtables' words for it). */
function onceOpt(c: OptCall, seen: (t: Target) => boolean): void {
  if (seen(c.rule.target)) fail(`${c.rule.target.kind}: option "${c.opt}" can only be used once.`);
}

const hasTo = (t: Target) => (t.natFlags! & (NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED)) !== 0;

/** SNAT's --to-source, DNAT's --to-destination: A[-B][:P[-Q]], once. */
export const toOpt = (name: string): Opt => ({
  names: [name],
  noInv: true,
  parse: (c) => {
    onceOpt(c, hasTo);
    parseTo(c.arg(), c.rule);
  },
});

/** SNAT/DNAT's final check: their --to option is mandatory (XTOPT_MAND). */
export const toRequired = (name: string) => (r: Rule) => {
  if (!hasTo(r.target)) fail(`${r.target.kind}: option "${name}" must be specified`);
};

/** MASQUERADE and REDIRECT's --to-ports P[-Q], once. */
export const toPortsOpt: Opt = {
  names: ['--to-ports'],
  noInv: true,
  parse: (c) => {
    onceOpt(c, (t) => (t.natFlags! & NF_NAT_RANGE_PROTO_SPECIFIED) !== 0);
    parsePorts(c.arg(), c.rule);
  },
};

export const flagOpt = (name: string, flag: number): Opt => ({
  names: [name],
  noInv: true,
  parse: (c: OptCall) => {
    c.rule.target.natFlags! |= flag;
  },
});

/** sprint_range: A[-B][:P[-Q]] ('' when neither part is set); skipColon for MASQUERADE/REDIRECT's bare ports. */
function rangeText(t: Target, skipColon: boolean): string {
  const f = t.natFlags!;
  let s = '';
  if (f & NF_NAT_RANGE_MAP_IPS) s += formatIPv4(t.natMinIp!) + (t.natMaxIp !== t.natMinIp ? `-${formatIPv4(t.natMaxIp!)}` : '');
  if (f & NF_NAT_RANGE_PROTO_SPECIFIED) s += (s === '' && skipColon ? '' : ':') + t.natMinPort + (t.natMaxPort !== t.natMinPort ? `-${t.natMaxPort}` : '');
  return s;
}

/** __NAT_print: ` <rangeopt><range>` then the flags, with `--` before them for -S (save) and not for -L (print). */
export function natText(t: Target, rangeOpt: string, save: boolean, skipColon: boolean): string {
  const r = rangeText(t, skipColon);
  const pfx = save ? '--' : '';
  const f = t.natFlags!;
  let s = r === '' ? '' : ` ${rangeOpt}${r}`;
  if (f & NF_NAT_RANGE_PROTO_RANDOM) s += ` ${pfx}random`;
  if (f & NF_NAT_RANGE_PROTO_RANDOM_FULLY) s += ` ${pfx}random-fully`;
  if (f & NF_NAT_RANGE_PERSISTENT) s += ` ${pfx}persistent`;
  return s;
}

export const NAT_SLOTS = ['minIp', 'maxIp', 'ports', 'flags'] as const;
export const natCompile = (t: Target): readonly number[] => [t.natMinIp! | 0, t.natMaxIp! | 0, (t.natMinPort! << 16) | t.natMaxPort!, t.natFlags!];

/** The compiled target: hand the range to the NAT core (it reads p.nat* after the nat chain) and stop the chain. */
export const natCode = (kind: number) =>
  `p.natKind = ${kind}; p.natFlags = $flags; p.natMinIp = $minIp >>> 0; p.natMaxIp = $maxIp >>> 0; p.natMinPort = $ports >>> 16; p.natMaxPort = $ports & 0xffff; return ${NF_ACCEPT};`;
