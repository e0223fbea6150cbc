/**
 * The hot-path clock: ms on the performance.now() scale, in coarseClock[0]. performance.now()
 * allocates in Node 20 (it builds an hrtime array; a returned double is a heap number), which at
 * millions of packets per second means scavenges. tick() has the addon write CLOCK_MONOTONIC
 * into coarseClock instead (no allocation); stages read coarseClock[0] as of the last tick().
 */
import { native, type NativeAddon } from '../driver/native.ts';

export const coarseClock = new Float64Array(1);

let addon: NativeAddon | null = null;
try {
  addon = native();
  addon.clockInit(coarseClock, performance.now());
} catch {
  // No addon (not built): core still runs on memory ports, with the allocating clock.
  addon = null;
}

/** Read the clock into coarseClock and return it. */
export function tick(): number {
  if (addon !== null) addon.clockNow();
  else coarseClock[0] = performance.now();
  return coarseClock[0];
}
