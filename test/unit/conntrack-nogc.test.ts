import { describe, expect, it } from 'vitest';
import { describeNoGc, expectNoGc, runNoGc } from '../support/nogc.ts';

describe('conntrack steady state allocates nothing', () => {
  it('lookups of 64 replied flows and new flows into a full table (early drop): no GC, no heap growth', async () => {
    const rounds = 20_000;
    const r = await runNoGc(new URL('./conntrack-nogc.child.mts', import.meta.url), [String(rounds)]);
    console.log(describeNoGc('conntrack no-GC', r));
    // Every packet forwarded (the 64 flows both ways; each new flow's entry evicts an unreplied one),
    // except, as on Linux, a new flow whose early_drop finds only ASSURED or no entries in the
    // EVICTION_RANGE buckets it scans: conntrack drops it and counts `drop` (a few per thousand
    // rounds, depending on the table's random seed). Nothing else is dropped.
    const ctDrop = r.extra.ctDrop as number;
    expect(ctDrop).toBeLessThan(rounds);
    expect(r.extra.reachedNeigh).toBe(rounds * 64 * 3 - ctDrop);
    expect(r.extra.entries).toBe(1024);
    expect(r.extra.earlyDrop as number).toBeGreaterThan(rounds * 60);
    expect(r.extra.nfDrop).toBe(ctDrop);
    expect(r.extra.otherDrops).toEqual([]);
    expectNoGc(r, { scavenges: 0, fixedBytes: 1 << 20, bytesPerPacket: 0.05, retainedBytes: 256 * 1024 });
  }, 180_000);
});
