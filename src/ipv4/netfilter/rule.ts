/**
 * iptables command lines: tokenizer and parser (into a Command with a Rule); printers are in
 * format.ts. Control plane only; errors name the offending word.
 */

import { parseCidr } from '../addr.ts';
import { ICMP_TYPES, nameOf, PROTOCOLS, REJECT_ALIASES, REJECT_WITH, SERVICES, TCP_FLAGS } from './names.ts';
import { REJECT_PORT_UNREACH, REJECT_TCP_RESET } from './packet.ts';

export interface Range {
  lo: number;
  hi: number;
  inv: boolean;
}

export type TargetKind = 'NONE' | 'ACCEPT' | 'DROP' | 'RETURN' | 'REJECT' | 'LOG' | 'MARK' | 'JUMP' | 'GOTO';

export interface Target {
  kind: TargetKind;
  /** JUMP/GOTO: the user chain. */
  chain?: string;
  /** REJECT: ICMP unreachable code or REJECT_TCP_RESET. */
  rejectWith?: number;
  logPrefix?: string;
  logLevel?: number;
  /** MARK: new = (old & ~markMask) ^ markValue (xt_MARK's xset). */
  markValue?: number;
  markMask?: number;
}

export interface Rule {
  src?: { addr: number; len: number; inv: boolean };
  dst?: { addr: number; len: number; inv: boolean };
  iif?: { name: string; inv: boolean };
  oif?: { name: string; inv: boolean };
  proto?: { num: number; inv: boolean };
  frag?: { inv: boolean };
  sport?: Range;
  dport?: Range;
  tcpFlags?: { mask: number; comp: number; inv: boolean };
  icmp?: { type: number; lo: number; hi: number; inv: boolean };
  multiport?: { dir: 'sports' | 'dports' | 'ports'; list: Array<[number, number]>; inv: boolean };
  length?: Range;
  mark?: { value: number; mask: number; inv: boolean };
  comment?: string;
  target: Target;
  pkts: number;
  bytes: number;
}

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

export class IptablesError extends Error {}
const fail = (msg: string): never => {
  throw new IptablesError(`iptables: ${msg}`);
};

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

function parseU32(word: string, what: string): number {
  const n = /^0x[0-9a-f]+$/i.test(word) || /^\d+$/.test(word) ? Number(word) : NaN;
  if (!(n >= 0 && n <= 0xffffffff)) fail(`Bad ${what} value "${word}"`);
  return n;
}

function parsePort(word: string, opt: string): number {
  if (/^\d+$/.test(word)) {
    const n = Number(word);
    if (n <= 65535) return n;
  } else if (SERVICES[word] !== undefined) return SERVICES[word];
  return fail(`Bad port "${word}" for ${opt} (expected 0..65535 or a service name)`);
}

function parsePortRange(word: string, opt: string, inv: boolean): Range {
  const parts = word.split(':');
  if (parts.length > 2) fail(`Bad port range "${word}" for ${opt}`);
  const lo = parts[0] === '' ? 0 : parsePort(parts[0], opt);
  const hi = parts.length === 1 ? lo : parts[1] === '' ? 65535 : parsePort(parts[1], opt);
  if (lo > hi) fail(`Bad port range "${word}" for ${opt}: ${lo} > ${hi}`);
  return { lo, hi, inv };
}

function parseTcpFlagList(word: string, opt: string): number {
  let v = 0;
  for (const f of word.split(',')) {
    const b = TCP_FLAGS[f.toUpperCase()];
    if (b === undefined) fail(`Unknown TCP flag "${f}" in ${opt} (FIN,SYN,RST,PSH,ACK,URG,ALL,NONE)`);
    v |= b;
  }
  return v;
}

function parseIcmpType(word: string, inv: boolean): { type: number; lo: number; hi: number; inv: boolean } {
  const named = ICMP_TYPES[word];
  if (named !== undefined) return { type: named[0], lo: named[1], hi: named[2], inv };
  const m = /^(\d{1,3})(?:\/(\d{1,3}))?$/.exec(word);
  if (m === null || Number(m[1]) > 255 || (m[2] !== undefined && Number(m[2]) > 255)) {
    return fail(`Invalid ICMP type "${word}" for --icmp-type (a name from iptables -p icmp -h, or TYPE[/CODE])`);
  }
  const code = m[2] === undefined ? -1 : Number(m[2]);
  return { type: Number(m[1]), lo: code < 0 ? 0 : code, hi: code < 0 ? 255 : code, inv };
}

function parseIface(word: string, opt: string, inv: boolean): { name: string; inv: boolean } {
  if (word.length === 0 || word.length > 15 || /[\s/]/.test(word) || word.slice(0, -1).includes('+')) {
    fail(`Bad interface name "${word}" for ${opt} (at most 15 characters, "+" only as a trailing wildcard)`);
  }
  return { name: word, inv };
}

function checkChainName(name: string): void {
  if (name.length === 0 || name.length > 28 || name.startsWith('-') || name.startsWith('!') || /\s/.test(name)) {
    fail(`Invalid chain name "${name}" (1..28 characters, not starting with "-" or "!")`);
  }
}

/**
 * Parses one iptables command (a leading `iptables` word is allowed). Module options need their
 * module (`-m tcp` etc., loaded implicitly by `-p tcp|udp|icmp` as iptables does); target
 * options need their target.
 */
export function parseCommand(line: string): Command {
  let words = tokenize(line);
  if (words[0] === 'iptables') words = words.slice(1);
  // Bundled flags: -nvL -> -n -v -L
  words = words.flatMap((w) => (/^-[a-zA-Z]{2,}$/.test(w) && [...w.slice(1)].every((c) => FLAG_LETTERS.has(c)) ? [...w.slice(1)].map((c) => `-${c}`) : [w]));
  const c: Command = { table: 'filter', cmd: 'L', verbose: false, numeric: false, exact: false, lineNumbers: false };
  let haveCmd = false;
  const r: Rule = { target: { kind: 'NONE' }, pkts: 0, bytes: 0 };
  let ruleOpts = 0;
  const modules = new Set<string>();
  let inv = false;
  let i = 0;
  const next = (opt: string): string => {
    const w = words[i++];
    if (w === undefined) fail(`option "${opt}" requires an argument`);
    return w;
  };
  const optional = (): string | undefined => (words[i] !== undefined && !words[i].startsWith('-') && words[i] !== '!' ? words[i++] : undefined);
  const setCmd = (k: CommandKind, w: string) => {
    if (haveCmd) fail(`only one command at a time: "${w}" after -${c.cmd}`);
    haveCmd = true;
    c.cmd = k;
  };
  const needModule = (mod: string, opt: string) => {
    if (modules.has(mod)) return;
    // implicit load: -p tcp lets --dport through without -m tcp
    const pn = r.proto !== undefined && !r.proto.inv ? nameOf(PROTOCOLS, r.proto.num) : undefined;
    if (pn === mod) {
      modules.add(mod);
      return;
    }
    fail(`unknown option "${opt}"` + (mod === 'tcp' || mod === 'udp' || mod === 'icmp' ? ` (it needs "-p ${mod}" before it)` : ` (it needs "-m ${mod}" before it)`));
  };
  const needTarget = (kind: TargetKind, opt: string) => {
    if (r.target.kind !== kind) fail(`unknown option "${opt}" (it belongs to "-j ${kind}", after it)`);
  };
  const once = <T>(v: T | undefined, opt: string) => {
    if (v !== undefined) fail(`multiple "${opt}" options not allowed`);
  };

  while (i < words.length) {
    const w = words[i++];
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
    const long = LONG_CMDS[w];
    const short = /^-[ACIDRLSFZPNXE]$/.test(w) ? (w[1] as CommandKind) : long;
    if (short !== undefined) {
      noInv();
      setCmd(short, w);
      switch (short) {
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
        case 'R': {
          c.chain = next(w);
          c.num = parseNum(next(w), 'rule number', 1 << 30);
          break;
        }
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
      continue;
    }
    ruleOpts++;
    switch (w) {
      case '-t':
      case '--table':
        noInv();
        ruleOpts--;
        c.table = next(w);
        break;
      case '-v':
      case '--verbose':
        ruleOpts--;
        c.verbose = true;
        break;
      case '-n':
      case '--numeric':
        ruleOpts--;
        c.numeric = true;
        break;
      case '-x':
      case '--exact':
        ruleOpts--;
        c.exact = true;
        break;
      case '--line-numbers':
        ruleOpts--;
        c.lineNumbers = true;
        break;
      case '-s':
      case '--source':
      case '--src':
      case '-d':
      case '--destination':
      case '--dst': {
        const a = next(w);
        let cidr;
        try {
          cidr = parseCidr(a);
        } catch {
          return fail(`host/network "${a}" not found for ${w} (expected a.b.c.d[/len])`);
        }
        const v = { addr: cidr.prefix, len: cidr.len, inv: wasInv };
        if (w.startsWith('-s') || w === '--source' || w === '--src') {
          once(r.src, w);
          r.src = v;
        } else {
          once(r.dst, w);
          r.dst = v;
        }
        break;
      }
      case '-i':
      case '--in-interface':
        once(r.iif, w);
        r.iif = parseIface(next(w), w, wasInv);
        break;
      case '-o':
      case '--out-interface':
        once(r.oif, w);
        r.oif = parseIface(next(w), w, wasInv);
        break;
      case '-p':
      case '--protocol': {
        once(r.proto, w);
        const p = next(w).toLowerCase();
        let num = PROTOCOLS[p];
        if (num === undefined) {
          if (/^\d+$/.test(p) && Number(p) <= 255) num = Number(p);
          else fail(`unknown protocol "${p}" specified for ${w} (tcp, udp, icmp, all or a number 0..255)`);
        }
        if (num === 0 && wasInv) fail('rule would never match protocol ("! -p all")');
        r.proto = { num, inv: wasInv };
        break;
      }
      case '-f':
      case '--fragment':
        once(r.frag, w);
        r.frag = { inv: wasInv };
        break;
      case '-m':
      case '--match': {
        noInv();
        const m = next(w);
        if (!['tcp', 'udp', 'icmp', 'multiport', 'length', 'mark', 'comment'].includes(m)) {
          fail(`Couldn't load match "${m}" (supported: tcp, udp, icmp, multiport, length, mark, comment)`);
        }
        if ((m === 'tcp' || m === 'udp' || m === 'icmp') && (r.proto === undefined || r.proto.inv || r.proto.num !== PROTOCOLS[m])) {
          fail(`match "${m}" needs "-p ${m}" before it`);
        }
        if (m === 'multiport' && (r.proto === undefined || r.proto.inv || (r.proto.num !== 6 && r.proto.num !== 17))) {
          fail('multiport needs "-p tcp" or "-p udp" before it');
        }
        modules.add(m);
        break;
      }
      case '--sport':
      case '--source-port':
      case '--dport':
      case '--destination-port': {
        const mod = modules.has('tcp') ? 'tcp' : modules.has('udp') ? 'udp' : r.proto?.num === 17 ? 'udp' : 'tcp';
        needModule(mod, w);
        const range = parsePortRange(next(w), w, wasInv);
        if (w === '--sport' || w === '--source-port') {
          once(r.sport, w);
          r.sport = range;
        } else {
          once(r.dport, w);
          r.dport = range;
        }
        break;
      }
      case '--tcp-flags':
      case '--syn': {
        needModule('tcp', w);
        once(r.tcpFlags, '--tcp-flags/--syn');
        if (w === '--syn') r.tcpFlags = { mask: 0x17, comp: 0x02, inv: wasInv };
        else {
          const mask = parseTcpFlagList(next(w), w);
          r.tcpFlags = { mask, comp: parseTcpFlagList(next(w), w), inv: wasInv };
        }
        break;
      }
      case '--icmp-type':
        needModule('icmp', w);
        once(r.icmp, w);
        r.icmp = parseIcmpType(next(w), wasInv);
        break;
      case '--dports':
      case '--sports':
      case '--ports':
      case '--destination-ports':
      case '--source-ports': {
        needModule('multiport', w);
        once(r.multiport, 'multiport ports');
        const dir = w === '--ports' ? 'ports' : w.startsWith('--d') ? 'dports' : 'sports';
        const word = next(w);
        const list: Array<[number, number]> = [];
        let slots = 0;
        for (const part of word.split(',')) {
          const range = parsePortRange(part, w, false);
          list.push([range.lo, range.hi]);
          slots += range.lo === range.hi ? 1 : 2;
        }
        if (slots > 15) fail(`too many ports in "${word}" for ${w} (at most 15; a range counts as 2)`);
        r.multiport = { dir, list, inv: wasInv };
        break;
      }
      case '--length': {
        needModule('length', w);
        once(r.length, w);
        const word = next(w);
        const m = /^(\d+)?(?::(\d+)?)?$/.exec(word);
        const lo = m?.[1] === undefined ? 0 : Number(m[1]);
        const hi = m === null ? -1 : word.includes(':') ? (m[2] === undefined ? 65535 : Number(m[2])) : lo;
        if (m === null || word === '' || hi > 65535 || lo > hi) fail(`Bad length "${word}" for --length (LEN or MIN:MAX, 0..65535)`);
        r.length = { lo, hi, inv: wasInv };
        break;
      }
      case '--mark': {
        if (r.target.kind === 'MARK') fail(`unknown option "--mark" after -j MARK (use --set-mark)`);
        needModule('mark', w);
        once(r.mark, w);
        const [v, m] = next(w).split('/');
        r.mark = { value: parseU32(v, 'mark'), mask: m === undefined ? 0xffffffff : parseU32(m, 'mark mask'), inv: wasInv };
        r.mark.value = (r.mark.value & r.mark.mask) >>> 0;
        break;
      }
      case '--comment': {
        noInv();
        needModule('comment', w);
        const text = next(w);
        if (text.length > 255) fail('comment too long (at most 255 characters)');
        r.comment = text;
        break;
      }
      case '-j':
      case '--jump':
      case '-g':
      case '--goto': {
        noInv();
        if (r.target.kind !== 'NONE') fail(`multiple "-j" options not allowed`);
        const t = next(w);
        if (w === '-g' || w === '--goto') r.target = { kind: 'GOTO', chain: t };
        else if (t === 'ACCEPT' || t === 'DROP' || t === 'RETURN') r.target = { kind: t };
        else if (t === 'REJECT') r.target = { kind: 'REJECT', rejectWith: REJECT_PORT_UNREACH };
        else if (t === 'LOG') r.target = { kind: 'LOG', logPrefix: '', logLevel: 4 };
        else if (t === 'MARK') r.target = { kind: 'MARK' };
        else if (['DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT', 'CT', 'NOTRACK', 'TPROXY', 'CONNMARK', 'QUEUE', 'NFQUEUE', 'TCPMSS', 'TTL', 'TOS', 'DSCP'].includes(t)) {
          fail(`target "${t}" is not supported by softnet (no conntrack/NAT/queueing)`);
        } else r.target = { kind: 'JUMP', chain: t };
        break;
      }
      case '--reject-with': {
        needTarget('REJECT', w);
        const word = next(w);
        const name = REJECT_ALIASES[word] ?? word;
        const code = REJECT_WITH[name];
        if (code === undefined) fail(`unknown reject type "${word}" (${Object.keys(REJECT_WITH).join('|')})`);
        r.target.rejectWith = code;
        break;
      }
      case '--log-prefix': {
        needTarget('LOG', w);
        const p = next(w);
        if (p.length > 29) fail(`Maximum prefix length is 29 characters: "${p}"`);
        r.target.logPrefix = p;
        break;
      }
      case '--log-level': {
        needTarget('LOG', w);
        const word = next(w);
        const levels = ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug'];
        const n = levels.indexOf(word === 'warn' ? 'warning' : word === 'err' ? 'error' : word);
        r.target.logLevel = n >= 0 ? n : /^[0-7]$/.test(word) ? Number(word) : fail(`log level "${word}" unknown (0..7 or emerg..debug)`);
        break;
      }
      case '--set-mark':
      case '--set-xmark':
      case '--and-mark':
      case '--or-mark':
      case '--xor-mark': {
        needTarget('MARK', w);
        if (r.target.markValue !== undefined) fail('MARK: only one of --set-mark/--set-xmark/--and-mark/--or-mark/--xor-mark');
        const [vs, ms] = next(w).split('/');
        const v = parseU32(vs, w.slice(2));
        const m = ms === undefined ? 0xffffffff : parseU32(ms, `${w.slice(2)} mask`);
        if (ms !== undefined && w !== '--set-mark' && w !== '--set-xmark') fail(`${w} takes no mask: "${vs}/${ms}"`);
        // All five are xset (value, mask): new = (old & ~mask) ^ value, as libxt_MARK encodes them.
        let value = v;
        let mask = m;
        if (w === '--set-mark') mask = (m | v) >>> 0;
        else if (w === '--and-mark') (value = 0), (mask = ~v >>> 0);
        else if (w === '--or-mark') mask = v;
        else if (w === '--xor-mark') mask = 0;
        r.target.markValue = value >>> 0;
        r.target.markMask = mask >>> 0;
        break;
      }
      default:
        fail(w.startsWith('-') ? `unknown option "${w}"` : `Bad argument "${w}"`);
    }
  }
  if (inv) fail('"!" at the end of the line, with nothing to negate');
  if (!haveCmd) fail('no command specified (-A, -C, -I, -D, -R, -L, -S, -F, -Z, -P, -N, -X or -E)');
  if (r.target.kind === 'MARK' && r.target.markValue === undefined) fail('MARK target: one of --set-mark/--set-xmark/--and-mark/--or-mark/--xor-mark is required');
  if (r.target.kind === 'REJECT' && r.target.rejectWith === REJECT_TCP_RESET && (r.proto === undefined || r.proto.num !== 6 || r.proto.inv)) {
    fail('--reject-with tcp-reset is only valid with "-p tcp"');
  }
  const takesRule = c.cmd === 'A' || c.cmd === 'C' || c.cmd === 'I' || c.cmd === 'R' || (c.cmd === 'D' && c.num === undefined);
  if (takesRule) c.rule = r;
  else if (ruleOpts > 0) fail(`rule options are not allowed with -${c.cmd}`);
  return c;
}
