import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XdpContext, loadXdpFilter } from '../../src/core/xdp.ts';
import { ETH_HLEN, ETH_P_IPV6 } from '../../src/wire/ethernet.ts';
import { buildFrame, type FrameSpec } from '../../src/wire/frame.ts';
import { IPV4_VIHL } from '../../src/wire/ipv4.ts';
import { TCP_SYN } from '../../src/wire/tcp.ts';
import { MAC_A, MAC_PEER, Sink, drops, stack, udpFrame } from '../support/core-graph.ts';

/** A frame from the peer to MAC_A; IPv4 ones go to 10.0.0.1. */
const frame = (s: FrameSpec) => buildFrame({ dstMac: MAC_A, srcMac: MAC_PEER, ...s });
const ipFrom = (src: string, o: FrameSpec['ip'] = {}) => ({ src, dst: '10.0.0.1', ...o });

const dir = mkdtempSync(join(tmpdir(), 'sn-xdp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup() {
  const s = stack();
  const ipSink = new Sink('ip-rcv');
  s.graph.add(ipSink);
  s.ptype.add(0x0800, 'ip-rcv');
  s.a.peer = null;
  s.b.peer = null;
  s.napi.start();
  return { ...s, ipSink };
}

describe('XdpContext helpers', () => {
  const ctx = new XdpContext(new Uint8Array(2048));
  const at = (f: Uint8Array, len = f.length) => {
    ctx.u8.fill(0);
    ctx.u8.set(f, 100);
    ctx.set(100, len, 3);
  };

  it('reads Ethernet, VLAN, IPv4, UDP and TCP fields', () => {
    at(frame({ vlan: 42, ip: ipFrom('192.168.1.2'), udp: { sport: 5353, dport: 53 }, payload: 18 }));
    expect([ctx.ethType(), ctx.vlanId(), ctx.l3Offset(), ctx.ipProto(), ctx.ipTtl()]).toEqual([0x0800, 42, 18, 17, 64]);
    expect([ctx.ipSrc(), ctx.ipDst()]).toEqual([0xc0a80102, 0x0a000001]);
    expect([ctx.l4Sport(), ctx.l4Dport(), ctx.tcpFlags(), ctx.ifindex]).toEqual([5353, 53, -1, 3]);
    at(frame({ ip: ipFrom('1.2.3.4'), tcp: { sport: 1234, dport: 80, flags: 0x12 } }));
    expect([ctx.vlanId(), ctx.l4Sport(), ctx.l4Dport(), ctx.tcpFlags()]).toEqual([-1, 1234, 80, 0x12]);
  });

  it('returns -1 for absent or truncated fields', () => {
    const f = frame({ ip: ipFrom('1.2.3.4'), tcp: { sport: 1234, dport: 80, flags: TCP_SYN } });
    at(f, 10);
    expect([ctx.ethType(), ctx.ipProto(), ctx.ipSrc(), ctx.l4Dport(), ctx.tcpFlags()]).toEqual([-1, -1, -1, -1, -1]);
    at(f, 14 + 19); // IPv4 header cut short
    expect([ctx.ethType(), ctx.ipProto(), ctx.ipSrc()]).toEqual([0x0800, -1, -1]);
    at(f, 14 + 20 + 3); // ports cut short
    expect([ctx.ipProto(), ctx.l4Sport(), ctx.tcpFlags()]).toEqual([6, -1, -1]);
    at(f, 14 + 20 + 13); // flags byte cut
    expect([ctx.l4Dport(), ctx.tcpFlags()]).toEqual([80, -1]);
    at(frame({ ip: ipFrom('1.2.3.4', { fragOff: 128 }), udp: { sport: 1, dport: 2 }, payload: 18 })); // non-first fragment
    expect([ctx.ipProto(), ctx.l4Offset(), ctx.l4Dport()]).toEqual([17, -1, -1]);
    at(frame({ type: ETH_P_IPV6, payload: 40 }));
    expect([ctx.ethType(), ctx.ipProto(), ctx.l4Dport()]).toEqual([0x86dd, -1, -1]);
    const bad = frame({ ip: ipFrom('1.2.3.4'), udp: { sport: 1, dport: 2 }, payload: 18 });
    bad[ETH_HLEN + IPV4_VIHL] = 0x44; // IHL 4
    at(bad);
    expect(ctx.ipProto()).toBe(-1);
  });
});

describe('xdp hook', () => {
  it('counts each verdict per device and acts on it', () => {
    const s = setup();
    s.xdp.attach(0, (ctx) => {
      const d = ctx.l4Dport();
      if (d === 1) return XDP_DROP;
      if (d === 2) return XDP_TX;
      if (d === 3) return ctx.redirect(1);
      if (d === 4) return XDP_ABORTED;
      if (d === 5) return 99; // not a verdict: aborted
      if (d === 6) throw new Error('filter bug');
      if (d === 7) return ctx.redirect(42); // no such device
      return XDP_PASS;
    });
    for (const p of [1, 2, 3, 4, 5, 6, 7, 53, 53]) s.a.inject(udpFrame(p));
    s.napi.kick();
    expect(s.xdp.stats(0)).toEqual({ aborted: 3, drop: 1, pass: 2, tx: 1, redirect: 2 });
    expect(s.xdp.stats(1)).toEqual({ aborted: 0, drop: 0, pass: 0, tx: 0, redirect: 0 });
    expect(s.xdp.exceptions).toBe(1);
    expect(s.xdp.lastException).toBe('filter bug');
    expect(drops(s.graph)).toEqual({ 'xdp.drop': 1, 'xdp.aborted': 3, 'xdp.redirect_failed': 1 });
    expect(s.ipSink.count).toBe(2);
    // TX went back out of mem0 unchanged, REDIRECT out of mem1.
    const tx = s.a.takeTx();
    const red = s.b.takeTx();
    expect(tx.length).toBe(1);
    expect(Buffer.from(tx[0]).equals(Buffer.from(udpFrame(2)))).toBe(true);
    expect(red.length).toBe(1);
    expect(Buffer.from(red[0]).equals(Buffer.from(udpFrame(3)))).toBe(true);
    expect(s.pool.available).toBe(s.pool.total);
    s.napi.stop();
  });

  it('REDIRECT between linked memory ports reaches the other side', () => {
    const s = stack();
    const sink = new Sink('ip-rcv');
    s.graph.add(sink);
    s.ptype.add(0x0800, 'ip-rcv');
    // mem0 redirects to mem1, whose wire ends in a sink here.
    const seen: number[] = [];
    s.b.peer = null;
    s.b.sink = (u8, addr, len) => seen.push(len, u8[addr + 5]);
    s.xdp.attach(0, (ctx) => ctx.redirect(1));
    s.napi.start();
    for (let k = 0; k < 100; k++) s.a.inject(udpFrame(53));
    s.napi.kick();
    expect(seen.length).toBe(200);
    expect(s.xdp.stats(0).redirect).toBe(100);
    expect(s.xmit.txPackets[1]).toBe(100);
    expect(s.pool.available).toBe(s.pool.total);
    s.napi.stop();
  });

  it('devices without a filter skip the hook; detach goes back to eth-input', () => {
    const s = setup();
    s.xdp.attach(0, () => XDP_DROP);
    s.b.inject(udpFrame(53, '10.0.0.2', [0x02, 0, 0, 0, 0, 0xb0]));
    s.a.inject(udpFrame(53));
    s.napi.kick();
    expect(s.ipSink.count).toBe(1);
    expect(s.graph.runtime().find((r) => r.name === 'xdp')!.packets).toBe(1);
    s.xdp.detach(0);
    s.a.inject(udpFrame(53));
    s.napi.kick();
    expect(s.ipSink.count).toBe(2);
    expect(() => s.xdp.attach(9, () => XDP_PASS)).toThrow(/no device with index 9/);
    s.napi.stop();
  });

  it('loadXdpFilter loads a module and names the problem when it has no default function', async () => {
    const f = await loadXdpFilter('filters/blocklist.ts');
    expect(typeof f).toBe('function');
    const bad = join(dir, 'no-default.mjs');
    writeFileSync(bad, 'export const rules = [];\n');
    await expect(loadXdpFilter(bad)).rejects.toThrow(/no default export function.*exports: rules/);
    await expect(loadXdpFilter(join(dir, 'missing.ts'))).rejects.toThrow(/cannot load the filter module/);
  });
});
