/**
 * The extension interface (libxtables' `struct xtables_match`/`xtables_target` and the kernel's
 * `xt_match`/`xt_target` in one): a match or target module holds its options and their parse,
 * its `-S` and `-L` text, and the code it adds to the compiled rule program. The Rule and Target
 * types start here with the generic fields; each module declares the fields it owns with
 * `declare module '../xt.ts'`, so adding a match touches its own file and its line in
 * extensions.ts. Also here: the helpers several modules share (libxtables' parse/print helpers).
 */

import type { NfPacket } from './packet.ts';

/** One rule: the generic part; the ip part and each match declare their own (optional) fields. */
export interface Rule {
  target: Target;
  pkts: number;
  bytes: number;
}

/** The rule's target: `kind` names its module (NONE: no -j), the module declares its fields. */
export interface Target {
  kind: string;
  /** JUMP/GOTO: the user chain (tables, jump checks and renames read it too). */
  chain?: string;
}

/** What an option's parser gets (libxtables' `struct xt_option_call`). */
export interface OptCall {
  /** The option as typed (`--dport`, `--destination-port`), for messages. */
  readonly opt: string;
  /** A `!` came before it. */
  readonly inv: boolean;
  readonly rule: Rule;
  /** Takes the option's argument; fails with `option "X" requires an argument` at the end of the line. */
  arg(): string;
}

export interface Opt {
  /** Its spellings, short and long. */
  names: readonly string[];
  /** A `!` before it is an error (`"!" cannot be used with ...`). */
  noInv?: boolean;
  parse(c: OptCall): void;
}

/**
 * One test in the compiled program (the kernel's `match()` callback, as JS source). The rule's
 * constants live in int32 slots of its record; the code reads them as `$slot`. In scope:
 * `p` (NfPacket), `x` (the program's aux Int32Array), `r` (rule index), `prog` (the Program:
 * `prog.rules[r]`, `prog.host`) and the test's `helpers` by name. Each test gets one flag bit
 * and one negation bit; the rule matches when, for every test it has, `guard && (test !== !)`.
 */
export interface Test {
  slots: readonly string[];
  /** Slot values for r and whether `!` negates it, or undefined when r has no such test. Control plane. */
  compile(r: Rule, aux: number[]): { inv: boolean; v: readonly number[] } | undefined;
  /** Must hold whatever `!` says (a header to look at: a later fragment has no ports). */
  guard?: string;
  /** The condition that `!` negates. */
  test: string;
  /** Tested first, in the small part V8 inlines into the traversal (addresses, protocol). */
  hot?: boolean;
  helpers?: Record<string, Function>;
}

export interface Match {
  /** What `-m NAME` loads; undefined for the built-in ip part, always loaded. */
  name?: string;
  /** A positive `-p` of this protocol loads it implicitly (as iptables does); `-m NAME` needs that `-p`. */
  proto?: number;
  /** Other checks when `-m NAME` loads it. */
  load?(r: Rule): void;
  /** A rule using it needs connection tracking (xt_conntrack's checkentry takes nf_ct_netns_get). */
  conntrack?: boolean;
  options: readonly Opt[];
  /** Its `iptables -S` words for r ('' when r does not use it). Canonical: -D/-C compare rules by it. */
  spec(r: Rule): string;
  /** Its `iptables -L` text after the address columns (' udp dpt:53'; '' when r does not use it). */
  list?(r: Rule, numeric: boolean): string;
  tests?: readonly Test[];
}

export interface TargetExt {
  /** The Target.kind it handles. */
  kind: string;
  /** `-j NAME` selects it (Target.kind === name); JUMP, GOTO and NONE have none. */
  name?: string;
  /** The id the traversal itself interprets (standard.ts), or undefined: `code` runs. */
  builtin?: number;
  /** Tables it is valid in (ipt_REJECT's `.table = "filter"`). */
  table?: string;
  /** A rule with it needs connection tracking (CT, and the NAT targets). */
  conntrack?: boolean;
  /** Hooks it may be reached from, 1 << NF_INET_* bits (xt_target's `.hooks`); any when undefined. */
  hooks?: number;
  options?: readonly Opt[];
  /** The Target `-j NAME` starts with (defaults). */
  init?(): Target;
  /** After the whole line (libxtables' final_check). */
  check?(r: Rule): void;
  /** Its `iptables -S` text ('-j REJECT --reject-with ...'). */
  spec(t: Target): string;
  /** Its `iptables -L` text after the matches. */
  list?(t: Target): string;
  /** Int32 slots of the rule record, shared by all targets (a rule has one); `$slot` in code. */
  slots?: readonly string[];
  compile?(t: Target, chainId: (name: string) => number): readonly number[];
  /** JS statements run when the rule matches: `return` a verdict, or fall through to the next rule. Same scope as Test. */
  code?: string;
  helpers?: Record<string, Function>;
}

/** The slow-path services the compiled code calls back into (the Netfilter owning the program). */
export interface Host {
  devName(i: number): string;
  log(rule: Rule, p: NfPacket): void;
}

export class IptablesError extends Error {}
export const fail = (msg: string): never => {
  throw new IptablesError(`iptables: ${msg}`);
};

/** Fails when an option that may appear once already set its field. */
export function once(v: unknown, opt: string): void {
  if (v !== undefined) fail(`multiple "${opt}" options not allowed`);
}

export function nameOf(table: Record<string, number>, v: number): string | undefined {
  for (const k in table) if (table[k] === v) return k;
  return undefined;
}

export const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
export const neg = (inv: boolean) => (inv ? '! ' : '');
export const portText = (lo: number, hi: number) => (lo === hi ? `${lo}` : `${lo}:${hi}`);

/** Quotes a -S argument when it needs it (--comment, --log-prefix). */
export function quote(s: string): string {
  return /^[\w.:,/@+-]+$/.test(s) ? s : `"${s.replace(/"/g, '\\"')}"`;
}

export function parseU32(word: string, what: string): number {
  const n = /^0x[0-9a-f]+$/i.test(word) || /^\d+$/.test(word) ? Number(word) : NaN;
  if (!(n >= 0 && n <= 0xffffffff)) fail(`Bad ${what} value "${word}"`);
  return n;
}

/** A few /etc/services names, so `--dport ssh` works without reading files. */
export const SERVICES: Record<string, number> = {
  ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, bootps: 67, bootpc: 68, tftp: 69, http: 80, www: 80,
  pop3: 110, ntp: 123, imap: 143, snmp: 161, bgp: 179, https: 443, syslog: 514,
};

function parsePort(word: string, opt: string): number {
  if (/^\d+$/.test(word)) {
    const n = Number(word);
    if (n <= 65535) return n;
  } else if (SERVICES[word] !== undefined) return SERVICES[word];
  return fail(`Bad port "${word}" for ${opt} (expected 0..65535 or a service name)`);
}

export interface Range {
  lo: number;
  hi: number;
  inv: boolean;
}

/** PORT, LO:HI, :HI or LO: (xtables_parse_port and the tcp match's range syntax). */
export function parsePortRange(word: string, opt: string, inv: boolean): Range {
  const parts = word.split(':');
  if (parts.length > 2) fail(`Bad port range "${word}" for ${opt}`);
  const lo = parts[0] === '' ? 0 : parsePort(parts[0], opt);
  const hi = parts.length === 1 ? lo : parts[1] === '' ? 65535 : parsePort(parts[1], opt);
  if (lo > hi) fail(`Bad port range "${word}" for ${opt}: ${lo} > ${hi}`);
  return { lo, hi, inv };
}
