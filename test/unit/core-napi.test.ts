import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/core/batch.ts';
import type { Graph, Stage } from '../../src/core/graph.ts';
import { formatSoftnetStat } from '../../src/core/softnet-stat.ts';
import { Sink, stack, udpFrame } from '../support/core-graph.ts';
import { bounceStack } from '../support/core-bounce.ts';

const tick = () => new Promise<void>((r) => setImmediate(r));
import { waitFor } from '../support/wait.ts';

/** Burns CPU per batch, to exercise the time limit. */
class Slow implements Stage {
  readonly name = 'ip-rcv';
  private g!: Graph;
  constructor(private readonly ms: number) {}
  init(g: Graph): void {
    this.g = g;
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    const end = performance.now() + this.ms;
    while (performance.now() < end);
    for (let j = 0; j < n; j++) this.g.pool.free(b.addr[v[j]]);
  }
}

function sinkStack(opts: Parameters<typeof stack>[0] = {}) {
  const s = stack(opts);
  const sink = new Sink('ip-rcv');
  sink.record = false;
  s.graph.add(sink);
  s.ptype.add(0x0800, 'ip-rcv');
  return { ...s, sink };
}

describe('napi poll loop', () => {
  it('polls ports round-robin by weight up to the budget, then squeezes and continues later', async () => {
    // No time limit here (a preempted round on a loaded machine would end early): this is
    // about weight and budget; the time limit has its own test below.
    const s = sinkStack({ weight: 64, budget: 300, timeLimitMs: 1e9 });
    for (let k = 0; k < 1000; k++) {
      s.a.inject(udpFrame(53));
      s.b.inject(udpFrame(53, '10.0.0.2', [0x02, 0, 0, 0, 0, 0xb0]));
    }
    s.napi.start();
    // 64 + 64 + 64 + 64 + 64 = 320 >= 300: five turns, alternating ports.
    expect(s.napi.kick()).toBe(320);
    expect(s.napi.stat().map((r) => [r.processed, r.time_squeeze])).toEqual([
      [192, 1],
      [128, 1],
    ]);
    expect(s.napi.squeezedRounds).toBe(1);
    // The rest runs on later event-loop turns without any interrupt.
    await waitFor('the rest to be polled on later turns', () => s.sink.count >= 2000);
    expect(s.sink.count).toBe(2000);
    expect(s.napi.stat().map((r) => r.processed)).toEqual([1000, 1000]);
    expect(s.napi.stat()[0].time_squeeze).toBeGreaterThanOrEqual(3);
    expect(formatSoftnetStat(s.napi.stat()).split('\n')[0]).toMatch(/^000003e8 00000000 0000000[0-9a-f] (00000000 ){9}00000000$/);
    expect(s.pool.available).toBe(s.pool.total);
    s.napi.stop();
  });

  it('stops a round at the time limit', () => {
    const s = stack({ weight: 8, budget: 10_000, timeLimitMs: 2 });
    s.graph.add(new Slow(1));
    s.ptype.add(0x0800, 'ip-rcv');
    for (let k = 0; k < 800; k++) s.a.inject(udpFrame(53));
    s.napi.start();
    const n = s.napi.kick();
    expect(n).toBeGreaterThanOrEqual(16);
    expect(n).toBeLessThanOrEqual(64); // the time is checked every 8 polls
    expect(s.napi.stat()[0].time_squeeze).toBe(1);
    s.napi.stop();
    s.a.close();
    expect(s.pool.available).toBe(s.pool.total);
  });

  it('re-arms the interrupt when drained and wakes on new frames', async () => {
    const s = sinkStack();
    s.napi.start();
    s.a.inject(udpFrame(53));
    await tick();
    await tick();
    expect(s.sink.count).toBe(1);
    s.a.inject(udpFrame(53));
    s.b.inject(udpFrame(53, '10.0.0.2', [0x02, 0, 0, 0, 0, 0xb0]));
    await tick();
    await tick();
    expect(s.sink.count).toBe(3);
    expect(s.napi.squeezedRounds).toBe(0);
    s.napi.stop();
    s.a.inject(udpFrame(53));
    await tick();
    await tick();
    expect(s.sink.count).toBe(3);
    s.a.close();
    expect(s.pool.available).toBe(s.pool.total);
  });

  it('looks at the rings once more before going idle: a frame that arrived during the turn costs no wake-up', async () => {
    // One frame bouncing between the linked ports: each hop arrives on the other port while the
    // turn that sent it is still running (as a veth peer's answer does, its stack running
    // inside our send). Without the recheck every hop would wait for the next interrupt.
    const s = bounceStack(1);
    s.napi.start();
    const hops = () => s.napi.stat()[0].processed + s.napi.stat()[1].processed;
    await waitFor('the frame to bounce 2000 times', () => hops() >= 2000, { detail: () => `${hops()} hops in ${s.napi.turns} turns` });
    s.napi.stop();
    const n = hops();
    expect(s.napi.rechecked).toBeGreaterThan(n / 2);
    // A turn takes up to maxRestarts hops (fewer only if the time limit ends it first).
    expect(s.napi.turns * 2).toBeLessThan(n);
    expect(s.pool.available + s.a.pending() + s.b.pending()).toBe(s.pool.total);
  });

  it('busy-poll mode polls on every turn without interrupts', async () => {
    const s = sinkStack({ busyPoll: true });
    s.napi.start();
    await tick();
    const r0 = s.napi.rounds;
    s.a.inject(udpFrame(53));
    await tick();
    await tick();
    expect(s.sink.count).toBe(1);
    expect(s.napi.rounds).toBeGreaterThan(r0);
    s.napi.stop();
    const r1 = s.napi.rounds;
    await tick();
    await tick();
    expect(s.napi.rounds).toBe(r1);
  });

  it('counts frames of a down device as dropped', () => {
    const s = sinkStack();
    s.d0.up = false;
    s.a.inject(udpFrame(53));
    s.napi.start();
    s.napi.kick();
    expect(s.napi.stat()[0]).toMatchObject({ processed: 1, dropped: 1 });
    expect(s.pool.available).toBe(s.pool.total);
    s.napi.stop();
  });

  it('keeps a 10 ms timer firing under a flood (event-loop lag)', async () => {
    /** Lags of a 10 ms interval timer over its first n firings (p99 and max, ms). */
    const lagOf = async (n: number) => {
      const lags = new Float64Array(n);
      let fired = 0;
      let last = performance.now();
      const t = setInterval(() => {
        const now = performance.now();
        if (fired < n) lags[fired] = now - last - 10;
        last = now;
        fired++;
      }, 10);
      await waitFor(`${n} timer firings`, () => fired >= n);
      clearInterval(t);
      const sorted = Array.from(lags).sort((x, y) => x - y);
      return { p99: sorted[Math.floor(n * 0.99)], max: sorted[n - 1] };
    };
    // Baseline on this (shared, maybe loaded) machine: the same process kept as busy as the flood
    // keeps it, by an ideal loop whose every turn is exactly the 2 ms time limit. A busy process
    // is preempted in a way an idle one is not, so an idle baseline would not compare.
    let spinning = true;
    const spin = () => {
      const end = performance.now() + 2;
      while (performance.now() < end);
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    const base = await lagOf(300);
    spinning = false;
    const s = bounceStack(2000);
    s.napi.start();
    const t0 = performance.now();
    const p0 = s.napi.stat()[0].processed + s.napi.stat()[1].processed;
    // The window is 300 firings of the timer, however long the machine makes them take.
    const lag = await lagOf(300);
    const secs = (performance.now() - t0) / 1000;
    const frames = s.napi.stat()[0].processed + s.napi.stat()[1].processed - p0;
    s.napi.stop();
    console.log(
      `event-loop lag under flood: 300 firings in ${secs.toFixed(2)} s, lag p99 ${lag.p99.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms ` +
        `(ideal 2 ms-turn loop p99 ${base.p99.toFixed(1)} ms, max ${base.max.toFixed(1)} ms); ` +
        `${(frames / secs / 1e6).toFixed(2)} Mpps through xdp+eth-input+dev-xmit, ${s.napi.squeezedRounds} squeezed rounds`,
    );
    expect(frames).toBeGreaterThan(100_000);
    expect(s.napi.squeezedRounds).toBeGreaterThan(10);
    // A turn ends within ~2 ms, so softnet's loop delays a timer little more than the ideal loop
    // measured just before under the same load. The max is one preemption: logged, not judged.
    expect(lag.p99).toBeLessThan(Math.max(50, base.p99 + 20));
    expect(s.pool.available + s.a.pending() + s.b.pending()).toBe(s.pool.total);
  });
});
