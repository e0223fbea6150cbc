/**
 * The rule evaluator (ipt_do_table's job): every chain of every table compiled into one flat
 * struct-of-arrays program, rules of a chain contiguous. Recompiled from the Rule objects on every
 * change (control plane): each extension writes its constants into the rule's record (layout and
 * the generated match/target functions: codegen.ts). Two evaluators over the same records and
 * counters: `interpret()` walks the records by index with an explicit jump stack (the reference),
 * and, when compiled, each chain is its own generated function with the constants inlined
 * (compile-chain.ts); `run()` takes the one chosen. Evaluation allocates nothing: typed arrays,
 * monomorphic generated tests, rare work (LOG, interface name resolution) in separate functions.
 */

import * as layout from './codegen.ts';
import { compileChains, type ChainFn, type SegmentCache } from './compile-chain.ts';
import * as packet from './packet.ts';
import type { NfPacket } from './packet.ts';
import * as standard from './target/standard.ts';
import type { Host, Rule } from './xt.ts';

// Local copies: an imported binding costs a load through its module cell at each use, and these
// are read per rule in the traversal (measured in micro-netfilter: 1.2-1.35x slower imported).
const { F_FLAGS, F_TARGET, GENERATED, STRIDE, TARGET_FIELDS, TARGET_IDS, TEST_FIELDS, TESTS, XT_CONTINUE } = layout;
const { T_ACCEPT, T_DROP, T_GOTO, T_JUMP, T_NONE, T_RETURN } = standard;
const { NF_ACCEPT, NF_DROP } = packet;

const F_TARG = TARGET_IDS.get('JUMP')!.off[0];

/** Jump depth bound; compile refuses deeper chain nesting, so the stack never overflows. */
export const MAX_DEPTH = 32;

/** A chain as the compiler sees it (netfilter.ts's Chain satisfies it). */
export interface ChainIn {
  rules: Rule[];
  /** NF_ACCEPT/NF_DROP for built-in chains, -1 for user chains. */
  policy: number;
  polPkts: number;
  polBytes: number;
}

export class Program {
  readonly n: number;
  readonly rules: Rule[] = [];
  readonly chains: ChainIn[];
  /** Per rule, STRIDE int32 fields at r * STRIDE (codegen.ts): one array, rule data in 1-2 cache lines. */
  readonly d: Int32Array;
  /** What tests keep beside the records: multiport ranges, interface match caches. */
  readonly x: Int32Array;
  readonly pkts: Float64Array;
  readonly bytes: Float64Array;
  // per chain
  readonly cStart: Int32Array;
  readonly cEnd: Int32Array;
  readonly cPolicy: Int32Array;
  readonly polPkts: Float64Array;
  readonly polBytes: Float64Array;
  // jump stack
  private readonly stPc = new Int32Array(MAX_DEPTH);
  private readonly stEnd = new Int32Array(MAX_DEPTH);

  /** The compiled chains (compile-chain.ts) by chain index, or null: interpret() runs. */
  readonly fns: readonly ChainFn[] | null;

  /**
   * chainId maps a jump target name to its chain index (same table). Counters are taken from
   * the Rule/Chain objects, so recompiling keeps them. With a SegmentCache: also generate each chain's function.
   */
  constructor(
    chains: ChainIn[],
    chainId: (from: number, name: string) => number,
    readonly host: Host,
    compiled: SegmentCache | null,
  ) {
    this.chains = chains;
    let n = 0;
    for (const c of chains) n += c.rules.length;
    this.n = n;
    this.d = new Int32Array(n * STRIDE);
    this.pkts = new Float64Array(n);
    this.bytes = new Float64Array(n);
    const nc = chains.length;
    this.cStart = new Int32Array(nc);
    this.cEnd = new Int32Array(nc);
    this.cPolicy = new Int32Array(nc);
    this.polPkts = new Float64Array(nc);
    this.polBytes = new Float64Array(nc);
    const aux: number[] = [];
    let k = 0;
    for (let ci = 0; ci < nc; ci++) {
      const c = chains[ci];
      this.cStart[ci] = k;
      this.cPolicy[ci] = c.policy;
      this.polPkts[ci] = c.polPkts;
      this.polBytes[ci] = c.polBytes;
      for (const r of c.rules) {
        this.compileRule(k, r, (name) => chainId(ci, name), aux);
        this.rules.push(r);
        k++;
      }
      this.cEnd[ci] = k;
    }
    this.x = Int32Array.from(aux);
    this.fns = compiled === null ? null : compileChains(this, compiled);
  }

  private compileRule(k: number, r: Rule, chainId: (name: string) => number, aux: number[]): void {
    const d = this.d;
    const b = k * STRIDE;
    let f = 0;
    for (const t of TESTS) {
      const c = t.test.compile(r, aux);
      if (c === undefined) continue;
      f |= (1 << t.bit) | (c.inv ? 1 << (t.bit + 16) : 0);
      for (let i = 0; i < t.off.length; i++) d[b + t.off[i]] = c.v[i];
    }
    d[b + F_FLAGS] = f;
    const t = TARGET_IDS.get(r.target.kind)!;
    d[b + F_TARGET] = t.id;
    const v = t.ext.compile?.(r.target, chainId) ?? [];
    for (let i = 0; i < t.off.length; i++) d[b + t.off[i]] = v[i];
    this.pkts[k] = r.pkts;
    this.bytes[k] = r.bytes;
  }

  /** Copies the live counters back into the Rule/Chain objects (before a recompile or a listing). */
  syncCounters(): void {
    for (let k = 0; k < this.n; k++) {
      this.rules[k].pkts = this.pkts[k];
      this.rules[k].bytes = this.bytes[k];
    }
    for (let c = 0; c < this.chains.length; c++) {
      this.chains[c].polPkts = this.polPkts[c];
      this.chains[c].polBytes = this.polBytes[c];
    }
  }

  /** The NfPacket field groups (packet.ts NFF_*) chain c and the chains it jumps to read. Control plane. */
  fields(c: number, seen: Set<number> = new Set()): number {
    if (seen.has(c)) return 0;
    seen.add(c);
    let m = 0;
    for (let k = this.cStart[c]; k < this.cEnd[c]; k++) {
      const b = k * STRIDE;
      const f = this.d[b + F_FLAGS];
      for (let bit = 0; bit < TEST_FIELDS.length; bit++) if ((f & (1 << bit)) !== 0) m |= TEST_FIELDS[bit];
      const t = this.d[b + F_TARGET];
      m |= t === T_JUMP || t === T_GOTO ? this.fields(this.d[b + F_TARG], seen) : (TARGET_FIELDS.get(t) ?? 0);
    }
    return m;
  }

  /** Runs base chain c on p: NF_ACCEPT, NF_DROP or NF_REJECT (p.rejectWith set). */
  run(c: number, p: NfPacket): number {
    const f = this.fns;
    return f === null ? this.interpret(c, p) : f[c](p);
  }

  /** run() by walking the records: the reference evaluator. */
  interpret(c: number, p: NfPacket): number {
    let pc = this.cStart[c];
    let end = this.cEnd[c];
    let sp = 0;
    const d = this.d;
    const x = this.x;
    for (;;) {
      if (pc >= end) {
        if (sp === 0) break;
        sp--;
        pc = this.stPc[sp];
        end = this.stEnd[sp];
        continue;
      }
      const r = pc++;
      const b = r * STRIDE;
      if (d[b + F_FLAGS] !== 0 && !this.match(d, b, r, p, x)) continue;
      this.pkts[r]++;
      this.bytes[r] += p.len;
      const t = d[b + F_TARGET];
      if (t === T_ACCEPT) return NF_ACCEPT;
      if (t === T_DROP) return NF_DROP;
      if (t === T_NONE) continue;
      if (t === T_JUMP || t === T_GOTO) {
        const to = d[b + F_TARG];
        if (t === T_JUMP) {
          // depth is bounded at compile time (MAX_DEPTH): this push cannot overflow
          this.stPc[sp] = pc;
          this.stEnd[sp] = end;
          sp++;
        }
        pc = this.cStart[to];
        end = this.cEnd[to];
      } else if (t === T_RETURN) {
        if (sp === 0) break; // RETURN in a base chain: the policy decides
        sp--;
        pc = this.stPc[sp];
        end = this.stEnd[sp];
      } else {
        const v = this.target(d, b, r, p, x, t);
        if (v !== XT_CONTINUE) return v;
      }
    }
    this.polPkts[c]++;
    this.polBytes[c] += p.len;
    return this.cPolicy[c];
  }
}

// The generated match/target code (codegen.ts) as methods.
export interface Program extends layout.Generated {}
Object.assign(Program.prototype, GENERATED);
