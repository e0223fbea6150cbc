import { describe, expect, it } from 'vitest';
import { describeNoGc, expectNoGc, runNoGc } from '../support/nogc.ts';

describe('conntrack steady state allocates nothing', () => {
  it('lookups of 64 replied flows and new flows into a full table (early drop): no GC, no heap growth', async () => {
    const rounds = 20_000;
    const r = await runNoGc(new URL('./conntrack-nogc.child.mts', import.meta.url), [String(rounds)]);
    console.log(describeNoGc('conntrack no-GC', r));
    // Every packet forwarded: the 64 flows both ways, and each new flow (its entry evicts an unreplied one).
    expect(r.extra.reachedNeigh).toBe(rounds * 64 * 3);
    expect(r.extra.entries).toBe(1024);
    expect(r.extra.earlyDrop as number).toBeGreaterThan(rounds * 60);
    expect(r.extra.drops).toEqual([]);
    expectNoGc(r, { scavenges: 0, fixedBytes: 1 << 20, bytesPerPacket: 0.05, retainedBytes: 256 * 1024 });
  }, 180_000);
});
