/** xorshift32: the next state. Never 0 for a nonzero start. */
export function xs32(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/** Deterministic xorshift32 (non-zero u32 per call), so a failing seed reproduces. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = xs32(s));
}

/** n payload bytes, the same for the same seed (a linear congruential generator's high bytes). */
export function pattern(n: number, seed = 1): Uint8Array {
  const p = new Uint8Array(n);
  let x = seed;
  for (let k = 0; k < n; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    p[k] = x >>> 24;
  }
  return p;
}
