import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { bounceStack } from './core-loop.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// A full GC on demand (the test runner does not pass --expose-gc): start the measured window
// with an empty young generation, and tell garbage (collected) from growth (retained) after it.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('steady state allocates nothing', () => {
  it('10M frames through xdp, eth-input and dev-xmit on the real poll loop: no GC, no heap growth', async () => {
    const s = bounceStack(2000);
    const frames = () => s.napi.work;
    s.napi.start();
    // Warm-up: JIT the stages, let the heap settle.
    while (frames() < 2_000_000) await sleep(20);
    s.napi.stop();
    gc();
    const gcs: string[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcs.push(`kind ${(e as unknown as { detail: { kind: number } }).detail.kind} ${e.duration.toFixed(2)} ms`);
    });
    obs.observe({ entryTypes: ['gc'] });
    const heap0 = getHeapStatistics().used_heap_size;
    const f0 = frames();
    const t0 = performance.now();
    s.napi.start();
    // Poll the count rarely: the test's own timers allocate too.
    while (frames() - f0 < 10_000_000 && performance.now() - t0 < 25_000) await sleep(100);
    s.napi.stop();
    const secs = (performance.now() - t0) / 1000;
    const n = frames() - f0;
    const heap1 = getHeapStatistics().used_heap_size;
    await sleep(10);
    obs.disconnect();
    gc();
    const heap2 = getHeapStatistics().used_heap_size;
    console.log(
      `no-GC run: ${(n / 1e6).toFixed(1)} M frames in ${secs.toFixed(1)} s (${(n / secs / 1e6).toFixed(2)} Mpps, ` +
        `${s.napi.rounds} rounds, ${s.napi.turns} turns), GCs: ${gcs.length} ${gcs.slice(0, 3).join('; ')}; ` +
        `allocated ${((heap1 - heap0) / 1e3).toFixed(0)} kB (${((heap1 - heap0) / n).toFixed(3)} B/frame, mostly one Immediate per turn ` +
        `and the sampled stage clock), retained after GC ${((heap2 - heap0) / 1e3).toFixed(0)} kB`,
    );
    expect(n).toBeGreaterThanOrEqual(10_000_000);
    expect(gcs).toEqual([]);
    // Garbage is bounded per round/turn, not per frame...
    expect((heap1 - heap0) / n).toBeLessThan(0.25);
    // ...and nothing is retained.
    expect(heap2 - heap0).toBeLessThan(256 * 1024);
    // Frame accounting: every frame is free or waiting in a port's queue; nothing was dropped.
    expect(s.pool.available + s.a.pending() + s.b.pending()).toBe(s.pool.total);
    expect(Object.values(s.graph.drops.toJSON()).every((v) => v === 0)).toBe(true);
  }, 60_000);
});
