import { describe, expect, it } from 'vitest';
import { describeNoGc, expectNoGc, runNoGc } from '../support/nogc.ts';

describe('the warm NAT path allocates nothing', () => {
  it('1M packets of masqueraded flows (SNAT out, DNAT back) through conntrack and the NAT core: no GC, no heap growth', async () => {
    const rounds = 4000;
    const r = await runNoGc(new URL('./ipv4-nat-nogc.child.mts', import.meta.url), [String(rounds)]);
    console.log(describeNoGc('nat no-GC', r));
    expect(r.extra.accepted).toBe(rounds * 256);
    expect(r.extra.stats).toEqual([0, 0, 0, 0, 0, 0]);
    expect(r.extra.entries).toBe(256);
    expectNoGc(r, { scavenges: 0, fixedBytes: 1 << 20, bytesPerPacket: 0.05, retainedBytes: 256 * 1024 });
  }, 180_000);
});
