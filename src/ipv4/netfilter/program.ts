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
  // per rule
  private readonly flags: Int32Array;
  private readonly src: Int32Array;
  private readonly smask: Int32Array;
  private readonly dst: Int32Array;
  private readonly dmask: Int32Array;
  private readonly proto: Int32Array;
  private readonly spLo: Int32Array;
  private readonly spHi: Int32Array;
  private readonly dpLo: Int32Array;
  private readonly dpHi: Int32Array;
  private readonly tcpMask: Int32Array;
  private readonly tcpComp: Int32Array;
  private readonly icmpType: Int32Array;
  private readonly icmpLo: Int32Array;
  private readonly icmpHi: Int32Array;
  private readonly lenLo: Int32Array;
  private readonly lenHi: Int32Array;
  private readonly markVal: Int32Array;
  private readonly markMask: Int32Array;
  /** multiport: ranges [mpOff, mpOff+mpCnt) in mpLo/mpHi; mpDir 1 src, 2 dst, 3 either. */
  private readonly mpOff: Int32Array;
  private readonly mpCnt: Int32Array;
  private readonly mpDir: Int32Array;
  private readonly mpLo: Int32Array;
  private readonly mpHi: Int32Array;
  /** Interface match per (rule, in/out, device index): 0 unknown yet, 1 match, 2 no match. */
  private readonly ifCache: Uint8Array;
  private readonly target: Uint8Array;
  /** JUMP/GOTO: chain id; REJECT: code. */
  private readonly targ: Int32Array;
  private readonly tMarkVal: Int32Array;
  private readonly tMarkMask: Int32Array;
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
    const I = () => new Int32Array(n);
    this.flags = I();
    this.src = I();
    this.smask = I();
    this.dst = I();
    this.dmask = I();
    this.proto = I();
    this.spLo = I();
    this.spHi = I();
    this.dpLo = I();
    this.dpHi = I();
    this.tcpMask = I();
    this.tcpComp = I();
    this.icmpType = I();
    this.icmpLo = I();
    this.icmpHi = I();
    this.lenLo = I();
    this.lenHi = I();
    this.markVal = I();
    this.markMask = I();
    this.mpOff = I();
    this.mpCnt = I();
    this.mpDir = I();
    this.mpLo = new Int32Array(nmp);
    this.mpHi = new Int32Array(nmp);
    this.ifCache = new Uint8Array(n * 512);
    this.target = new Uint8Array(n);
    this.targ = I();
    this.tMarkVal = I();
    this.tMarkMask = I();
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
    let f = 0;
    const inv = (bit: number, i: boolean) => (f |= bit | (i ? bit << INV : 0));
    if (r.src) {
      inv(M_SRC, r.src.inv);
      this.src[k] = r.src.addr;
      this.smask[k] = maskOf(r.src.len);
    }
    if (r.dst) {
      inv(M_DST, r.dst.inv);
      this.dst[k] = r.dst.addr;
      this.dmask[k] = maskOf(r.dst.len);
    }
    if (r.iif) inv(M_IIF, r.iif.inv);
    if (r.oif) inv(M_OIF, r.oif.inv);
    if (r.proto && r.proto.num !== 0) {
      inv(M_PROTO, r.proto.inv);
      this.proto[k] = r.proto.num;
    }
    if (r.frag) inv(M_FRAG, r.frag.inv);
    if (r.sport) {
      inv(M_SPORT, r.sport.inv);
      this.spLo[k] = r.sport.lo;
      this.spHi[k] = r.sport.hi;
    }
    if (r.dport) {
      inv(M_DPORT, r.dport.inv);
      this.dpLo[k] = r.dport.lo;
      this.dpHi[k] = r.dport.hi;
    }
    if (r.tcpFlags) {
      inv(M_TCPF, r.tcpFlags.inv);
      this.tcpMask[k] = r.tcpFlags.mask;
      this.tcpComp[k] = r.tcpFlags.comp;
    }
    if (r.icmp) {
      inv(M_ICMP, r.icmp.inv);
      this.icmpType[k] = r.icmp.type;
      this.icmpLo[k] = r.icmp.lo;
      this.icmpHi[k] = r.icmp.hi;
    }
    if (r.multiport) {
      inv(M_MPORT, r.multiport.inv);
      this.mpOff[k] = mp;
      this.mpCnt[k] = r.multiport.list.length;
      this.mpDir[k] = r.multiport.dir === 'sports' ? 1 : r.multiport.dir === 'dports' ? 2 : 3;
      for (const [lo, hi] of r.multiport.list) {
        this.mpLo[mp] = lo;
        this.mpHi[mp++] = hi;
      }
    }
    if (r.length) {
      inv(M_LEN, r.length.inv);
      this.lenLo[k] = r.length.lo;
      this.lenHi[k] = r.length.hi;
    }
    if (r.mark) {
      inv(M_MARK, r.mark.inv);
      this.markVal[k] = r.mark.value;
      this.markMask[k] = r.mark.mask;
    }
    this.flags[k] = f;
    const t = r.target;
    this.pkts[k] = r.pkts;
    this.bytes[k] = r.bytes;
    switch (t.kind) {
      case 'NONE':
        this.target[k] = T_NONE;
        break;
      case 'ACCEPT':
        this.target[k] = T_ACCEPT;
        break;
      case 'DROP':
        this.target[k] = T_DROP;
        break;
      case 'RETURN':
        this.target[k] = T_RETURN;
        break;
      case 'REJECT':
        this.target[k] = T_REJECT;
        this.targ[k] = t.rejectWith!;
        break;
      case 'LOG':
        this.target[k] = T_LOG;
        break;
      case 'MARK':
        this.target[k] = T_MARK;
        this.tMarkVal[k] = t.markValue!;
        this.tMarkMask[k] = t.markMask!;
        break;
      case 'JUMP':
      case 'GOTO':
        this.target[k] = t.kind === 'JUMP' ? T_JUMP : T_GOTO;
        this.targ[k] = chainId(ci, t.chain!);
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
    const target = this.target;
    for (;;) {
      if (pc >= end) {
        if (sp === 0) break;
        sp--;
        pc = this.stPc[sp];
        end = this.stEnd[sp];
        continue;
      }
      const r = pc++;
      if (this.flags[r] !== 0 && !this.match(r, p)) continue;
      this.pkts[r]++;
      this.bytes[r] += p.len;
      const t = target[r];
      if (t === T_ACCEPT) return NF_ACCEPT;
      if (t === T_DROP) return NF_DROP;
      if (t === T_NONE) continue;
      if (t === T_JUMP || t === T_GOTO) {
        const to = this.targ[r];
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
        p.rejectWith = this.targ[r];
        return NF_REJECT;
      } else if (t === T_MARK) {
        p.mark = ((p.mark & ~this.tMarkMask[r]) ^ this.tMarkVal[r]) >>> 0;
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

  private match(r: number, p: NfPacket): boolean {
    const f = this.flags[r];
    if (f & M_SRC && (((p.saddr ^ this.src[r]) & this.smask[r]) === 0) === ((f & (M_SRC << INV)) !== 0)) return false;
    if (f & M_DST && (((p.daddr ^ this.dst[r]) & this.dmask[r]) === 0) === ((f & (M_DST << INV)) !== 0)) return false;
    if (f & M_PROTO && (p.proto === this.proto[r]) === ((f & (M_PROTO << INV)) !== 0)) return false;
    if (f & M_IIF && this.ifMatch(r, 0, p.iif) === ((f & (M_IIF << INV)) !== 0)) return false;
    if (f & M_OIF && this.ifMatch(r, 256, p.oif) === ((f & (M_OIF << INV)) !== 0)) return false;
    if (f & M_FRAG && (p.fragOff !== 0) === ((f & (M_FRAG << INV)) !== 0)) return false;
    if (f & M_L4) {
      if (p.fragOff !== 0) return false; // as xt_tcpudp/icmp: a later fragment has no header to match
      if (f & (M_SPORT | M_DPORT | M_MPORT) && p.sport < 0) return false;
      if (f & M_SPORT && (p.sport >= this.spLo[r] && p.sport <= this.spHi[r]) === ((f & (M_SPORT << INV)) !== 0)) return false;
      if (f & M_DPORT && (p.dport >= this.dpLo[r] && p.dport <= this.dpHi[r]) === ((f & (M_DPORT << INV)) !== 0)) return false;
      if (f & M_TCPF && ((p.tcpFlags & this.tcpMask[r]) === this.tcpComp[r]) === ((f & (M_TCPF << INV)) !== 0)) return false;
      if (f & M_ICMP && this.icmpMatch(r, p) === ((f & (M_ICMP << INV)) !== 0)) return false;
      if (f & M_MPORT && this.mportMatch(r, p) === ((f & (M_MPORT << INV)) !== 0)) return false;
    }
    if (f & M_LEN && (p.len >= this.lenLo[r] && p.len <= this.lenHi[r]) === ((f & (M_LEN << INV)) !== 0)) return false;
    if (f & M_MARK && ((p.mark & this.markMask[r]) === this.markVal[r]) === ((f & (M_MARK << INV)) !== 0)) return false;
    return true;
  }

  private icmpMatch(r: number, p: NfPacket): boolean {
    if (p.icmpType < 0) return false;
    const t = this.icmpType[r];
    return t === 255 || (p.icmpType === t && p.icmpCode >= this.icmpLo[r] && p.icmpCode <= this.icmpHi[r]);
  }

  private mportMatch(r: number, p: NfPacket): boolean {
    const dir = this.mpDir[r];
    for (let i = this.mpOff[r], e = i + this.mpCnt[r]; i < e; i++) {
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
