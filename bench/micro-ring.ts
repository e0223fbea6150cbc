// Micro benchmark of the per-batch driver operations (issue 2): rx/tx/refill on a MemoryPort
// pair (the JS side of every port), and the cost of one native call through the N-API C API
// (an empty call, and a hot xskRx call on an id with no socket: argument unwrap + return).
// Run: node --import tsx bench/micro-ring.ts [--time MS]
import { Bench } from 'tinybench';
import { parseArgs } from '../src/cli/args.ts';
import { taskMs } from './tinybench.ts';
import { MemoryPort } from '../src/driver/memory.ts';
import { native } from '../src/driver/native.ts';

const { time: TIME } = parseArgs(process.argv.slice(2), { time: { type: 'int', min: 1, default: 500, help: 'ms per task' } });
const BATCH = 64;

const [a, b] = MemoryPort.pair(4096, 256);
const pool = a.pool;
// Forward a batch a -> b and back: tx on one port is rx on the other, by descriptor.
for (let j = 0; j < 512; j++) a.inject(new Uint8Array(60));

const bench = new Bench({ time: TIME });
bench
  .add(`memory rx+tx ${BATCH} there and back`, () => {
    const n = b.rx(BATCH);
    for (let j = 0; j < n; j++) {
      a.txAddr[j] = b.rxAddr[j];
      a.txLen[j] = b.rxLen[j];
    }
    a.tx(n);
    const m = a.rx(BATCH) || 0;
    for (let j = 0; j < m; j++) {
      b.txAddr[j] = a.rxAddr[j];
      b.txLen[j] = a.rxLen[j];
    }
    b.tx(m);
  })
  .add(`pool allocMany+free ${BATCH} (refill)`, () => {
    const k = pool.allocMany(a.txAddr, BATCH);
    for (let j = 0; j < k; j++) pool.free(a.txAddr[j]);
  });

let nat: ReturnType<typeof native> | null = null;
try {
  nat = native();
} catch (e) {
  console.log(`(native addon not loaded: ${(e as Error).message})`);
}
if (nat !== null) {
  const n = nat;
  bench.add('native noop(a, b) x64', () => {
    for (let j = 0; j < 64; j++) n.noop(j, 1);
  });
  bench.add('native xskRx(no socket, 64) x64', () => {
    for (let j = 0; j < 64; j++) n.xskRx(1_000_000, 64);
  });
}

await bench.run();
const rows = bench.tasks.map((t) => {
  const meanMs = taskMs(t)?.mean ?? NaN;
  const per = t.name.includes("x64") ? 64 : t.name.includes("there and back") ? 2 * BATCH : BATCH;
  return { task: t.name, 'ns/call': (meanMs * 1e6).toFixed(0), 'ns/frame or /native call': ((meanMs * 1e6) / per).toFixed(1) };
});
console.table(rows);
