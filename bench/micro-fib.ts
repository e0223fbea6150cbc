// FIB micro-benchmark (issue 4): 100k random routes (prefix lengths uniform in /8../32, 16 next-hop
// devices), time to add them, memory, and lookups/s with tinybench on
//   - random destinations (uniform over 2^32: mostly one tbl24 access, DRAM/TLB bound),
//   - destinations inside the routes' prefixes (hits tbl8 groups for the /25../32 routes),
//   - a hot set of 64 destinations (cache resident),
// batched: each iteration runs 16 batches of 64 destinations (lookupBatch and a lookup() loop).
// The reference per-length-Map lookup is run on the same table for comparison.
// Run: node --import tsx bench/micro-fib.ts [--routes N] [--time MS]
import { Bench } from 'tinybench';
import { parseArgs } from '../src/cli/args.ts';
import { taskMs } from './tinybench.ts';
import { maskOf } from '../src/wire/addr.ts';
import { Fib, RTN_UNICAST } from '../src/ipv4/fib/fib.ts';
import { RouteTable } from '../src/ipv4/fib/reference.ts';

const { routes: NROUTES, time: TIME } = parseArgs(process.argv.slice(2), {
  routes: { type: 'int', min: 1, default: 100_000 },
  time: { type: 'int', min: 1, default: 1500, help: 'ms per task' },
});
const BATCH = 64;
const BATCHES = 64;

let s = 0x9e3779b9;
const rand = () => {
  s ^= s << 13;
  s >>>= 0;
  s ^= s >>> 17;
  s ^= s << 5;
  return (s >>>= 0);
};

// Generate routes first so the add timing is the FIB's alone.
const pre = new Uint32Array(NROUTES);
const lens = new Uint8Array(NROUTES);
for (let i = 0; i < NROUTES; i++) {
  lens[i] = 8 + (rand() % 25);
  pre[i] = (rand() & maskOf(lens[i])) >>> 0;
}

const heap0 = process.memoryUsage();
const fib = new Fib();
const ref = new RouteTable<{ prefix: number; len: number; metric: number }>();
let added = 0;
let dups = 0;
const t0 = performance.now();
for (let i = 0; i < NROUTES; i++) {
  try {
    fib.add({ prefix: pre[i], len: lens[i], type: RTN_UNICAST, gateway: 0, oif: i & 15, metric: 0, proto: 'static' });
    added++;
  } catch {
    dups++; // same prefix drawn twice (common for /8../12): File exists
  }
}
const addMs = performance.now() - t0;
for (let i = 0; i < NROUTES; i++) if (ref.best(pre[i], lens[i]) === undefined) ref.insert({ prefix: pre[i], len: lens[i], metric: 0 });
const heap1 = process.memoryUsage();

const POOL = 1 << 20;
const randomDst = new Uint32Array(POOL);
for (let i = 0; i < POOL; i++) randomDst[i] = rand();
const routeDst = new Uint32Array(POOL);
for (let i = 0; i < POOL; i++) {
  const k = rand() % NROUTES;
  routeDst[i] = (pre[k] | (rand() & ~maskOf(lens[k]))) >>> 0;
}
const hotDst = randomDst.slice(0, BATCH);
const out = new Int32Array(BATCH);
let sink = 0;

// Offsets live in locals during an iteration: a closure-variable store per lookup would force
// V8 to reload the table fields each time and measure the harness instead of the FIB.
// Each batched task gets its own function literal: sharing one between tasks with different
// destination sets (hot, in-prefix) made V8's shared feedback cost the random case ~30%.
const batchedBody = `
  let off = 0;
  const mask = pool.length - 1;
  return () => {
    let o = off;
    let acc = 0;
    for (let b = 0; b < BATCHES; b++) {
      fib.lookupBatch(pool, out, BATCH, o);
      acc ^= out[0];
      o = (o + BATCH) & mask;
    }
    off = o;
    sink.v ^= acc;
  };`;
type Mk = (fib: Fib, pool: Uint32Array, out: Int32Array, BATCHES: number, BATCH: number, sink: { v: number }) => () => void;
function batched(pool: Uint32Array): () => void {
  const mk = new Function('fib', 'pool', 'out', 'BATCHES', 'BATCH', 'sink', batchedBody) as Mk;
  return mk(fib, pool, out, BATCHES, BATCH, batchSink);
}
const batchSink = { v: 0 };
function looped(pool: Uint32Array): () => void {
  let off = 0;
  const mask = pool.length - 1;
  return () => {
    let o = off;
    let acc = 0;
    for (let b = 0; b < BATCHES * BATCH; b++) {
      acc ^= fib.lookup(pool[o]);
      o = (o + 1) & mask;
    }
    off = o;
    sink ^= acc;
  };
}

const bench = new Bench({ time: TIME, warmup: true });
bench
  .add('lookup() loop random dst', looped(randomDst))
  .add('lookupBatch random dst', batched(randomDst))
  .add('lookupBatch dst in route prefixes', batched(routeDst))
  .add('lookupBatch hot 64 dst', batched(hotDst))
  .add('reference (per-length Maps) random dst', () => {
    let acc = 0;
    for (let b = 0; b < BATCHES * BATCH; b++) acc ^= ref.lookup(randomDst[b]) === undefined ? 0 : 1;
    sink ^= acc;
  });
await bench.run();

const mb = (n: number) => (n / 1048576).toFixed(1);
console.log(`routes: ${added} added (${dups} duplicate prefixes skipped) in ${addMs.toFixed(0)} ms = ${(addMs * 1000 / NROUTES).toFixed(2)} us/route`);
console.log(`tbl8 groups: ${fib.tbl8Groups}; lookup tables: ${mb(fib.memoryBytes())} MiB (tbl24 16 MiB narrow + 64 MiB wide + depths 16 MiB + tbl8 + next hops); ` +
  `process RSS +${mb(heap1.rss - heap0.rss)} MiB, arrayBuffers +${mb(heap1.arrayBuffers - heap0.arrayBuffers)} MiB`);
// Median and best iteration as well as the mean: on a shared 2-core machine the mean mostly
// measures other processes' preemptions.
const rate = (ms: number) => ((BATCHES * BATCH) / (ms / 1000) / 1e6).toFixed(1).padStart(6);
console.log(`${''.padEnd(42)} M lookups/s: median   best   mean   (ns/lookup median)`);
for (const t of bench.tasks) {
  const l = taskMs(t);
  if (!l) continue;
  console.log(`${t.name.padEnd(42)}              ${rate(l.median)} ${rate(l.min)} ${rate(l.mean)}   (${((l.median * 1e6) / (BATCHES * BATCH)).toFixed(2)} ns, ${l.samples} samples)`);
}
if (sink === 0x7fffffff) console.log(sink); // keeps the lookups alive
