/**
 * The hot-path clock: ms on the performance.now() scale, in coarseClock[0]. performance.now()
 * allocates in Node 20 (it builds an hrtime array; a returned double is a heap number), which at
 * millions of packets per second means scavenges. tick() has the addon write CLOCK_MONOTONIC
 * into coarseClock instead (no allocation); stages read coarseClock[0] as of the last tick().
 */
import { createRequire } from 'node:module';

export const coarseClock = new Float64Array(1);

interface ClockAddon {
  clockInit(slot: Float64Array, nowMs: number): void;
  clockNow(): void;
}

let addon: ClockAddon | null = null;
try {
  // The driver's addon, loaded directly: core must work where it failed to build (then the
  // clock falls back to performance.now()).
  addon = createRequire(import.meta.url)('../../build/Release/softnet.node') as ClockAddon;
  addon.clockInit(coarseClock, performance.now());
} catch {
  addon = null;
}

/** Read the clock into coarseClock and return it. */
export function tick(): number {
  if (addon !== null) addon.clockNow();
  else coarseClock[0] = performance.now();
  return coarseClock[0];
}
