/** The typed-array columns that grow at setup or on rare growth steps (never per packet). */
export type Column = Uint8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float64Array;

/**
 * A column of the same type as `a`, `n` long (n >= a.length), holding a's values first and
 * `fill` (default 0) after them.
 */
export function grown<T extends Column>(a: T, n: number, fill = 0): T {
  const g = new (a.constructor as new (n: number) => T)(n);
  if (fill !== 0) g.fill(fill);
  g.set(a);
  return g;
}
