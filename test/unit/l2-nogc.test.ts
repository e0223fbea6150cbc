import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { Batch } from '../../src/core/batch.ts';
import { parseMac } from '../../src/l2/eth.ts';
import { ARPOP_REQUEST, buildArp } from '../../src/l2/arp.ts';
import { OUR_IP, rig } from './l2-helpers.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('L2 steady state allocates nothing', () => {
  it('neigh-output on resolved next hops and arp-rcv answering requests: no GC, no heap growth', async () => {
    const r = rig({ capacity: 256 }, 1024);
    const mac = parseMac('02:00:00:00:00:42');
    for (let k = 0; k < 100; k++) r.neigh.addPermanent(0, (0x0a000100 + k) >>> 0, mac);
    // A dev-xmit that keeps frames (they are reused): swap the recording stage's run.
    r.xmit.run = () => {};
    const dv = r.pool.umem.dv;
    const b = new Batch(64);
    const frames: number[] = [];
    for (let k = 0; k < 64; k++) frames.push(r.pool.alloc());
    const outId = r.g.id('neigh-output');
    const arpId = r.g.id('arp-rcv');
    // RNG state in a typed array: a u32 in a closure variable would be a heap number (allocates).
    const x = new Uint32Array([1]);
    const round = (arp: boolean) => {
      b.n = 0;
      for (let k = 0; k < 64; k++) {
        const a = frames[k];
        if (arp) buildArp(dv, a, ARPOP_REQUEST, 0xffffffff, 0xffff, 0x02000000, 0x0200 + (k & 31), 0x0a000200 + (k & 31), 0, 0, OUR_IP);
        else dv.setUint8(a + 14, 0x45);
        const i = b.push(a, 60, 0);
        b.l3[i] = 14;
        x[0] = Math.imul(x[0], 1103515245) + 12345;
        b.nh[i] = 0x0a000100 + (x[0] % 100);
      }
      r.g.dispatch(b, arp ? arpId : outId);
    };
    for (let k = 0; k < 20_000; k++) round((k & 7) === 0); // warm-up: JIT
    await sleep(50);
    const gcs: string[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcs.push(`${e.name} ${e.duration.toFixed(2)} ms`);
    });
    obs.observe({ entryTypes: ['gc'] });
    const heap0 = getHeapStatistics().used_heap_size;
    const t0 = performance.now();
    const rounds = 80_000; // 5.1 M packets, 1/8 of them ARP requests
    for (let k = 0; k < rounds; k++) round((k & 7) === 0);
    const ms = performance.now() - t0;
    const heap1 = getHeapStatistics().used_heap_size;
    await sleep(50);
    obs.disconnect();
    console.log(`l2 no-GC: ${((rounds * 64) / 1e6).toFixed(1)} M packets in ${ms.toFixed(0)} ms, heap ${(heap0 / 1e6).toFixed(2)} -> ${(heap1 / 1e6).toFixed(2)} MB, GCs: ${gcs.length}`);
    expect(gcs).toEqual([]);
    expect(heap1 - heap0).toBeLessThan(500_000);
    expect(r.arp.mib.get('OutReplies')).toBeGreaterThan(600_000);
  }, 60_000);
});
