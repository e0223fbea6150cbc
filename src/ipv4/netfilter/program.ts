/**
 * The rule evaluator (ipt_do_table's job): every chain of every table compiled into one flat
 * struct-of-arrays program, rules of a chain contiguous, evaluated by index with an explicit
 * jump stack. Recompiled from the Rule objects on every change (control plane); evaluation
 * allocates nothing: typed arrays, one monomorphic match function, rare work (LOG, interface
 * name resolution) in separate functions.
 */

import { maskOf } from '../addr.ts';
import { NF_ACCEPT, NF_DROP, NF_REJECT, type NfPacket } from './packet.ts';
import type { Rule } from './rule.ts';

// Which matches a rule has (flags) and which are negated (same bit << 16).
const M_SRC = 1 << 0;
const M_DST = 1 << 1;
const M_IIF = 1 << 2;
const M_OIF = 1 << 3;
const M_PROTO = 1 << 4;
const M_FRAG = 1 << 5;
const M_SPORT = 1 << 6;
const M_DPORT = 1 << 7;
const M_TCPF = 1 << 8;
const M_ICMP = 1 << 9;
const M_MPORT = 1 << 10;
const M_LEN = 1 << 11;
const M_MARK = 1 << 12;
/** Matches that never match a non-first fragment (the kernel's tcp/udp/icmp/multiport matches). */
const M_L4 = M_SPORT | M_DPORT | M_TCPF | M_ICMP | M_MPORT;
const INV = 16;

export const T_NONE = 0;
export const T_ACCEPT = 1;
export const T_DROP = 2;
export const T_REJECT = 3;
export const T_RETURN = 4;
export const T_JUMP = 5;
export const T_GOTO = 6;
export const T_LOG = 7;
export const T_MARK = 8;

// Field offsets of a rule in Program.d (hot ones first: the first 16 share a cache line).
const F_FLAGS = 0;
const F_TARGET = 1;
const F_TARG = 2;
const F_SRC = 3;
const F_SMASK = 4;
const F_DST = 5;
const F_DMASK = 6;
const F_PROTO = 7;
const F_SPLO = 8;
const F_SPHI = 9;
const F_DPLO = 10;
const F_DPHI = 11;
const F_TCPMASK = 12;
const F_TCPCOMP = 13;
const F_LENLO = 14;
const F_LENHI = 15;
const F_ICMPTYPE = 16;
const F_ICMPLO = 17;
const F_ICMPHI = 18;
const F_MARKVAL = 19;
const F_MARKMASK = 20;
const F_MPOFF = 21;
const F_MPCNT = 22;
const F_MPDIR = 23;
const F_TMARKVAL = 24;
const F_TMARKMASK = 25;
const STRIDE = 32;

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

export interface LogSink {
  log(rule: Rule, p: NfPacket): void;
}

export class Program {
  readonly n: number;
  readonly rules: Rule[] = [];
  readonly chains: ChainIn[];
  /** Per rule, STRIDE int32 fields at r * STRIDE (F_* offsets): one array, rule data in 1-2 cache lines. */
  private readonly d: Int32Array;
  /** multiport: ranges [F_MPOFF, +F_MPCNT) in mpLo/mpHi; F_MPDIR 1 src, 2 dst, 3 either. */
  private readonly mpLo: Int32Array;
  private readonly mpHi: Int32Array;
  /** Interface match per (rule, in/out, device index): 0 unknown yet, 1 match, 2 no match. */
  private readonly ifCache: Uint8Array;
  readonly pkts: Float64Array;
  readonly bytes: Float64Array;
  // per chain
  private readonly cStart: Int32Array;
  private readonly cEnd: Int32Array;
  private readonly cPolicy: Int32Array;
  readonly polPkts: Float64Array;
  readonly polBytes: Float64Array;
  // jump stack
  private readonly stPc = new Int32Array(MAX_DEPTH);
  private readonly stEnd = new Int32Array(MAX_DEPTH);

  /**
   * chainIds maps a jump target name to its chain index (same table). Counters are taken from
   * the Rule/Chain objects, so recompiling keeps them.
   */
  constructor(
    chains: ChainIn[],
    chainId: (from: number, name: string) => number,
    private readonly devName: (i: number) => string,
    private readonly sink: LogSink,
  ) {
    this.chains = chains;
    let n = 0;
    let nmp = 0;
    for (const c of chains) {
      n += c.rules.length;
      for (const r of c.rules) nmp += r.multiport?.list.length ?? 0;
    }
    this.n = n;
    this.d = new Int32Array(n * STRIDE);
    this.mpLo = new Int32Array(nmp);
    this.mpHi = new Int32Array(nmp);
    this.ifCache = new Uint8Array(n * 512);
    this.pkts = new Float64Array(n);
    this.bytes = new Float64Array(n);
    const nc = chains.length;
    this.cStart = new Int32Array(nc);
    this.cEnd = new Int32Array(nc);
    this.cPolicy = new Int32Array(nc);
    this.polPkts = new Float64Array(nc);
    this.polBytes = new Float64Array(nc);
    let k = 0;
    let mp = 0;
    for (let ci = 0; ci < nc; ci++) {
      const c = chains[ci];
      this.cStart[ci] = k;
      this.cPolicy[ci] = c.policy;
      this.polPkts[ci] = c.polPkts;
      this.polBytes[ci] = c.polBytes;
      for (const r of c.rules) {
        mp = this.compileRule(k, r, ci, chainId, mp);
        this.rules.push(r);
        k++;
      }
      this.cEnd[ci] = k;
    }
  }

  private compileRule(k: number, r: Rule, ci: number, chainId: (from: number, name: string) => number, mp: number): number {
    const d = this.d;
    const b = k * STRIDE;
    let f = 0;
    const inv = (bit: number, i: boolean) => (f |= bit | (i ? bit << INV : 0));
    if (r.src) {
      inv(M_SRC, r.src.inv);
      d[b + F_SRC] = r.src.addr;
      d[b + F_SMASK] = maskOf(r.src.len);
    }
    if (r.dst) {
      inv(M_DST, r.dst.inv);
      d[b + F_DST] = r.dst.addr;
      d[b + F_DMASK] = maskOf(r.dst.len);
    }
    if (r.iif) inv(M_IIF, r.iif.inv);
    if (r.oif) inv(M_OIF, r.oif.inv);
    if (r.proto && r.proto.num !== 0) {
      inv(M_PROTO, r.proto.inv);
      d[b + F_PROTO] = r.proto.num;
    }
    if (r.frag) inv(M_FRAG, r.frag.inv);
    if (r.sport) {
      inv(M_SPORT, r.sport.inv);
      d[b + F_SPLO] = r.sport.lo;
      d[b + F_SPHI] = r.sport.hi;
    }
    if (r.dport) {
      inv(M_DPORT, r.dport.inv);
      d[b + F_DPLO] = r.dport.lo;
      d[b + F_DPHI] = r.dport.hi;
    }
    if (r.tcpFlags) {
      inv(M_TCPF, r.tcpFlags.inv);
      d[b + F_TCPMASK] = r.tcpFlags.mask;
      d[b + F_TCPCOMP] = r.tcpFlags.comp;
    }
    if (r.icmp) {
      inv(M_ICMP, r.icmp.inv);
      d[b + F_ICMPTYPE] = r.icmp.type;
      d[b + F_ICMPLO] = r.icmp.lo;
      d[b + F_ICMPHI] = r.icmp.hi;
    }
    if (r.multiport) {
      inv(M_MPORT, r.multiport.inv);
      d[b + F_MPOFF] = mp;
      d[b + F_MPCNT] = r.multiport.list.length;
      d[b + F_MPDIR] = r.multiport.dir === 'sports' ? 1 : r.multiport.dir === 'dports' ? 2 : 3;
      for (const [lo, hi] of r.multiport.list) {
        this.mpLo[mp] = lo;
        this.mpHi[mp++] = hi;
      }
    }
    if (r.length) {
      inv(M_LEN, r.length.inv);
      d[b + F_LENLO] = r.length.lo;
      d[b + F_LENHI] = r.length.hi;
    }
    if (r.mark) {
      inv(M_MARK, r.mark.inv);
      d[b + F_MARKVAL] = r.mark.value;
      d[b + F_MARKMASK] = r.mark.mask;
    }
    d[b + F_FLAGS] = f;
    const t = r.target;
    this.pkts[k] = r.pkts;
    this.bytes[k] = r.bytes;
    switch (t.kind) {
      case 'NONE':
        d[b + F_TARGET] = T_NONE;
        break;
      case 'ACCEPT':
        d[b + F_TARGET] = T_ACCEPT;
        break;
      case 'DROP':
        d[b + F_TARGET] = T_DROP;
        break;
      case 'RETURN':
        d[b + F_TARGET] = T_RETURN;
        break;
      case 'REJECT':
        d[b + F_TARGET] = T_REJECT;
        d[b + F_TARG] = t.rejectWith!;
        break;
      case 'LOG':
        d[b + F_TARGET] = T_LOG;
        break;
      case 'MARK':
        d[b + F_TARGET] = T_MARK;
        d[b + F_TMARKVAL] = t.markValue!;
        d[b + F_TMARKMASK] = t.markMask!;
        break;
      case 'JUMP':
      case 'GOTO':
        d[b + F_TARGET] = t.kind === 'JUMP' ? T_JUMP : T_GOTO;
        d[b + F_TARG] = chainId(ci, t.chain!);
        break;
    }
    return mp;
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

  /** Runs base chain c on p: NF_ACCEPT, NF_DROP or NF_REJECT (p.rejectWith set). */
  run(c: number, p: NfPacket): number {
    let pc = this.cStart[c];
    let end = this.cEnd[c];
    let sp = 0;
    const d = this.d;
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
      if (d[b + F_FLAGS] !== 0 && !this.match(d, b, r, p)) continue;
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
      } else if (t === T_REJECT) {
        p.rejectWith = d[b + F_TARG];
        return NF_REJECT;
      } else if (t === T_MARK) {
        p.mark = ((p.mark & ~d[b + F_TMARKMASK]) ^ d[b + F_TMARKVAL]) >>> 0;
      } else if (t === T_LOG) {
        this.log(r, p);
      }
    }
    this.polPkts[c]++;
    this.polBytes[c] += p.len;
    return this.cPolicy[c];
  }

  private log(r: number, p: NfPacket): void {
    try {
      this.sink.log(this.rules[r], p);
    } catch {
      // a failing log sink must not take the packet path down with it
    }
  }

  /** All of rule r's matches hold for p. Each test: (condition) === negated -> no match. */
  private match(d: Int32Array, b: number, r: number, p: NfPacket): boolean {
    const f = d[b + F_FLAGS];
    if (f & M_SRC && (((p.saddr ^ d[b + F_SRC]) & d[b + F_SMASK]) === 0) === ((f & (M_SRC << INV)) !== 0)) return false;
    if (f & M_DST && (((p.daddr ^ d[b + F_DST]) & d[b + F_DMASK]) === 0) === ((f & (M_DST << INV)) !== 0)) return false;
    if (f & M_PROTO && (p.proto === d[b + F_PROTO]) === ((f & (M_PROTO << INV)) !== 0)) return false;
    if (f & (M_IIF | M_OIF | M_FRAG | M_L4 | M_LEN | M_MARK)) return this.matchMore(d, b, r, p, f);
    return true;
  }

  /** The less common matches, apart so the address/protocol test stays small enough to inline. */
  private matchMore(d: Int32Array, b: number, r: number, p: NfPacket, f: number): boolean {
    if (f & M_IIF && this.ifMatch(r, 0, p.iif) === ((f & (M_IIF << INV)) !== 0)) return false;
    if (f & M_OIF && this.ifMatch(r, 256, p.oif) === ((f & (M_OIF << INV)) !== 0)) return false;
    if (f & M_FRAG && (p.fragOff !== 0) === ((f & (M_FRAG << INV)) !== 0)) return false;
    if (f & M_L4) {
      if (p.fragOff !== 0) return false; // as xt_tcpudp/icmp: a later fragment has no header to match
      if (f & (M_SPORT | M_DPORT | M_MPORT) && p.sport < 0) return false;
      if (f & M_SPORT && (p.sport >= d[b + F_SPLO] && p.sport <= d[b + F_SPHI]) === ((f & (M_SPORT << INV)) !== 0)) return false;
      if (f & M_DPORT && (p.dport >= d[b + F_DPLO] && p.dport <= d[b + F_DPHI]) === ((f & (M_DPORT << INV)) !== 0)) return false;
      if (f & M_TCPF && ((p.tcpFlags & d[b + F_TCPMASK]) === d[b + F_TCPCOMP]) === ((f & (M_TCPF << INV)) !== 0)) return false;
      if (f & M_ICMP && this.icmpMatch(d, b, p) === ((f & (M_ICMP << INV)) !== 0)) return false;
      if (f & M_MPORT && this.mportMatch(d, b, p) === ((f & (M_MPORT << INV)) !== 0)) return false;
    }
    if (f & M_LEN && (p.len >= d[b + F_LENLO] && p.len <= d[b + F_LENHI]) === ((f & (M_LEN << INV)) !== 0)) return false;
    if (f & M_MARK && ((p.mark & d[b + F_MARKMASK]) === d[b + F_MARKVAL]) === ((f & (M_MARK << INV)) !== 0)) return false;
    return true;
  }

  private icmpMatch(d: Int32Array, b: number, p: NfPacket): boolean {
    if (p.icmpType < 0) return false;
    const t = d[b + F_ICMPTYPE];
    return t === 255 || (p.icmpType === t && p.icmpCode >= d[b + F_ICMPLO] && p.icmpCode <= d[b + F_ICMPHI]);
  }

  private mportMatch(d: Int32Array, b: number, p: NfPacket): boolean {
    const dir = d[b + F_MPDIR];
    for (let i = d[b + F_MPOFF], e = i + d[b + F_MPCNT]; i < e; i++) {
      const lo = this.mpLo[i];
      const hi = this.mpHi[i];
      if (dir & 1 && p.sport >= lo && p.sport <= hi) return true;
      if (dir & 2 && p.dport >= lo && p.dport <= hi) return true;
    }
    return false;
  }

  /** -i/-o by name with "+" wildcard, cached per device index (names of an index never change). */
  private ifMatch(r: number, side: number, dev: number): boolean {
    if (dev < 0 || dev > 255) return false;
    const at = r * 512 + side + dev;
    const c = this.ifCache[at];
    if (c !== 0) return c === 1;
    return this.ifResolve(r, side, dev, at);
  }

  private ifResolve(r: number, side: number, dev: number, at: number): boolean {
    const rule = this.rules[r];
    const pat = (side === 0 ? rule.iif : rule.oif)!.name;
    let name: string;
    try {
      name = String(this.devName(dev) ?? '');
    } catch {
      name = ''; // an index the device table does not know matches no name
    }
    const ok = pat.endsWith('+') ? name.startsWith(pat.slice(0, -1)) : name === pat;
    this.ifCache[at] = ok ? 1 : 2;
    return ok;
  }
}
