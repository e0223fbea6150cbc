/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4; the kernel's before()/after()). Sequence
 * numbers are kept as non-negative numbers below 2^32; a - b taken as a signed 32-bit value says
 * which comes first, correct while they are less than 2^31 apart (always true in one window).
 */

/** a comes before b. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seqLeq(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a comes after b. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

export function seqGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** a + n, wrapped to 32 bits. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance from b to a (a - b). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** lo <= a <= hi, all modulo 2^32 (the kernel's between()). */
export function seqBetween(a: number, lo: number, hi: number): boolean {
  return ((hi - lo) >>> 0) >= ((a - lo) >>> 0);
}

/** The later of two sequence numbers. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) > 0 ? a : b;
}

export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) < 0 ? a : b;
}
