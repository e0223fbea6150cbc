import { describe, expect, it } from 'vitest';
import { describeNoGc, expectNoGc, runNoGc } from '../support/nogc.ts';

describe('L2 steady state allocates nothing', () => {
  it('neigh-output on resolved next hops and arp-rcv answering requests: no GC, no heap growth', async () => {
    const rounds = 80_000; // 5.1 M packets, 1/8 of them ARP requests
    const r = await runNoGc(new URL('./l2-nogc.child.mts', import.meta.url), [String(rounds)]);
    console.log(describeNoGc('l2 no-GC', r));
    expect(r.n).toBe(rounds * 64);
    // A synchronous loop in a process of its own: nothing else allocates, so no GC at all and
    // no growth beyond runtime noise (one object per packet would be >= 16 B/packet).
    expectNoGc(r, { scavenges: 0, fixedBytes: 1 << 20, bytesPerPacket: 0.05, retainedBytes: 256 * 1024 });
    expect(r.extra.outReplies).toBeGreaterThan(600_000);
  }, 180_000);
});
