/**
 * Per-chain compilation (as nftables and pflua turn rules into code): every chain of a Program
 * becomes one JS function whose body is its rules as straight-line `if`s with their constants
 * inlined, made with `new Function` when the rules change (control plane only, never per packet).
 * Program.interpret() walking the records stays as the reference (the differential test
 * test/unit/netfilter-compiled.test.ts checks verdicts and counters against it).
 *
 * The source is generated from the Program's records, the same int32 the reference reads, so
 * the only things spliced into it are numbers read from an Int32Array and the extensions' own
 * code snippets (codegen.ts): no user text (chain names, comments, LOG prefixes, interface
 * names) ever reaches it. Chains are functions `c<i>`; a jump is a call (depth is bounded at
 * compile time, netfilter.ts MAX_DEPTH), a goto a tail call. A chain returns a verdict (>= 0)
 * or, for user chains, XT_CONTINUE when it falls off its end or RETURNs; a base chain applies its
 * policy and counts it. Per-rule counters are the Program's pkts/bytes arrays, as the reference's.
 *
 * V8 does not optimise functions past ~60 KB of bytecode (--max-optimized-bytecode-size), so a
 * long chain is cut into segments of CHUNK rules, each its own function called in turn; a segment
 * returns RET for a RETURN (or a finished goto) so the chain ends there. Segments are kept across
 * rule changes while their source is the same (SegmentCache): new code starts in V8's interpreter,
 * which at 1000 rules is ~10x slower than the record walk until TurboFan has compiled it.
 */

import { F_FLAGS, F_TARGET, HELPERS, STRIDE, TARGET_IDS, TESTS, XT_CONTINUE, subst } from './codegen.ts';
import { NF_ACCEPT, NF_DROP, type NfPacket } from './packet.ts';
import { T_ACCEPT, T_DROP, T_GOTO, T_JUMP, T_NONE, T_RETURN } from './target/standard.ts';

export type ChainFn = (p: NfPacket) => number;

/** Rules per generated function: 1000 rules ran alike cut by 16..256, unoptimised (~20x slower) by 512. */
export const CHUNK = 64;
/** A segment's "the chain is done" (RETURN, or a goto's chain ended): not a verdict, not XT_CONTINUE. */
const RET = -2;

/**
 * What the compiler reads from the Program (program.ts): the records and chain bounds; the
 * generated code closes over the counters, the aux array and the Program itself (as `prog`).
 */
export interface ProgramArrays {
  d: Int32Array;
  x: Int32Array;
  cStart: Int32Array;
  cEnd: Int32Array;
  /** The base chain's policy, -1 for a user chain. */
  cPolicy: Int32Array;
  pkts: Float64Array;
  bytes: Float64Array;
  polPkts: Float64Array;
  polBytes: Float64Array;
}

const PARAMS = ['pk', 'by', 'pp', 'pb', 'x', 'prog'];
for (const h of HELPERS.keys()) if ([...PARAMS, 'segs', 'E', 'o', 'cs'].includes(h) || /^[cs]\d/.test(h)) throw new Error(`netfilter: helper name "${h}" clashes with the compiled chains' names`);

/**
 * A snippet cut at its `$slot`s once at load (codegen.ts's subst, with markers), so a rule's
 * source is joined from pieces: ~2.5 µs per rule per change (6.8 with a regex replace per slot).
 */
interface Template {
  parts: string[];
  /** Slot index before parts[i + 1]. */
  at: number[];
}
const MARK = '\u0000';
function template(code: string, names: readonly string[]): Template {
  const pieces = subst(code, names, (i) => `${MARK}${i}${MARK}`).split(MARK);
  return { parts: pieces.filter((_, i) => i % 2 === 0), at: pieces.filter((_, i) => i % 2 === 1).map(Number) };
}
/** The template filled with the int32 at d[b + off[slot]]. */
function fill(t: Template, d: Int32Array, b: number, off: readonly number[]): string {
  let s = t.parts[0];
  for (let i = 0; i < t.at.length; i++) s += lit(d[b + off[t.at[i]]]) + t.parts[i + 1];
  return s;
}
// the extensions' code names the rule index `r` (prog.rules[r]: interface names, LOG)
const usesR = (code: string) => /\br\b/.test(code);

// Tests in the order the reference evaluator tries them: hot (addresses, protocol) first.
const TESTS_IN_ORDER = [...TESTS.filter((t) => t.test.hot), ...TESTS.filter((t) => !t.test.hot)].map((t) => ({
  on: 1 << t.bit,
  inv: 1 << (t.bit + 16),
  off: t.off,
  test: template(t.test.test, t.test.slots),
  guard: t.test.guard === undefined ? undefined : template(t.test.guard, t.test.slots),
  r: usesR(t.test.test) || usesR(t.test.guard ?? ''),
}));
const EXT_TARGETS = new Map(
  [...TARGET_IDS.values()].filter((t) => t.ext.code !== undefined).map((t) => [t.id, { off: t.off, code: template(t.ext.code!, t.ext.slots ?? []), r: usesR(t.ext.code!) }]),
);
const F_CHAIN = TARGET_IDS.get('JUMP')!.off[0];

/** An int32 read from the records as a source literal; anything else is a bug, never spliced in. */
function lit(v: number): string {
  if (v !== (v | 0)) throw new Error(`netfilter: compiled chain constant ${v} is not an int32`);
  return v < 0 ? `(${v})` : `${v}`;
}

/** How a rule's RETURN and goto end the chain, by where the rule sits. */
interface Ends {
  ret: string;
  goto: (call: string) => string;
}
const BASE: Ends = { ret: 'break body;', goto: (c) => `{ const v = ${c}; if (v !== ${XT_CONTINUE}) return v; break body; }` };
const USER: Ends = { ret: `return ${XT_CONTINUE};`, goto: (c) => `return ${c};` };
const SEGMENT: Ends = { ret: `return ${RET};`, goto: (c) => `{ const v = ${c}; return v === ${XT_CONTINUE} ? ${RET} : v; }` };

/**
 * Where a rule's code sits: in a chain function (`k` is its counter index, chains are called by
 * name) or in a segment (`o + i`, chains called through the env: a segment is kept across
 * changes, see SegmentCache).
 */
interface Place {
  ends: Ends;
  at: string;
  call: (chain: string) => string;
}

/** Rule k: its tests as one condition, its counters, its target. */
function rule(d: Int32Array, k: number, w: Place): string {
  const b = k * STRIDE;
  const f = d[b + F_FLAGS];
  let cond = '';
  let r = false;
  for (const t of TESTS_IN_ORDER) {
    if ((f & t.on) === 0) continue;
    const test = fill(t.test, d, b, t.off);
    if (cond !== '') cond += ' && ';
    if (t.guard !== undefined) cond += `(${fill(t.guard, d, b, t.off)}) && `;
    cond += (f & t.inv) !== 0 ? `!(${test})` : `(${test})`;
    r ||= t.r;
  }
  const tid = d[b + F_TARGET];
  let body = `pk[${w.at}]++; by[${w.at}] += p.len;`;
  if (tid === T_ACCEPT || tid === T_DROP) body += ` return ${tid === T_ACCEPT ? NF_ACCEPT : NF_DROP};`;
  else if (tid === T_RETURN) body += ` ${w.ends.ret}`;
  else if (tid === T_JUMP) body += ` { const v = ${w.call(lit(d[b + F_CHAIN]))}; if (v !== ${XT_CONTINUE}) return v; }`;
  else if (tid === T_GOTO) body += ` ${w.ends.goto(w.call(lit(d[b + F_CHAIN])))}`;
  else if (tid !== T_NONE) {
    const t = EXT_TARGETS.get(tid)!;
    body += ` { ${fill(t.code, d, b, t.off)} }`;
    r ||= t.r;
  }
  const code = cond === '' ? `  ${body}` : `  if (${cond}) { ${body} }`;
  return r ? `  { const r = ${w.at};\n${code} }` : code;
}

const inChain = (k: number, ends: Ends): Place => ({ ends, at: `${k}`, call: (c) => `c${c}(p)` });
const inSegment = (i: number): Place => ({ ends: SEGMENT, at: i === 0 ? 'o' : `o + ${i}`, call: (c) => `cs[${c}](p)` });

/** The sources: the chains' (one factory) and the segments' (one each, relative to their first rule `o`). */
export interface ChainSource {
  main: string;
  segments: string[];
}

/** Chain c as a function: its rules inline, or its segments called in turn; then the policy or XT_CONTINUE. */
function chain(a: ProgramArrays, c: number, out: string[], segments: string[]): void {
  const base = a.cPolicy[c] >= 0;
  const s = a.cStart[c];
  const e = a.cEnd[c];
  const tail = base ? `  pp[${c}]++; pb[${c}] += p.len; return ${lit(a.cPolicy[c])};` : `  return ${XT_CONTINUE};`;
  const lines: string[] = [];
  if (e - s <= CHUNK) {
    for (let k = s; k < e; k++) lines.push(`  // rule ${k - s + 1}`, rule(a.d, k, inChain(k, base ? BASE : USER)));
  } else {
    for (let k = s; k < e; k += CHUNK) {
      const seg = ['"use strict";', 'return function (p, o) {', '  const pk = E.pk, by = E.by, x = E.x, prog = E.prog, cs = E.cs;'];
      for (let j = k; j < Math.min(e, k + CHUNK); j++) seg.push(`  // rule ${j - s + 1}`, rule(a.d, j, inSegment(j - k)));
      seg.push(`  return ${XT_CONTINUE};`, '};', '//# sourceURL=netfilter-segment.js');
      const done = base ? 'break body;' : `return ${XT_CONTINUE};`;
      lines.push(`  v = s${segments.length}(p, ${k}); if (v !== ${XT_CONTINUE}) { if (v !== ${RET}) return v; ${done} }`);
      segments.push(seg.join('\n'));
    }
    lines.unshift('  let v;');
  }
  out.push(`function c${c}(p) {`, base ? '  body: {' : '', ...lines, base ? '  }' : '', tail, '}');
}

/** The source of every chain's function and segment, for reading and for the tests. */
export function chainSource(a: ProgramArrays): ChainSource {
  const out = ['"use strict";'];
  const segments: string[] = [];
  const n = a.cStart.length;
  for (let c = 0; c < n; c++) chain(a, c, out, segments);
  if (segments.length > 0) out.splice(1, 0, `const ${segments.map((_, i) => `s${i} = segs[${i}]`).join(', ')};`);
  out.push(`return [${Array.from({ length: n }, (_, c) => `c${c}`).join(', ')}];`, '//# sourceURL=netfilter-chains.js');
  return { main: out.filter((l) => l !== '').join('\n'), segments };
}

type SegmentFn = (p: NfPacket, o: number) => number;

/**
 * The segment functions of a Netfilter, kept across rule changes by their source: V8 keeps
 * optimised code per function object, so a segment that did not change (all but the last when
 * a rule is appended to a long chain) stays optimised instead of starting over in the
 * interpreter. Segments read the current Program's arrays and chains through `env`, which
 * each compile repoints; their rule indices are relative to their first rule (`o`).
 */
export class SegmentCache {
  private readonly env = { pk: new Float64Array(0), by: new Float64Array(0), x: new Int32Array(0), prog: null as unknown, cs: [] as ChainFn[] };
  private kept = new Map<string, SegmentFn>();
  private used = new Map<string, SegmentFn>();

  constructor() {
    // Written once after creation so V8 tracks the fields as mutable from the start, rather
    // than deoptimising every segment the first time a compile repoints them.
    Object.assign(this.env, { pk: new Float64Array(0), by: new Float64Array(0), x: new Int32Array(0), prog: {}, cs: [] });
  }

  get(src: string): SegmentFn {
    let f = this.used.get(src) ?? this.kept.get(src);
    if (f === undefined) f = new Function('E', ...HELPERS.keys(), src)(this.env, ...HELPERS.values()) as SegmentFn;
    this.used.set(src, f);
    return f;
  }

  /** The compile is done: segments now run for a's arrays and chains; what it did not use is dropped. */
  commit(a: ProgramArrays, fns: ChainFn[]): void {
    Object.assign(this.env, { pk: a.pkts, by: a.bytes, x: a.x, prog: a, cs: fns });
    this.kept = this.used;
    this.used = new Map();
  }
}

/** Compiles every chain: the functions, indexed by chain, that Program.run calls. Control plane. */
export function compileChains(a: ProgramArrays, cache: SegmentCache): ChainFn[] {
  const src = chainSource(a);
  const segs = src.segments.map((s) => cache.get(s));
  const make = new Function(...PARAMS, 'segs', ...HELPERS.keys(), src.main);
  const fns = make(a.pkts, a.bytes, a.polPkts, a.polBytes, a.x, a, segs, ...HELPERS.values()) as ChainFn[];
  cache.commit(a, fns);
  return fns;
}
