// The compiler's intermediate form: a straight list of three-address operations over numbered
// value slots, forward jumps to labels, no loops (the lowering unrolls them), each operation
// carrying the source position it came from (the per-instruction source map starts here).
// Values are 64-bit two's complement integers; the lowering has already proved every value stays
// within ±2^53, where that equals the JS number the same filter computes.

import type { MapSpec } from '../core/xdp-map.ts';

/** A position in the filter's source: 1-based line and column. */
export interface Loc {
  line: number;
  col: number;
}

/** An operand: a value slot or a constant. */
export type Opnd = { s: number } | { k: bigint };

export type AluFn = 'add' | 'sub' | 'mul' | 'and' | 'or' | 'xor' | 'lsh' | 'rsh' | 'arsh' | 'mod';
/** Jump conditions: signed comparisons on 64-bit values (what JS's <, ===... mean on our subset). */
export type Cond = 'eq' | 'ne' | 'slt' | 'sle' | 'sgt' | 'sge' | 'ugt' | 'uge';

export type IrOp =
  | { op: 'mov'; d: number; a: Opnd }
  /** d = a fn b. w32: the 32-bit ALU (result zero-extended); sext: then sign-extend bit 31 (JS int32 results). */
  | { op: 'alu'; fn: AluFn; w32: boolean; sext: boolean; d: number; a: Opnd; b: Opnd }
  | { op: 'neg'; d: number; a: Opnd }
  /** d = the big-endian size-byte value at data + off, or -1 when [off, off + size) is not inside the frame. */
  | { op: 'pkt'; d: number; off: Opnd; size: 1 | 2 | 4 }
  /** d = frame length (data_end - data). */
  | { op: 'len'; d: number }
  /** d = table element; idx is proved in [0, n) by the lowering (the emitter still checks, for the verifier). */
  | { op: 'tbl'; d: number; table: number; idx: Opnd }
  /** d = milliseconds of CLOCK_MONOTONIC (bpf_ktime_get_ns() / 10^6), ctx.nowMs. */
  | { op: 'now'; d: number }
  /** d = field (off, size, signed) of map[key] or 0 when absent; `has`: d = 1/0, is there an entry. */
  | { op: 'mget'; d: number; map: number; key: Opnd; off: number; size: 1 | 2 | 4 | 8; signed: boolean; has: boolean }
  /** map[key].field = a: in place when the entry exists, else a new entry of zeros with the field set (bpf_map_update_elem). */
  | { op: 'mset'; map: number; key: Opnd; off: number; size: 1 | 2 | 4 | 8; a: Opnd }
  /** d = 1 when an entry was deleted (never for arrays: the kernel refuses). */
  | { op: 'mdel'; d: number; map: number; key: Opnd }
  | { op: 'jcc'; cc: Cond; a: Opnd; b: Opnd; label: number }
  | { op: 'ja'; label: number }
  | { op: 'label'; label: number }
  | { op: 'ret'; a: Opnd };

export type Ir = IrOp & { loc: Loc };

/** A module-level constant table, laid out in the read-only data map. */
export interface Table {
  name: string;
  /** Element size in bytes and signedness (from the typed array, or the values of an array literal). */
  size: 1 | 2 | 4 | 8;
  signed: boolean;
  values: bigint[];
  /** Byte offset in the read-only data map. */
  offset: number;
}

/** A map the module declares with defineMap (src/core/xdp-map.ts), in declaration order. */
export interface MapDef {
  name: string;
  spec: MapSpec;
  keySize: 1 | 2 | 4 | 8;
  valueSize: number;
}

export interface IrProgram {
  ops: Ir[];
  slots: number;
  tables: Table[];
  maps: MapDef[];
}

export const isK = (o: Opnd): o is { k: bigint } => 'k' in o;

const opnd = (o: Opnd) => (isK(o) ? String(o.k) : `v${o.s}`);

/** The IR as text (for --dump and tests). */
export function formatIr(p: IrProgram): string[] {
  return p.ops.map((o) => {
    const at = `${o.loc.line}:${o.loc.col}`.padEnd(8);
    switch (o.op) {
      case 'mov':
        return `${at}v${o.d} = ${opnd(o.a)}`;
      case 'alu':
        return `${at}v${o.d} = ${o.fn}${o.w32 ? '32' : ''}${o.sext ? '.sx' : ''} ${opnd(o.a)}, ${opnd(o.b)}`;
      case 'neg':
        return `${at}v${o.d} = -${opnd(o.a)}`;
      case 'pkt':
        return `${at}v${o.d} = pkt.u${o.size * 8}[${opnd(o.off)}]`;
      case 'len':
        return `${at}v${o.d} = pkt.len`;
      case 'tbl':
        return `${at}v${o.d} = ${p.tables[o.table].name}[${opnd(o.idx)}]`;
      case 'now':
        return `${at}v${o.d} = now_ms`;
      case 'mget':
        return `${at}v${o.d} = ${o.has ? 'has ' : ''}${p.maps[o.map].name}[${opnd(o.key)}]${o.has ? '' : `.${o.signed ? 'i' : 'u'}${o.size * 8}@${o.off}`}`;
      case 'mset':
        return `${at}${p.maps[o.map].name}[${opnd(o.key)}].u${o.size * 8}@${o.off} = ${opnd(o.a)}`;
      case 'mdel':
        return `${at}v${o.d} = delete ${p.maps[o.map].name}[${opnd(o.key)}]`;
      case 'jcc':
        return `${at}if ${opnd(o.a)} ${o.cc} ${opnd(o.b)} goto L${o.label}`;
      case 'ja':
        return `${at}goto L${o.label}`;
      case 'label':
        return `L${o.label}:`;
      case 'ret':
        return `${at}return ${opnd(o.a)}`;
    }
  });
}
