/**
 * iptables command lines: the tokenizer and the generic parse (table, command, chain, rule
 * number, -m, -j/-g), which hands every other option to the extension that owns it (xt.ts,
 * extensions.ts) as iptables' do_command4 does. Control plane only; errors name the offending word.
 */

import { matchByName, MATCHES, TARGETS, targetByName, targetOf, UNSUPPORTED_TARGETS } from './extensions.ts';
import { ip, positiveProto } from './match/ip.ts';
import { fail, type Match, type Opt, type Rule } from './xt.ts';

export { IptablesError } from './xt.ts';
export type { Rule, Target } from './xt.ts';

export type CommandKind = 'A' | 'C' | 'I' | 'D' | 'R' | 'L' | 'S' | 'F' | 'Z' | 'P' | 'N' | 'X' | 'E';

export interface Command {
  table: string;
  cmd: CommandKind;
  chain?: string;
  /** -I/-D/-R rule number (1-based), -D by number when set. */
  num?: number;
  /** -P policy, -E new name. */
  arg?: string;
  rule?: Rule;
  verbose: boolean;
  numeric: boolean;
  exact: boolean;
  lineNumbers: boolean;
}

/** Splits a command line, honouring "double" and 'single' quotes (for --log-prefix, --comment). */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inTok = false;
  let q = '';
  for (const ch of line) {
    if (q !== '') {
      if (ch === q) q = '';
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      q = ch;
      inTok = true;
    } else if (ch === ' ' || ch === '\t' || ch === '\n') {
      if (inTok) out.push(cur);
      cur = '';
      inTok = false;
    } else {
      cur += ch;
      inTok = true;
    }
  }
  if (q !== '') fail(`unterminated quote in "${line}"`);
  if (inTok) out.push(cur);
  return out;
}

const LONG_CMDS: Record<string, CommandKind> = {
  '--append': 'A', '--check': 'C', '--insert': 'I', '--delete': 'D', '--replace': 'R', '--list': 'L', '--list-rules': 'S',
  '--flush': 'F', '--zero': 'Z', '--policy': 'P', '--new-chain': 'N', '--delete-chain': 'X', '--rename-chain': 'E',
};
const FLAG_LETTERS = new Set(['n', 'v', 'x', 'L', 'S', 'F', 'Z', 'X']);

function parseNum(word: string, what: string, max: number): number {
  if (!/^\d+$/.test(word) || Number(word) > max) fail(`invalid ${what} "${word}"`);
  return Number(word);
}

function checkChainName(name: string): void {
  if (name.length === 0 || name.length > 28 || name.startsWith('-') || name.startsWith('!') || /\s/.test(name)) {
    fail(`Invalid chain name "${name}" (1..28 characters, not starting with "-" or "!")`);
  }
}

/** The words of a line: a leading `iptables` dropped, bundled flags split (-nvL -> -n -v -L). */
function words(line: string): string[] {
  let w = tokenize(line);
  if (w[0] === 'iptables') w = w.slice(1);
  return w.flatMap((x) => (/^-[a-zA-Z]{2,}$/.test(x) && [...x.slice(1)].every((c) => FLAG_LETTERS.has(c)) ? [...x.slice(1)].map((c) => `-${c}`) : [x]));
}

/** The arguments of command k: its chain, rule number, policy or new name. */
function commandArgs(c: Command, k: CommandKind, w: string, next: (opt: string) => string, optional: () => string | undefined): void {
  switch (k) {
    case 'A':
    case 'C':
      c.chain = next(w);
      break;
    case 'I': {
      c.chain = next(w);
      const n = optional();
      c.num = n === undefined ? 1 : parseNum(n, 'rule number', 1 << 30);
      if (c.num < 1) fail(`invalid rule number "${n}"`);
      break;
    }
    case 'D': {
      c.chain = next(w);
      const n = optional();
      if (n !== undefined) c.num = parseNum(n, 'rule number', 1 << 30);
      break;
    }
    case 'R':
      c.chain = next(w);
      c.num = parseNum(next(w), 'rule number', 1 << 30);
      break;
    case 'L':
    case 'S':
    case 'F':
    case 'Z':
    case 'X':
      c.chain = optional();
      break;
    case 'P':
      c.chain = next(w);
      c.arg = next(w);
      break;
    case 'N':
      c.chain = next(w);
      checkChainName(c.chain);
      break;
    case 'E':
      c.chain = next(w);
      c.arg = next(w);
      checkChainName(c.arg);
      break;
  }
}

const optionOf = (opts: readonly Opt[] | undefined, w: string) => opts?.find((o) => o.names.includes(w));

/**
 * The option w of a loaded extension: the ip part, the target, the -m matches, then the match
 * of a positive -p, which it loads (`-p tcp --dport 22` needs no `-m tcp`, as in iptables).
 */
function findOption(w: string, r: Rule, loaded: Set<Match>): Opt | undefined {
  const o = optionOf(ip.options, w) ?? optionOf(targetOf(r.target).options, w);
  if (o !== undefined) return o;
  for (const m of loaded) {
    const mo = optionOf(m.options, w);
    if (mo !== undefined) return mo;
  }
  const pm = MATCHES.find((m) => m.proto !== undefined && m.proto === positiveProto(r));
  const po = pm === undefined ? undefined : optionOf(pm.options, w);
  if (po !== undefined) loaded.add(pm!);
  return po;
}

/** The error for an option no loaded extension has, naming what would load it. */
function unknownOption(w: string, r: Rule, inv: boolean): never {
  const owners = MATCHES.filter((m) => optionOf(m.options, w) !== undefined);
  const m = owners.find((x) => x.proto !== undefined && x.proto === r.proto?.num) ?? owners[0];
  if (m !== undefined) {
    if (inv && optionOf(m.options, w)!.noInv) fail(`"!" cannot be used with "${w}"`);
    fail(`unknown option "${w}" (it needs "${m.proto !== undefined ? '-p' : '-m'} ${m.name}" before it)`);
  }
  const t = TARGETS.find((x) => optionOf(x.options, w) !== undefined);
  if (t !== undefined) fail(`unknown option "${w}" (it belongs to "-j ${t.name}", after it)`);
  return fail(w.startsWith('-') ? `unknown option "${w}"` : `Bad argument "${w}"`);
}

function loadMatch(name: string, r: Rule, loaded: Set<Match>): void {
  const m = matchByName.get(name);
  if (m === undefined) fail(`Couldn't load match "${name}" (supported: ${[...matchByName.keys()].join(', ')})`);
  if (m!.proto !== undefined && positiveProto(r) !== m!.proto) fail(`match "${name}" needs "-p ${name}" before it`);
  m!.load?.(r);
  loaded.add(m!);
}

function setTarget(r: Rule, name: string, goto: boolean): void {
  if (goto) {
    r.target = { kind: 'GOTO', chain: name };
    return;
  }
  const t = targetByName.get(name);
  if (t !== undefined) r.target = t.init!();
  else if (UNSUPPORTED_TARGETS.includes(name)) fail(`target "${name}" is not supported by softnet`);
  else r.target = { kind: 'JUMP', chain: name };
}

/**
 * Parses one iptables command (a leading `iptables` word is allowed). Match options need their
 * match loaded (`-m tcp`, or implicitly by `-p tcp|udp|icmp`); target options need their target.
 */
export function parseCommand(line: string): Command {
  const ws = words(line);
  const c: Command = { table: 'filter', cmd: 'L', verbose: false, numeric: false, exact: false, lineNumbers: false };
  const r: Rule = { target: { kind: 'NONE' }, pkts: 0, bytes: 0 };
  const loaded = new Set<Match>();
  let haveCmd = false;
  let ruleOpts = 0;
  let inv = false;
  let i = 0;
  const next = (opt: string): string => {
    const w = ws[i++];
    if (w === undefined) fail(`option "${opt}" requires an argument`);
    return w;
  };
  const optional = (): string | undefined => (ws[i] !== undefined && !ws[i].startsWith('-') && ws[i] !== '!' ? ws[i++] : undefined);

  while (i < ws.length) {
    const w = ws[i++];
    if (w === '!') {
      if (inv) fail('multiple "!" flags not allowed');
      inv = true;
      continue;
    }
    const wasInv = inv;
    inv = false;
    const noInv = () => {
      if (wasInv) fail(`"!" cannot be used with "${w}"`);
    };
    const k = /^-[ACIDRLSFZPNXE]$/.test(w) ? (w[1] as CommandKind) : LONG_CMDS[w];
    if (k !== undefined) {
      noInv();
      if (haveCmd) fail(`only one command at a time: "${w}" after -${c.cmd}`);
      haveCmd = true;
      c.cmd = k;
      commandArgs(c, k, w, next, optional);
      continue;
    }
    if (w === '-t' || w === '--table') {
      noInv();
      c.table = next(w);
    } else if (w === '-v' || w === '--verbose') c.verbose = true;
    else if (w === '-n' || w === '--numeric') c.numeric = true;
    else if (w === '-x' || w === '--exact') c.exact = true;
    else if (w === '--line-numbers') c.lineNumbers = true;
    else {
      ruleOpts++;
      if (w === '-m' || w === '--match') {
        noInv();
        loadMatch(next(w), r, loaded);
      } else if (w === '-j' || w === '--jump' || w === '-g' || w === '--goto') {
        noInv();
        if (r.target.kind !== 'NONE') fail(`multiple "-j" options not allowed`);
        setTarget(r, next(w), w === '-g' || w === '--goto');
      } else {
        const o = findOption(w, r, loaded) ?? unknownOption(w, r, wasInv);
        if (o.noInv) noInv();
        o.parse({ opt: w, inv: wasInv, rule: r, arg: () => next(w) });
      }
    }
  }
  if (inv) fail('"!" at the end of the line, with nothing to negate');
  if (!haveCmd) fail('no command specified (-A, -C, -I, -D, -R, -L, -S, -F, -Z, -P, -N, -X or -E)');
  targetOf(r.target).check?.(r);
  const takesRule = c.cmd === 'A' || c.cmd === 'C' || c.cmd === 'I' || c.cmd === 'R' || (c.cmd === 'D' && c.num === undefined);
  if (takesRule) c.rule = r;
  else if (ruleOpts > 0) fail(`rule options are not allowed with -${c.cmd}`);
  return c;
}
