// The measuring half of the no-GC harness (test/support/nogc.ts starts it): runs in a child
// process of its own, started with --expose-gc, so the only code in the measured isolate is the
// load under test — not the test runner's RPC, console capture and timers, whose garbage would
// be counted against softnet. Prints one JSON line (NoGcResult) as its last output.
import { GCProfiler, getHeapStatistics } from 'node:v8';
import type { NoGcResult } from './nogc.ts';

declare const gc: (() => void) | undefined;

export interface NoGcLoad {
  /** JIT the stages and let the heap settle; not measured. */
  warm(): void | Promise<void>;
  /** The measured load; returns how many packets it processed. */
  run(): number | Promise<number>;
  /** Graphs whose sampled stage clock is switched off (it reads a clock that allocates). */
  graphs?: Array<{ sampleEvery: number }>;
  /** Extra fields for the result (counters, accounting), read after the run. */
  extra?(): Record<string, unknown>;
}

export async function measureNoGc(load: NoGcLoad): Promise<void> {
  if (typeof gc !== 'function') throw new Error('gc() missing: start this file with node --expose-gc (runNoGc in test/support/nogc.ts does)');
  for (const g of load.graphs ?? []) g.sampleEvery = 0;
  await load.warm();
  // Start from a collected heap, so garbage left by the warm-up cannot trigger a scavenge that
  // would be blamed on the measured run.
  gc();
  gc();
  // GCProfiler reports every GC synchronously at stop(): no observer callback to wait for.
  const prof = new GCProfiler();
  prof.start();
  const heap0 = getHeapStatistics().used_heap_size;
  const t0 = performance.now();
  const n = await load.run();
  const secs = (performance.now() - t0) / 1000;
  const heap1 = getHeapStatistics().used_heap_size;
  const stats = prof.stop()?.statistics ?? [];
  gc();
  const heap2 = getHeapStatistics().used_heap_size;
  const r: NoGcResult = {
    n,
    secs,
    gcs: stats.map((s) => ({ type: s.gcType, ms: s.cost / 1000 })),
    allocated: heap1 - heap0,
    retained: heap2 - heap0,
    extra: load.extra?.() ?? {},
  };
  process.stdout.write('\n' + JSON.stringify(r) + '\n');
}
