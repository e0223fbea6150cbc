import { describe, expect, it } from 'vitest';
import { describeNoGc, expectNoGc, runNoGc } from '../support/nogc.ts';

describe('steady state allocates nothing', () => {
  it('10M frames through xdp, eth-input and dev-xmit on the real poll loop: no garbage per frame, no heap growth', async () => {
    const r = await runNoGc(new URL('./core-nogc.child.mts', import.meta.url), ['10000000']);
    console.log(`${describeNoGc('core no-GC (poll loop)', r)}; ${r.extra.rounds} rounds, ${r.extra.turns} turns`);
    expect(r.n).toBeGreaterThanOrEqual(10_000_000);
    // The only garbage is Node's own per event-loop turn (an Immediate and its bookkeeping,
    // measured ~0.7 KB a turn; hundreds to thousands of turns because the bounce load drains the
    // ports every few rounds) and the count-polling timer. Allowance: 1 MB once + 1 KB per turn +
    // 0.05 B per frame, at most two scavenges of the 16 MB young generation, never a full GC.
    const turns = Number(r.extra.turns);
    expectNoGc(r, { scavenges: 2, fixedBytes: (1 << 20) + 1024 * turns, bytesPerPacket: 0.05, retainedBytes: 256 * 1024 });
    // Frame accounting: every frame is free or waiting in a port's queue; nothing was dropped.
    expect(r.extra.accounted).toBe(true);
    expect(r.extra.drops).toBe(0);
  }, 180_000);
});
