/**
 * The `conntrack` command (conntrack-tools) over a stack's table: -L/--dump, -S/--stats,
 * -C/--count, -F/--flush and -D/--delete with the usual filters, printing what conntrack-tools
 * prints (libnetfilter_conntrack's default format). Control plane only.
 *
 *   tcp      6 431999 ESTABLISHED src=10.1.0.2 dst=10.2.0.2 sport=40000 dport=80 src=10.2.0.2 dst=10.1.0.2 sport=80 dport=40000 [ASSURED] mark=0 use=1
 */

import { formatIPv4, tryParseIPv4 } from '../../wire/addr.ts';
import { IPS_ASSURED, IPS_SEEN_REPLY } from './common.ts';
import { CT_STAT_NAMES, type Conntrack } from './conntrack.ts';
import { TCP_STATE_NAMES } from './proto-tcp.ts';

const VERSION = 'conntrack v1.4.7 (conntrack-tools)';
const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 132: 'sctp', 136: 'udplite' };

/** What a command prints: `output` on stdout, `summary` on stderr (as conntrack does). */
export interface ConntrackOutput {
  output: string;
  summary: string;
}

interface Filter {
  proto?: number;
  src?: number;
  dst?: number;
  replySrc?: number;
  replyDst?: number;
  sport?: number;
  dport?: number;
  state?: number;
  mark?: number;
  status?: number;
}

export class ConntrackError extends Error {}
const fail = (msg: string): never => {
  throw new ConntrackError(`conntrack: ${msg}`);
};

const COMMANDS: Record<string, string> = {
  '-L': 'L', '--dump': 'L', '-S': 'S', '--stats': 'S', '-C': 'C', '--count': 'C', '-F': 'F', '--flush': 'F', '-D': 'D', '--delete': 'D',
};

/** Runs one conntrack command line (words after `conntrack`). ct null: tracking was never on (an empty table). */
export function conntrackCommand(ct: Conntrack | null, words: readonly string[]): ConntrackOutput {
  let cmd = '';
  const f: Filter = {};
  for (let k = 0; k < words.length; k++) {
    const w = words[k];
    const arg = (): string => words[++k] ?? fail(`option "${w}" requires an argument`);
    if (COMMANDS[w] !== undefined) {
      if (cmd !== '') fail(`only one command at a time ("${w}" after -${cmd})`);
      cmd = COMMANDS[w];
      // `-L conntrack` / `-S conntrack`: the table name conntrack-tools allows.
      if (words[k + 1] === 'conntrack') k++;
      else if (words[k + 1] === 'expect') fail('the expectation table is not supported (no helpers)');
    } else if (w === '-p' || w === '--proto') f.proto = parseProto(arg());
    else if (w === '-s' || w === '--src' || w === '--orig-src') f.src = addr(arg(), w);
    else if (w === '-d' || w === '--dst' || w === '--orig-dst') f.dst = addr(arg(), w);
    else if (w === '-r' || w === '--reply-src') f.replySrc = addr(arg(), w);
    else if (w === '-q' || w === '--reply-dst') f.replyDst = addr(arg(), w);
    else if (w === '--sport' || w === '--orig-port-src') f.sport = port(arg(), w);
    else if (w === '--dport' || w === '--orig-port-dst') f.dport = port(arg(), w);
    else if (w === '--state') {
      const s = TCP_STATE_NAMES.indexOf(arg().toUpperCase());
      if (s < 0) fail(`Bad parameter "${words[k]}" for --state (one of ${TCP_STATE_NAMES.join(', ')})`);
      f.state = s;
    } else if (w === '-m' || w === '--mark') f.mark = Number(arg()) >>> 0;
    else if (w === '-u' || w === '--status') f.status = parseStatus(arg());
    else if (w === '-o' || w === '--output') {
      if (arg() !== 'extended') fail('only "-o extended" is an output format here');
    } else fail(`unknown option "${w}" (softnet's conntrack: -L -S -C -F -D with -p -s -d -r -q --sport --dport --state -m -u)`);
  }
  if (f.state !== undefined && f.proto !== 6) fail('--state needs "-p tcp"');
  if ((f.sport !== undefined || f.dport !== undefined) && f.proto !== 6 && f.proto !== 17) fail('--sport/--dport need "-p tcp" or "-p udp"');
  switch (cmd) {
    case '':
    case 'L': {
      const lines = ct === null ? [] : select(ct, f).map((e) => formatEntry(ct, e));
      return { output: lines.map((l) => l + '\n').join(''), summary: `${VERSION}: ${lines.length} flow entries have been shown.` };
    }
    case 'C':
      return { output: `${ct === null ? 0 : ct.table.count}\n`, summary: '' };
    case 'S': {
      const v = ct?.stats ?? new Float64Array(CT_STAT_NAMES.length);
      return { output: `cpu=0   \t${CT_STAT_NAMES.map((n, k) => `${n}=${v[k]}`).join(' ')} \n`, summary: '' };
    }
    case 'F':
      ct?.flush();
      // Outside any dispatch no packet names the killed entries: free them now.
      ct?.reclaim();
      return { output: '', summary: `${VERSION}: connection tracking table has been emptied.` };
    case 'D': {
      const victims = ct === null ? [] : select(ct, f);
      const lines = victims.map((e) => formatEntry(ct!, e));
      for (const e of victims) ct!.kill(e);
      ct?.reclaim();
      return { output: lines.map((l) => l + '\n').join(''), summary: `${VERSION}: ${lines.length} flow entries have been deleted.` };
    }
  }
  return fail(`unknown command -${cmd}`);
}

/** One entry as `conntrack -L` prints it. */
export function formatEntry(ct: Conntrack, e: number): string {
  const t = ct.table;
  const o = e * 8;
  const proto = t.tup[o + 3];
  const st = t.status[e];
  let s = `${(PROTO_NAMES[proto] ?? 'unknown').padEnd(8)} ${proto} ${ct.remaining(e)} `;
  if (proto === 6) s += `${TCP_STATE_NAMES[t.state[e]] ?? 'NONE'} `;
  s += tupleText(t.tup, o);
  if ((st & IPS_SEEN_REPLY) === 0) s += '[UNREPLIED] ';
  s += tupleText(t.tup, o + 4);
  if ((st & IPS_ASSURED) !== 0) s += '[ASSURED] ';
  return s + `mark=${t.mark[e]} use=1`;
}

function tupleText(tup: Uint32Array, o: number): string {
  const proto = tup[o + 3];
  const ports = tup[o + 2];
  let s = `src=${formatIPv4(tup[o])} dst=${formatIPv4(tup[o + 1])} `;
  if (proto === 6 || proto === 17) s += `sport=${ports >>> 16} dport=${ports & 0xffff} `;
  else if (proto === 1) s += `type=${(ports >>> 8) & 0xff} code=${ports & 0xff} id=${ports >>> 16} `;
  return s;
}

function select(ct: Conntrack, f: Filter): number[] {
  const t = ct.table;
  const out: number[] = [];
  t.forEach((e) => {
    const o = e * 8;
    const tup = t.tup;
    if (f.proto !== undefined && tup[o + 3] !== f.proto) return;
    if (f.src !== undefined && tup[o] !== f.src) return;
    if (f.dst !== undefined && tup[o + 1] !== f.dst) return;
    if (f.replySrc !== undefined && tup[o + 4] !== f.replySrc) return;
    if (f.replyDst !== undefined && tup[o + 5] !== f.replyDst) return;
    if (f.sport !== undefined && tup[o + 2] >>> 16 !== f.sport) return;
    if (f.dport !== undefined && (tup[o + 2] & 0xffff) !== f.dport) return;
    if (f.state !== undefined && t.state[e] !== f.state) return;
    if (f.mark !== undefined && t.mark[e] !== f.mark) return;
    if (f.status !== undefined && (t.status[e] & f.status) !== f.status) return;
    out.push(e);
  });
  return out;
}

function parseProto(w: string): number {
  if (/^\d+$/.test(w) && Number(w) <= 255) return Number(w);
  for (const [n, name] of Object.entries(PROTO_NAMES)) if (name === w.toLowerCase()) return Number(n);
  return fail(`unknown protocol "${w}" (a name such as tcp, udp, icmp, or a number 0..255)`);
}

function addr(w: string, opt: string): number {
  const a = tryParseIPv4(w);
  return a === null ? fail(`${opt}: "${w}" is not an IPv4 address`) : a;
}

function port(w: string, opt: string): number {
  if (!/^\d+$/.test(w) || Number(w) > 65535) fail(`${opt}: bad port "${w}"`);
  return Number(w);
}

function parseStatus(w: string): number {
  let m = 0;
  for (const x of w.split(',')) {
    if (x === 'ASSURED') m |= IPS_ASSURED;
    else if (x === 'SEEN_REPLY') m |= IPS_SEEN_REPLY;
    else if (x !== 'UNSET') fail(`Bad parameter "${x}" for --status (ASSURED, SEEN_REPLY, UNSET)`);
  }
  return m;
}
