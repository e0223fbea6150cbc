import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/core/batch.ts';
import type { Graph, Stage } from '../../src/core/graph.ts';
import { XDP_PASS, XDP_TX, type XdpContext } from '../../src/core/xdp.ts';
import { createBlocklist } from '../../filters/blocklist.ts';
import { createSynGuard } from '../../filters/syn-guard.ts';
import { ETH_HLEN, ETH_P_8021Q, ETH_TYPE, VLAN_HLEN, VLAN_TCI } from '../../src/wire/ethernet.ts';
import { IPV4_VIHL } from '../../src/wire/ipv4.ts';
import { MAC_A, Sink, stack, synFrame, udpFrame } from '../support/core-graph.ts';
import { replayFrames, runFuzz } from '../support/fuzz.ts';
import { rng } from '../support/rng.ts';

/** Reflects IPv4 packets out of their (sub)device, as ip-output would. */
class Reflect implements Stage {
  readonly name = 'ip-rcv';
  private g!: Graph;
  private xmit = 0;
  init(g: Graph): void {
    this.g = g;
    this.xmit = g.id('dev-xmit');
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    for (let j = 0; j < n; j++) {
      const i = v[j];
      b.oif[i] = b.iif[i];
      this.g.enqueue(this.xmit, i);
    }
  }
}

describe('untrusted frames', () => {
  it('30k random and half-valid frames: nothing throws, every drop is counted, every frame accounted', () => {
    const s = stack();
    s.devs.addVlan('mem0', 10);
    s.graph.add(new Reflect());
    s.graph.add(new Sink('arp-rcv'));
    s.ptype.add(0x0800, 'ip-rcv');
    s.ptype.add(0x0806, 'arp-rcv');
    s.a.peer = null;
    s.b.peer = null;
    const block = createBlocklist([53]);
    const guard = createSynGuard({ rate: 5, burst: 5, slots: 64 });
    // Both example filters chained, plus XDP_TX for one port number.
    s.xdp.attach(0, (ctx: XdpContext) => {
      const v = block(ctx);
      if (v !== XDP_PASS) return v;
      if (ctx.l4Dport() === 7) return XDP_TX;
      return guard(ctx);
    });
    s.napi.start();
    const u32 = rng(12345);
    const r = () => u32() / 4294967296;
    const types = [0x0800, 0x0806, 0x8100, 0x86dd, 0x88a8, 0x0000, 0xffff];
    let sent = 0;
    for (let round = 0; round < 30; round++) {
      for (let k = 0; k < 1000; k++) {
        if (k % 10 === 0) {
          // Well-formed ones too, so the filters' verdicts are exercised.
          const m = (k / 10) % 3;
          if (s.a.inject(m === 0 ? udpFrame(53) : m === 1 ? udpFrame(7) : synFrame(`10.9.9.${k & 3}`))) sent++;
          continue;
        }
        const len = Math.floor(r() * (r() < 0.5 ? 80 : 1600));
        const f = new Uint8Array(len);
        for (let j = 0; j < len; j++) f[j] = (r() * 256) | 0;
        if (r() < 0.7 && len >= 6) f.set(r() < 0.8 ? MAC_A : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
        const dv = new DataView(f.buffer);
        if (r() < 0.7 && len >= ETH_HLEN) dv.setUint16(ETH_TYPE, types[(r() * types.length) | 0]);
        // (Only the TPID's high byte is looked at: 0x81xx counts as tagged.)
        const tagged = f[ETH_TYPE] === ETH_P_8021Q >> 8;
        if (r() < 0.3 && len >= ETH_HLEN + VLAN_HLEN && tagged) dv.setUint16(VLAN_TCI, r() < 0.5 ? 10 : (r() * 4096) | 0);
        const l3 = tagged ? ETH_HLEN + VLAN_HLEN : ETH_HLEN;
        if (r() < 0.6 && len > l3) f[l3 + IPV4_VIHL] = 0x45;
        if (s.a.inject(f)) sent++;
      }
      while (s.a.pending() > 0) s.napi.kick();
      s.a.takeTx();
    }
    const d = s.graph.drops.toJSON();
    const dropped = Object.values(d).reduce((x, y) => x + y, 0);
    const st = s.napi.stat()[0];
    expect(st.processed).toBe(sent);
    expect(s.napi.errors).toBe(0);
    expect(s.xdp.exceptions).toBe(0);
    const v = s.xdp.stats(0);
    const reachedIp = s.graph.runtime().find((x) => x.name === 'ip-rcv')!.packets;
    const reachedArp = s.graph.runtime().find((x) => x.name === 'arp-rcv')!.packets;
    // Every frame: dropped with a reason, or sent (XDP_TX, reflected IPv4), or taken by arp-rcv.
    expect(dropped + v.tx + reachedIp + reachedArp).toBe(sent);
    expect(v.drop).toBeGreaterThan(1000);
    expect(v.tx).toBeGreaterThan(900);
    expect(s.pool.available).toBe(s.pool.total);
    console.log(`fuzz: ${sent} frames; drops ${JSON.stringify(Object.fromEntries(Object.entries(d).filter(([, x]) => x > 0)))}; xdp ${JSON.stringify(v)}`);
    s.napi.stop();
  });
});

describe('fuzzing the full stack (test/support/fuzz.ts)', () => {
  it('millions of seeded random and mutated frames: no exception, no write outside a frame, every frame accounted, the pool balances', async () => {
    // Fixed seed: the run is deterministic (virtual clock), so a failure reproduces with
    // `npm run fuzz -- --frames N --seed S`. FUZZ_SEED picks another.
    const seed = Number(process.env.FUZZ_SEED ?? 20260801);
    // At least 300k frames whatever the load (the time limit only ends the run after them), up to
    // 4M within 15 s on an idle machine.
    const r = await runFuzz({ frames: 4_000_000, seed, timeLimitMs: 15_000, minFrames: 300_000 });
    console.log(
      `fuzz (seed ${seed}): ${r.frames} frames (${r.edgeFrames} at the UMEM's end) in ${r.seconds.toFixed(1)} s = ${(r.framesPerSec / 1e3).toFixed(0)} k frames/s; ` +
        `transmitted ${r.transmitted}, generated ${r.generated}, consumed ${r.consumed}, held ${r.held}, ${Object.keys(r.drops).length} drop reasons`,
    );
    expect(r.violations.map((v) => `${v.kind} at batch ${v.batch}: ${v.message} ${JSON.stringify(v.frames).slice(0, 2000)}`)).toEqual([]);
    expect(r.napiErrors).toBe(0);
    expect(r.silentFrees).toBe(0);
    expect(r.frames).toBeGreaterThanOrEqual(300_000);
    // The mutations reach deep: forwarding, ICMP generation, reassembly, netfilter, neighbour.
    for (const reason of ['ip.InHdrErrors', 'ip.ReasmFails', 'netfilter.drop', 'ip.ttl_exceeded', 'arp.bad_op', 'neigh.unres_discards']) expect(r.drops[reason] ?? 0, reason).toBeGreaterThan(0);
    expect(r.transmitted).toBeGreaterThan(r.frames / 20);
    expect(r.generated).toBeGreaterThan(0);
  }, 60_000);

  // Regression inputs the fuzzer found, as [ingress port, frame hex]; each is placed at the end
  // of its UMEM slot, like the fuzzer does.
  it('found: an ICMP error for a frame at the end of its UMEM slot wrote 28 bytes into the next frame (icmp-send)', async () => {
    // UDP 10.1.0.2 -> 5.219.1.1 with TTL 1: ip_forward answers ICMP time exceeded, which grew
    // the frame by 28 bytes at its end, bounded by the default headroom's room, not by the
    // frame's real position. Now the headers go into the headroom in front of it.
    const r = await replayFrames([[0, '02000000010002000000009908004500002612340000011196b50a01000205db01011388000900124a7200070e151c232a31383f']]);
    expect(r.canary).toBe('');
    expect(r.errors).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.icmp.OutTimeExcds).toBe(1);
  });
});
