import { describe, expect, it } from 'vitest';
import { describeNoGc, expectNoGc, runNoGc } from '../support/nogc.ts';

describe('UDP receive steady state allocates nothing', () => {
  it('2M datagrams through udp-rcv into a socket, read by recvBatch/release at each dispatch: no GC, no heap growth', async () => {
    const rounds = 32_000;
    const r = await runNoGc(new URL('./transport-udp-nogc.child.mts', import.meta.url), [String(rounds)]);
    console.log(describeNoGc('udp no-GC', r));
    expect(r.extra.read).toBe(rounds * 64);
    expect(r.extra.drops).toEqual([]);
    expect(r.extra.free).toBe(r.extra.total);
    expectNoGc(r, { scavenges: 0, fixedBytes: 1 << 20, bytesPerPacket: 0.05, retainedBytes: 256 * 1024 });
  }, 180_000);
});
