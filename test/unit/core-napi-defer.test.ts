import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/core/batch.ts';
import type { Graph, Stage } from '../../src/core/graph.ts';
import { stack, udpFrame } from '../support/core-graph.ts';
import { waitFor } from '../support/wait.ts';

const FLOOD = 2000;
const B_MAC = [0x02, 0, 0, 0, 0, 0xb0];

/**
 * Frees what it gets; on port a's 8th batch (the second round: the first ends with a's backlog
 * left, which is when b gets deferred) notes whether b is armed and injects 3 frames into b.
 * For b's frames it notes how far a's flood had come.
 */
class Probe implements Stage {
  readonly name = 'ip-rcv';
  aBatches = 0;
  bFrames = 0;
  bArmedInFlood: boolean | null = null;
  aDoneWhenBSeen = -1;
  private g!: Graph;
  constructor(private readonly s: ReturnType<typeof stack>, private readonly bArmed: () => boolean) {}
  init(g: Graph): void {
    this.g = g;
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    if (b.iif[v[0]] === this.s.d1.index) {
      if (this.bFrames === 0) this.aDoneWhenBSeen = this.s.napi.stat()[0].processed;
      this.bFrames += n;
    } else if (++this.aBatches === 8) {
      this.bArmedInFlood = this.bArmed();
      for (let k = 0; k < 3; k++) this.s.b.inject(udpFrame(53, '10.0.0.2', B_MAC));
    }
    for (let j = 0; j < n; j++) this.g.pool.free(b.addr[v[j]]);
  }
}

async function flood(deferHardIrqs: boolean) {
  const s = stack({ weight: 64, budget: 300, timeLimitMs: 1e9, maxRestarts: 0, deferHardIrqs });
  // Watch b's interrupt state through its own armIrq/disarmIrq.
  let armed = false;
  const arm = s.b.armIrq.bind(s.b);
  const disarm = s.b.disarmIrq.bind(s.b);
  s.b.armIrq = (cb) => {
    armed = true;
    arm(cb);
  };
  s.b.disarmIrq = () => {
    armed = false;
    disarm();
  };
  const probe = new Probe(s, () => armed);
  s.graph.add(probe);
  s.ptype.add(0x0800, 'ip-rcv');
  for (let k = 0; k < FLOOD; k++) s.a.inject(udpFrame(53));
  s.napi.start();
  await waitFor('the flood and b\'s frames to be processed', () => probe.aBatches * 64 >= FLOOD && probe.bFrames === 3);
  // The loop went idle: the interrupts are armed again (b's via the deferral's end).
  await waitFor('b to be armed once the loop is idle', () => armed);
  return { s, probe, armed: () => armed };
}

describe('napi interrupt deferral (napi_defer_hard_irqs)', () => {
  it('masks an idle port while another is busy, polls it each round, and arms it when all are idle', async () => {
    const { s, probe, armed } = await flood(true);
    expect(probe.bArmedInFlood).toBe(false);
    // b's frames came in with no interrupt, by the per-round poll, while a's flood still ran.
    expect(probe.aDoneWhenBSeen).toBeGreaterThan(0);
    expect(probe.aDoneWhenBSeen).toBeLessThan(FLOOD);
    expect(s.napi.defers).toBeGreaterThanOrEqual(2);
    expect(armed()).toBe(true);
    // Armed again: a new frame on b now comes by its interrupt.
    s.b.inject(udpFrame(53, '10.0.0.2', B_MAC));
    await waitFor('the interrupt to deliver b\'s frame', () => probe.bFrames === 4);
    expect(s.napi.stat().map((r) => r.processed)).toEqual([FLOOD, 4]);
    s.napi.stop();
    expect(s.pool.available).toBe(s.pool.total);
  });

  it('without deferral an idle port stays armed through the flood', async () => {
    const { s, probe } = await flood(false);
    expect(probe.bArmedInFlood).toBe(true);
    expect(s.napi.defers).toBe(0);
    s.napi.stop();
    expect(s.pool.available).toBe(s.pool.total);
  });
});
