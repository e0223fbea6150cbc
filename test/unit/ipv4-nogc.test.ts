import { describe, expect, it } from 'vitest';
import { describeNoGc, expectNoGc, runNoGc } from '../support/nogc.ts';

describe('IPv4 steady state allocates nothing', () => {
  it('1M packets forwarded (with FORWARD rules) and 1M echo requests answered: no GC, no heap growth', async () => {
    const rounds = 32_000;
    const r = await runNoGc(new URL('./ipv4-nogc.child.mts', import.meta.url), [String(rounds)]);
    console.log(describeNoGc('ipv4 no-GC', r));
    expect(r.extra.reachedNeigh).toBe(rounds * 64);
    expect(r.extra.drops).toEqual([]);
    // A synchronous loop in a process of its own: nothing else allocates, so no GC at all and
    // no growth beyond runtime noise (one object per packet would be >= 16 B/packet).
    expectNoGc(r, { scavenges: 0, fixedBytes: 1 << 20, bytesPerPacket: 0.05, retainedBytes: 256 * 1024 });
  }, 180_000);
});
