// The lowering's abstract domain: every value's static range (lo..hi, bigint), what a comparison
// decides or narrows, the ranges of the 32-bit bitwise operators, and JS's result for constant
// operands (fold). Pure functions of ranges; the Lowerer keeps one range per live slot.
import type { Cond, Opnd } from './ir.ts';
import { isK } from './ir.ts';

export const MAX_SAFE = 2n ** 53n;
export const I32_MIN = -(2n ** 31n);
export const I32_MAX = 2n ** 31n - 1n;
export const U32_MAX = 2n ** 32n - 1n;

export interface Range {
  lo: bigint;
  hi: bigint;
}
/** Abstract state at a program point: the range of each live slot. */
export type State = Map<number, Range>;

export const range = (lo: bigint, hi: bigint): Range => ({ lo, hi });
export const min = (...x: bigint[]) => x.reduce((a, b) => (a < b ? a : b));
export const max = (...x: bigint[]) => x.reduce((a, b) => (a > b ? a : b));
const toInt32 = (v: bigint) => BigInt.asIntN(32, v);
const toUint32 = (v: bigint) => BigInt.asUintN(32, v);

export type BinFn = 'add' | 'sub' | 'mul' | 'mod' | 'and' | 'or' | 'xor' | 'lsh' | 'rsh' | 'arsh' | 'imul';

/** JS's result for constant operands (both exact integers within ±2^53 here). */
export function fold(fn: BinFn, a: bigint, b: bigint): bigint {
  switch (fn) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'mod':
      return a % b;
    case 'and':
      return toInt32(toInt32(a) & toInt32(b));
    case 'or':
      return toInt32(toInt32(a) | toInt32(b));
    case 'xor':
      return toInt32(toInt32(a) ^ toInt32(b));
    case 'imul':
      return toInt32(toInt32(a) * toInt32(b));
    case 'lsh':
      return toInt32(toInt32(a) << (b & 31n));
    case 'arsh':
      return toInt32(a) >> (b & 31n);
    case 'rsh':
      return toUint32(a) >> (b & 31n);
  }
}

/** Range of a & | ^ b as JS int32, tight where both are small non-negatives. */
export function bitRange(fn: 'and' | 'or' | 'xor', ra: Range, rb: Range): Range {
  const nn = (r: Range) => r.lo >= 0n && r.hi <= I32_MAX;
  if (fn === 'and') {
    // x & m with m a non-negative int32: the result is within [0, m] whatever x is.
    if (rb.lo === rb.hi && rb.lo >= 0n && rb.lo <= I32_MAX) return range(0n, rb.lo);
    if (ra.lo === ra.hi && ra.lo >= 0n && ra.lo <= I32_MAX) return range(0n, ra.lo);
    if (nn(ra) && nn(rb)) return range(0n, min(ra.hi, rb.hi));
    if (nn(ra)) return range(0n, ra.hi);
    if (nn(rb)) return range(0n, rb.hi);
    return range(I32_MIN, I32_MAX);
  }
  if (nn(ra) && nn(rb)) {
    const bits = BigInt(max(ra.hi, rb.hi).toString(2).length);
    return range(0n, (1n << bits) - 1n);
  }
  return range(I32_MIN, I32_MAX);
}

/** The outcome of a cc b when the ranges decide it, else null. */
export function decide(cc: Cond, a: Range, b: Range): boolean | null {
  switch (cc) {
    case 'eq':
      if (a.lo === a.hi && b.lo === b.hi) return a.lo === b.lo;
      return a.hi < b.lo || b.hi < a.lo ? false : null;
    case 'ne': {
      const d = decide('eq', a, b);
      return d === null ? null : !d;
    }
    case 'slt':
      return a.hi < b.lo ? true : a.lo >= b.hi ? false : null;
    case 'sle':
      return a.hi <= b.lo ? true : a.lo > b.hi ? false : null;
    case 'sgt':
      return decide('slt', b, a);
    case 'sge':
      return decide('sle', b, a);
    case 'ugt':
    case 'uge':
      // Unsigned: only for non-negative ranges (the return clamp and the emitter's checks).
      if (a.lo < 0n || b.lo < 0n) return null;
      return cc === 'ugt' ? decide('sgt', a, b) : decide('sge', a, b);
  }
}

/** The opposite condition (ule/ult only for narrowing: the IR has no jumps on them). */
export function negate(cc: Cond): string {
  return ({ eq: 'ne', ne: 'eq', slt: 'sge', sge: 'slt', sle: 'sgt', sgt: 'sle', ugt: 'ule', uge: 'ult' } as Record<Cond, string>)[cc];
}

/** Narrow the ranges in `st` for the path where a cc b holds. */
export function narrow(st: State, cc: Cond | string, a: Opnd, b: Opnd, ra: Range, rb: Range): void {
  const set = (o: Opnd, r: Range) => {
    if (!isK(o) && r.lo <= r.hi) st.set(o.s, r);
  };
  switch (cc) {
    case 'eq': {
      const r = range(max(ra.lo, rb.lo), min(ra.hi, rb.hi));
      set(a, r);
      set(b, r);
      break;
    }
    case 'ne':
      if (rb.lo === rb.hi) set(a, range(ra.lo === rb.lo ? ra.lo + 1n : ra.lo, ra.hi === rb.lo ? ra.hi - 1n : ra.hi));
      if (ra.lo === ra.hi) set(b, range(rb.lo === ra.lo ? rb.lo + 1n : rb.lo, rb.hi === ra.lo ? rb.hi - 1n : rb.hi));
      break;
    case 'slt':
      set(a, range(ra.lo, min(ra.hi, rb.hi - 1n)));
      set(b, range(max(rb.lo, ra.lo + 1n), rb.hi));
      break;
    case 'sle':
      set(a, range(ra.lo, min(ra.hi, rb.hi)));
      set(b, range(max(rb.lo, ra.lo), rb.hi));
      break;
    case 'sgt':
      narrow(st, 'slt', b, a, rb, ra);
      break;
    case 'sge':
      narrow(st, 'sle', b, a, rb, ra);
      break;
    case 'ule':
    case 'ult':
      // a u<= b with a non-negative constant b: a is in [0, b] (negatives are huge unsigned).
      if (rb.lo === rb.hi && rb.lo >= 0n) set(a, range(max(ra.lo, 0n), min(ra.hi, cc === 'ult' ? rb.lo - 1n : rb.lo)));
      break;
    default:
      break; // ugt/uge: the values may be negative ones; leave them
  }
}
