// The 10M-frame steady-state load on the real poll loop, measured by the no-GC harness
// (test/support/nogc.ts) in a process of its own: the test runner's machinery (RPC, console
// capture, timers) would allocate in the measured isolate and its scavenges be blamed on softnet.
import { measureNoGc } from '../support/nogc-child.ts';
import { bounceStack } from '../support/core-bounce.ts';

const N = Number(process.argv[2] ?? 10_000_000);
// Polling the count is this process's own garbage (a timer each): rarely, at a fixed rate.
const poll = () => new Promise<void>((r) => setTimeout(r, 100));

const s = bounceStack(2000);
const frames = () => s.napi.work;
let f0 = 0;
await measureNoGc({
  graphs: [s.graph],
  warm: async () => {
    // JIT the stages on the real loop, then stop it so the heap can be collected.
    s.napi.start();
    while (frames() < 2_000_000) await poll();
    s.napi.stop();
    f0 = frames();
  },
  run: async () => {
    s.napi.start();
    // Until the count is reached, however long a loaded machine takes (the test has the deadline).
    while (frames() - f0 < N) await poll();
    s.napi.stop();
    return frames() - f0;
  },
  extra: () => ({
    rounds: s.napi.rounds,
    turns: s.napi.turns,
    drops: Object.values(s.graph.drops.toJSON()).reduce((a, b) => a + b, 0),
    accounted: s.pool.available + s.a.pending() + s.b.pending() === s.pool.total,
  }),
});
