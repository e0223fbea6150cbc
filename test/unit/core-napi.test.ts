import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/core/batch.ts';
import type { Graph, Stage } from '../../src/core/graph.ts';
import { formatSoftnetStat } from '../../src/core/softnet-stat.ts';
import { Sink, stack, udpFrame } from './core-frames.ts';
import { bounceStack } from './core-loop.ts';

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
    const s = sinkStack({ weight: 64, budget: 300 });
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
    for (let k = 0; k < 20 && s.sink.count < 2000; k++) await tick();
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
    // Baseline on this (shared) machine with no flood, to read the flood figure against.
    let base = 0;
    {
      let last = performance.now();
      const t = setInterval(() => {
        const now = performance.now();
        base = Math.max(base, now - last - 10);
        last = now;
      }, 10);
      await sleep(300);
      clearInterval(t);
    }
    const s = bounceStack(2000);
    s.napi.start();
    let last = performance.now();
    const lags = new Float64Array(1000);
    let fired = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      if (fired < lags.length) lags[fired] = now - last - 10;
      last = now;
      fired++;
    }, 10);
    const t0 = performance.now();
    const p0 = s.napi.stat()[0].processed;
    await sleep(1000);
    clearInterval(timer);
    const secs = (performance.now() - t0) / 1000;
    const frames = s.napi.stat()[0].processed + s.napi.stat()[1].processed - p0;
    s.napi.stop();
    const sorted = Array.from(lags.subarray(0, Math.min(fired, lags.length))).sort((x, y) => x - y);
    const maxLag = sorted[sorted.length - 1];
    const p99 = sorted[Math.floor(sorted.length * 0.99)];
    console.log(
      `event-loop lag under flood: timer fired ${fired}x in ${secs.toFixed(2)} s, lag p99 ${p99.toFixed(1)} ms, max ${maxLag.toFixed(1)} ms ` +
        `(idle baseline ${base.toFixed(1)} ms); ` +
        `${(frames / secs / 1e6).toFixed(2)} Mpps through xdp+eth-input+dev-xmit, ${s.napi.squeezedRounds} squeezed rounds`,
    );
    expect(frames).toBeGreaterThan(100_000);
    expect(s.napi.squeezedRounds).toBeGreaterThan(10);
    expect(fired).toBeGreaterThan(50);
    // A turn ends within ~2 ms; what remains is the machine (2 shared cores: the idle baseline
    // above shows how much the OS alone delays a timer). One preemption may exceed the p99 bound.
    expect(p99).toBeLessThan(50);
    expect(maxLag).toBeLessThan(100);
    expect(s.pool.available + s.a.pending() + s.b.pending()).toBe(s.pool.total);
  });
});
