import { describe, expect, it } from 'vitest';
import { XDP_DROP, XDP_PASS, XdpContext } from '../../src/core/xdp.ts';
import blocklistDefault, { createBlocklist } from '../../filters/blocklist.ts';
import { createSynGuard } from '../../filters/syn-guard.ts';
import { Sink, drops, stack, synFrame, udpFrame } from '../support/core-graph.ts';

const ctx = new XdpContext(new Uint8Array(4096));
function verdict(f: (c: XdpContext) => number, frame: Uint8Array, nowMs = 0): number {
  ctx.u8.set(frame, 256);
  ctx.set(256, frame.length, 0);
  ctx.nowMs = nowMs;
  return f(ctx);
}

describe('filters/blocklist.ts', () => {
  it('drops UDP to blocked destination ports, passes everything else', () => {
    const f = createBlocklist([53, 11211]);
    expect(verdict(f, udpFrame(53))).toBe(XDP_DROP);
    expect(verdict(f, udpFrame(11211))).toBe(XDP_DROP);
    expect(verdict(f, udpFrame(54))).toBe(XDP_PASS);
    expect(verdict(f, synFrame('1.2.3.4'))).toBe(XDP_PASS); // TCP
    expect(verdict(f, udpFrame(53).subarray(0, 14 + 20 + 2))).toBe(XDP_PASS); // no port to judge: the stack drops it
    f.unblock(53);
    f.block(54);
    expect(verdict(f, udpFrame(53))).toBe(XDP_PASS);
    expect(verdict(f, udpFrame(54))).toBe(XDP_DROP);
    expect(() => f.block(70000)).toThrow(/not a UDP port/);
    expect(verdict(blocklistDefault, udpFrame(1900))).toBe(XDP_DROP);
  });

  it('runs as the hook of a device', () => {
    const s = stack();
    const sink = new Sink('ip-rcv');
    s.graph.add(sink);
    s.ptype.add(0x0800, 'ip-rcv');
    s.xdp.attach(0, createBlocklist([9]));
    s.napi.start();
    for (let k = 0; k < 10; k++) s.a.inject(udpFrame(k));
    s.napi.kick();
    expect(sink.count).toBe(9);
    expect(drops(s.graph)).toEqual({ 'xdp.drop': 1 });
    s.napi.stop();
  });
});

describe('filters/syn-guard.ts', () => {
  it('lets a burst through, then the rate, per source', () => {
    const g = createSynGuard({ rate: 10, burst: 5, slots: 1024 });
    const run = (src: string, n: number, t: number) => {
      let pass = 0;
      for (let k = 0; k < n; k++) if (verdict(g, synFrame(src), t) === XDP_PASS) pass++;
      return pass;
    };
    expect(run('1.1.1.1', 20, 0)).toBe(5); // the burst
    expect(run('2.2.2.2', 3, 0)).toBe(3); // another source is not affected
    expect(run('1.1.1.1', 20, 1000)).toBe(5); // 10 tokens refilled in 1 s, capped at the burst
    expect(run('1.1.1.1', 20, 1300)).toBe(3); // 0.3 s -> 3 SYNs
    expect(g.stats.dropped).toBe(15 + 15 + 17);
    // SYN-ACKs, ACKs and UDP are never limited.
    expect(run('1.1.1.1', 0, 1300)).toBe(0);
    expect(verdict(g, synFrame('1.1.1.1', 0x12), 1300)).toBe(XDP_PASS);
    expect(verdict(g, synFrame('1.1.1.1', 0x10), 1300)).toBe(XDP_PASS);
    expect(verdict(g, udpFrame(80, '1.1.1.1'), 1300)).toBe(XDP_PASS);
  });

  it('keeps a fixed-size table: many sources evict, never grow', () => {
    const g = createSynGuard({ rate: 1, burst: 1, slots: 16 });
    let pass = 0;
    for (let k = 0; k < 1000; k++) if (verdict(g, synFrame(`10.0.${k >> 8}.${k & 255}`), 0) === XDP_PASS) pass++;
    expect(pass).toBe(1000); // each new source starts with a full bucket
    expect(g.stats.evictions).toBeGreaterThan(900);
    expect(() => createSynGuard({ slots: 1000 })).toThrow(/power of two/);
  });
});
