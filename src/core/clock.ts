/**
 * A coarse clock for the hot path: ms on the performance.now() scale, written by the poll loop
 * once per round (and by tick()). Reading it is a typed-array load. Every real clock call in
 * Node 20 allocates (performance.now() builds an hrtime array, Date.now() a heap number), so at
 * millions of packets per second stages must not call them per batch: read coarseClock[0].
 */
export const coarseClock = new Float64Array(1);

/** Read the real clock (one small allocation) and publish it to coarseClock. */
export function tick(): number {
  const t = performance.now();
  coarseClock[0] = t;
  return t;
}
