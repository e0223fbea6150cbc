// The 10M-frame steady-state measurement, run in its own process (see core-nogc.test.ts): the
// test runner's own machinery (RPC, console capture, timers) allocates in the test's isolate,
// and its scavenges would be counted against softnet. Prints one JSON line.
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { bounceStack } from './core-loop.ts';

declare const gc: () => void; // node --expose-gc
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const N = Number(process.argv[2] ?? 10_000_000);

const s = bounceStack(2000);
const frames = () => s.napi.work;
s.napi.start();
// Warm-up: JIT the stages, let the heap settle, then start from a collected heap.
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
// Poll the count rarely: this loop's own timers allocate too.
while (frames() - f0 < N && performance.now() - t0 < 25_000) await sleep(100);
s.napi.stop();
const secs = (performance.now() - t0) / 1000;
const n = frames() - f0;
const heap1 = getHeapStatistics().used_heap_size;
await sleep(10);
obs.disconnect();
gc();
const heap2 = getHeapStatistics().used_heap_size;
const drops = Object.values(s.graph.drops.toJSON()).reduce((a, b) => a + b, 0);
const accounted = s.pool.available + s.a.pending() + s.b.pending() === s.pool.total;
process.stdout.write(
  JSON.stringify({ n, secs, rounds: s.napi.rounds, turns: s.napi.turns, gcs, allocated: heap1 - heap0, retained: heap2 - heap0, drops, accounted }) + '\n',
);
