// IR -> eBPF. Each value slot lives in the 512-byte stack (r10 - 8 * (slot + 1)); an operation
// loads its operands into r1/r2, computes, and stores r1 back. r6 = ctx->data, r7 =
// ctx->data_end and r8 = ctx stay in callee-saved registers for the whole program, so every
// packet read is `off <= 0x7fff; r2 = r6 + off; if r2 + size > r7 goto absent`, the guard the
// verifier needs. Every instruction records the source position of the IR operation it came
// from: the per-instruction source map verifier rejections are mapped back with.
import {
  BPF_DIV, BPF_FUNC_ktime_get_ns, BPF_FUNC_map_delete_elem, BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem, BPF_FUNC_redirect_map, BPF_PSEUDO_MAP_FD, R4, R9, XDP_MD_RX_QUEUE_INDEX,
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_B, BPF_CALL, BPF_DW, BPF_END, BPF_EXIT, BPF_FUNC_xdp_get_buff_len, BPF_H, BPF_IMM, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT,
  BPF_JMP, BPF_JNE, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_PSEUDO_MAP_VALUE,
  BPF_RSH, BPF_ST, BPF_STX, BPF_SUB, BPF_TO_BE, BPF_W, BPF_X, BPF_XOR, insn, R0, R1, R10, R2, R3, R6, R7, R8, XDP_MD_DATA, XDP_MD_DATA_END, type Insn,
} from './insn.ts';
import type { AluFn, Cond, IrProgram, Loc, Opnd } from './ir.ts';
import { isK } from './ir.ts';
import { forwardLoads } from './forward.ts';

export interface Emitted {
  insns: Insn[];
  /** Source position of each instruction (both slots of an ld_imm64). */
  srcmap: Loc[];
  /** Instructions whose imm must be patched with the read-only data map's fd before loading. */
  rodataRelocs: number[];
  /** Size of the read-only data map's one value (all tables). */
  rodataSize: number;
  /** ld_imm64 of a map fd to patch: an index into the program's maps, or STATS_MAP / XSK_MAP / CLOCK_MAP. */
  mapRelocs: Array<{ pc: number; map: number }>;
}

/** The per-CPU verdict counters (5 u64, by verdict), the XSKMAP "to user space" goes through, the test clock. */
export const STATS_MAP = -1;
export const XSK_MAP = -2;
export const CLOCK_MAP = -3;

export interface EmitOptions {
  /** `map`: ctx.nowMs reads a 1-entry array map (CLOCK_MAP) the caller sets, for tests; else bpf_ktime_get_ns. */
  clock?: 'ktime' | 'map';
}

const ALU: Record<AluFn, number> = { add: BPF_ADD, sub: BPF_SUB, mul: BPF_MUL, and: BPF_AND, or: BPF_OR, xor: BPF_XOR, lsh: BPF_LSH, rsh: BPF_RSH, arsh: BPF_ARSH, mod: BPF_MOD };
const JMP: Record<Cond, number> = { eq: BPF_JEQ, ne: BPF_JNE, slt: BPF_JSLT, sle: BPF_JSLE, sgt: BPF_JSGT, sge: BPF_JSGE, ugt: BPF_JGT, uge: BPF_JGE };
/** a cc b == b swap(cc) a */
const SWAP: Record<Cond, Cond> = { eq: 'eq', ne: 'ne', slt: 'sgt', sle: 'sge', sgt: 'slt', sge: 'sle', ugt: 'ugt', uge: 'uge' };
const SIZE: Record<number, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };
/** Larger offsets are never inside an XDP frame (a page at most); keeps the verifier's pkt range arithmetic bounded. */
const MAX_PKT_OFF = 0x7fff;

const fitsImm = (k: bigint) => k >= -(2n ** 31n) && k < 2n ** 31n;
const slotOff = (s: number) => -8 * (s + 1);

export function emit(p: IrProgram, opts: EmitOptions = {}): Emitted {
  const out: Insn[] = [];
  const mapRelocs: Array<{ pc: number; map: number }> = [];
  // Scratch after the value slots (the lowering reserved it): a map key, then a map value.
  const valSlots = Math.max(0, ...p.maps.map((m) => (m.valueSize + 7) >> 3));
  const keyOff = slotOff(p.slots);
  const valOff = slotOff(p.slots + valSlots);
  const srcmap: Loc[] = [];
  const relocs: number[] = [];
  const labels = new Map<number, number>();
  const fix: Array<{ pc: number; label: number }> = [];
  let loc: Loc = { line: 1, col: 1 };
  const put = (i: Insn) => {
    out.push(i);
    srcmap.push(loc);
    return out.length - 1;
  };
  /** reg = constant (mov for 32-bit immediates, ld_imm64 otherwise). */
  const movK = (r: number, k: bigint) => {
    if (fitsImm(k)) put(insn(BPF_ALU64 | BPF_MOV | BPF_K, r, 0, 0, Number(k)));
    else {
      const u = BigInt.asUintN(64, k);
      put(insn(BPF_LD | BPF_DW | BPF_IMM, r, 0, 0, Number(BigInt.asIntN(32, u & 0xffffffffn))));
      put(insn(0, 0, 0, 0, Number(BigInt.asIntN(32, u >> 32n))));
    }
  };
  const load = (r: number, o: Opnd) => (isK(o) ? movK(r, o.k) : put(insn(BPF_LDX | BPF_MEM | BPF_DW, r, R10, slotOff(o.s), 0)));
  const store = (s: number, r: number) => put(insn(BPF_STX | BPF_MEM | BPF_DW, R10, r, slotOff(s), 0));
  const ldMap = (r: number, map: number) => {
    mapRelocs.push({ pc: put(insn(BPF_LD | BPF_DW | BPF_IMM, r, BPF_PSEUDO_MAP_FD, 0, 0)), map });
    put(insn(0, 0, 0, 0, 0));
  };
  const STX: Record<number, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };
  /** The key at r10 + keyOff, r1 = the map, r2 = &key: ready for a map helper. */
  const keyArgs = (map: number, key: Opnd) => {
    load(R1, key);
    put(insn(BPF_STX | BPF_MEM | STX[p.maps[map].keySize], R10, R1, keyOff, 0));
    ldMap(R1, map);
    put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R2, R10, 0, 0));
    put(insn(BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, keyOff));
  };
  const call = (fn: number) => put(insn(BPF_JMP | BPF_CALL, 0, 0, 0, fn));
  const epilogue: number[] = [];
  /** A jump inside one operation's code, patched when `here` is placed. */
  const local = () => {
    const sites: number[] = [];
    return {
      from: (pc: number) => sites.push(pc),
      here: () => {
        for (const pc of sites) out[pc].off = out.length - pc - 1;
      },
    };
  };

  // Prologue: keep ctx, data and data_end.
  put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R8, R1, 0, 0));
  put(insn(BPF_LDX | BPF_MEM | BPF_W, R6, R1, XDP_MD_DATA, 0));
  put(insn(BPF_LDX | BPF_MEM | BPF_W, R7, R1, XDP_MD_DATA_END, 0));

  const ops = peephole(p);
  for (const o of ops) {
    loc = o.loc;
    switch (o.op) {
      case 'label':
        labels.set(o.label, out.length);
        break;
      case 'mov':
        if (isK(o.a) && fitsImm(o.a.k)) put(insn(BPF_ST | BPF_MEM | BPF_DW, R10, 0, slotOff(o.d), Number(o.a.k)));
        else {
          load(R1, o.a);
          store(o.d, R1);
        }
        break;
      case 'alu': {
        const cls = o.w32 ? BPF_ALU : BPF_ALU64;
        load(R1, o.a);
        const shift = o.fn === 'lsh' || o.fn === 'rsh' || o.fn === 'arsh';
        if (isK(o.b) && fitsImm(o.b.k)) put(insn(cls | ALU[o.fn] | BPF_K, R1, 0, 0, Number(o.b.k)));
        else {
          load(R2, o.b);
          // JS shifts by count & 31; BPF leaves larger counts undefined.
          if (shift) put(insn(BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 31));
          put(insn(cls | ALU[o.fn] | BPF_X, R1, R2, 0, 0));
        }
        if (o.sext) {
          put(insn(BPF_ALU64 | BPF_LSH | BPF_K, R1, 0, 0, 32));
          put(insn(BPF_ALU64 | BPF_ARSH | BPF_K, R1, 0, 0, 32));
        }
        store(o.d, R1);
        break;
      }
      case 'neg':
        load(R1, o.a);
        put(insn(BPF_ALU64 | BPF_NEG, R1, 0, 0, 0));
        store(o.d, R1);
        break;
      case 'pkt': {
        const absent = local();
        const done = local();
        if (isK(o.off)) {
          put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R2, R6, 0, 0));
          put(insn(BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, Number(o.off.k)));
        } else {
          load(R1, o.off);
          // Unsigned: negative offsets are huge and fail here too, as the JS accessor's off < 0.
          absent.from(put(insn(BPF_JMP | BPF_JGT | BPF_K, R1, 0, 0, MAX_PKT_OFF)));
          put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R2, R6, 0, 0));
          put(insn(BPF_ALU64 | BPF_ADD | BPF_X, R2, R1, 0, 0));
        }
        put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R2, 0, 0));
        put(insn(BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, o.size));
        absent.from(put(insn(BPF_JMP | BPF_JGT | BPF_X, R3, R7, 0, 0)));
        put(insn(BPF_LDX | BPF_MEM | SIZE[o.size], R1, R2, 0, 0));
        if (o.size > 1) put(insn(BPF_ALU | BPF_END | BPF_TO_BE, R1, 0, 0, o.size * 8));
        done.from(put(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0)));
        absent.here();
        put(insn(BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, -1));
        done.here();
        store(o.d, R1);
        break;
      }
      case 'len':
        put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R8, 0, 0));
        put(insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_xdp_get_buff_len));
        store(o.d, R0);
        break;
      case 'tbl': {
        const t = p.tables[o.table];
        const oob = local();
        const done = local();
        load(R1, o.idx);
        // Proved in range by the lowering; the check is for the verifier (map value bounds).
        oob.from(put(insn(BPF_JMP | BPF_JGE | BPF_K, R1, 0, 0, t.values.length)));
        relocs.push(put(insn(BPF_LD | BPF_DW | BPF_IMM, R2, BPF_PSEUDO_MAP_VALUE, 0, 0)));
        put(insn(0, 0, 0, 0, t.offset));
        if (t.size > 1) put(insn(BPF_ALU64 | BPF_LSH | BPF_K, R1, 0, 0, Math.log2(t.size)));
        put(insn(BPF_ALU64 | BPF_ADD | BPF_X, R2, R1, 0, 0));
        put(insn(BPF_LDX | BPF_MEM | SIZE[t.size], R1, R2, 0, 0));
        if (t.signed && t.size < 8) {
          put(insn(BPF_ALU64 | BPF_LSH | BPF_K, R1, 0, 0, 64 - 8 * t.size));
          put(insn(BPF_ALU64 | BPF_ARSH | BPF_K, R1, 0, 0, 64 - 8 * t.size));
        }
        done.from(put(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0)));
        oob.here();
        put(insn(BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, 0));
        done.here();
        store(o.d, R1);
        break;
      }
      case 'jcc': {
        let { a, b, cc } = o;
        if (isK(a) && !isK(b)) {
          [a, b] = [b, a];
          cc = SWAP[cc];
        }
        load(R1, a);
        if (isK(b) && fitsImm(b.k)) fix.push({ pc: put(insn(BPF_JMP | JMP[cc] | BPF_K, R1, 0, 0, Number(b.k))), label: o.label });
        else {
          load(R2, b);
          fix.push({ pc: put(insn(BPF_JMP | JMP[cc] | BPF_X, R1, R2, 0, 0)), label: o.label });
        }
        break;
      }
      case 'ja':
        fix.push({ pc: put(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0)), label: o.label });
        break;
      case 'ret':
        // Every return goes through the epilogue: count the verdict, redirect PASS to the socket.
        load(R9, o.a);
        epilogue.push(put(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0)));
        break;
      case 'now':
        if (opts.clock === 'map') {
          const absent = local();
          const done = local();
          put(insn(BPF_ST | BPF_MEM | BPF_W, R10, 0, keyOff, 0));
          ldMap(R1, CLOCK_MAP);
          put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R2, R10, 0, 0));
          put(insn(BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, keyOff));
          call(BPF_FUNC_map_lookup_elem);
          absent.from(put(insn(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, 0)));
          put(insn(BPF_LDX | BPF_MEM | BPF_DW, R1, R0, 0, 0));
          done.from(put(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0)));
          absent.here();
          put(insn(BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, 0));
          done.here();
          store(o.d, R1);
        } else {
          call(BPF_FUNC_ktime_get_ns);
          put(insn(BPF_ALU64 | BPF_DIV | BPF_K, R0, 0, 0, 1_000_000));
          store(o.d, R0);
        }
        break;
      case 'mget': {
        const absent = local();
        const done = local();
        keyArgs(o.map, o.key);
        call(BPF_FUNC_map_lookup_elem);
        absent.from(put(insn(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, 0)));
        if (o.has) put(insn(BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, 1));
        else {
          put(insn(BPF_LDX | BPF_MEM | SIZE[o.size], R1, R0, o.off, 0));
          if (o.signed && o.size < 8) {
            put(insn(BPF_ALU64 | BPF_LSH | BPF_K, R1, 0, 0, 64 - 8 * o.size));
            put(insn(BPF_ALU64 | BPF_ARSH | BPF_K, R1, 0, 0, 64 - 8 * o.size));
          }
        }
        done.from(put(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0)));
        absent.here();
        put(insn(BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, 0));
        done.here();
        store(o.d, R1);
        break;
      }
      case 'mset': {
        // In place when the entry exists; else a value of zeros with the field set, inserted.
        const create = local();
        const done = local();
        const def = p.maps[o.map];
        keyArgs(o.map, o.key);
        call(BPF_FUNC_map_lookup_elem);
        create.from(put(insn(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 0, 0)));
        load(R1, o.a);
        put(insn(BPF_STX | BPF_MEM | STX[o.size], R0, R1, o.off, 0));
        done.from(put(insn(BPF_JMP | BPF_JA, 0, 0, 0, 0)));
        create.here();
        for (let b = 0; b < def.valueSize; b += 8) put(insn(BPF_ST | BPF_MEM | BPF_DW, R10, 0, valOff + b, 0));
        load(R1, o.a);
        put(insn(BPF_STX | BPF_MEM | STX[o.size], R10, R1, valOff + o.off, 0));
        ldMap(R1, o.map);
        put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R2, R10, 0, 0));
        put(insn(BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, keyOff));
        put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R10, 0, 0));
        put(insn(BPF_ALU64 | BPF_ADD | BPF_K, R3, 0, 0, valOff));
        put(insn(BPF_ALU64 | BPF_MOV | BPF_K, R4, 0, 0, 0)); // BPF_ANY; a full map refuses (E2BIG), as JS's set does nothing
        call(BPF_FUNC_map_update_elem);
        done.here();
        break;
      }
      case 'mdel': {
        keyArgs(o.map, o.key);
        call(BPF_FUNC_map_delete_elem);
        // 0: deleted -> 1; an error (no entry, an array) -> 0.
        put(insn(BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, 1));
        put(insn(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 1, 0));
        put(insn(BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, 0));
        store(o.d, R1);
        break;
      }
    }
  }
  // The epilogue: r9 = the verdict (0..4, the lowering clamped it). Count it per CPU, then PASS
  // ("to user space" in the JS hook's meaning) is a redirect to this queue's AF_XDP socket;
  // a queue without one passes the frame to the kernel's stack, as the redirect program does.
  const epi = out.length;
  for (const pc of epilogue) out[pc].off = epi - pc - 1;
  if (epilogue.length > 0) {
    put(insn(BPF_STX | BPF_MEM | BPF_W, R10, R9, keyOff, 0));
    ldMap(R1, STATS_MAP);
    put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R2, R10, 0, 0));
    put(insn(BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, keyOff));
    call(BPF_FUNC_map_lookup_elem);
    put(insn(BPF_JMP | BPF_JEQ | BPF_K, R0, 0, 3, 0));
    put(insn(BPF_LDX | BPF_MEM | BPF_DW, R1, R0, 0, 0));
    put(insn(BPF_ALU64 | BPF_ADD | BPF_K, R1, 0, 0, 1));
    put(insn(BPF_STX | BPF_MEM | BPF_DW, R0, R1, 0, 0));
    const toOut = put(insn(BPF_JMP | BPF_JNE | BPF_K, R9, 0, 0, 2));
    put(insn(BPF_LDX | BPF_MEM | BPF_W, R2, R8, XDP_MD_RX_QUEUE_INDEX, 0));
    ldMap(R1, XSK_MAP);
    put(insn(BPF_ALU64 | BPF_MOV | BPF_K, R3, 0, 0, 2));
    call(BPF_FUNC_redirect_map);
    put(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    out[toOut].off = out.length - toOut - 1;
    put(insn(BPF_ALU64 | BPF_MOV | BPF_X, R0, R9, 0, 0));
    put(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  }
  for (const f of fix) {
    const to = labels.get(f.label);
    if (to === undefined) throw new Error(`bpf emit: label L${f.label} never placed`);
    const off = to - f.pc - 1;
    if (off < -32768 || off > 32767) throw new Error(`bpf emit: jump of ${off} instructions does not fit (program too large)`);
    out[f.pc].off = off;
  }
  const last = p.tables[p.tables.length - 1];
  const rodataSize = last === undefined ? 0 : (last.offset + last.size * last.values.length + 7) & ~7;
  return { ...forwardLoads(out, srcmap, relocs, mapRelocs), rodataSize };
}

/** Drop jumps to the label that follows them (the lowering's uniform branches leave many). */
function peephole(p: IrProgram) {
  const ops = p.ops;
  const keep: typeof ops = [];
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    if (o.op === 'ja' || o.op === 'jcc') {
      let j = i + 1;
      let next = false;
      while (j < ops.length && ops[j].op === 'label') {
        if ((ops[j] as { label: number }).label === o.label) next = true;
        j++;
      }
      if (next) continue;
    }
    keep.push(o);
  }
  return keep;
}
