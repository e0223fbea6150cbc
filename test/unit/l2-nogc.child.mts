// The L2 steady-state load, measured by the no-GC harness (test/support/nogc.ts) in a process
// of its own: neigh-output on resolved next hops, and arp-rcv answering requests (1 round in 8).
import { Batch } from '../../src/core/batch.ts';
import { parseMac } from '../../src/wire/addr.ts';
import { ARPOP_REQUEST, buildArp } from '../../src/wire/arp.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { IPV4_VIHL } from '../../src/wire/ipv4.ts';
import { measureNoGc } from '../support/nogc-child.ts';
import { OUR_IP, rig } from '../support/l2-graph.ts';

const ROUNDS = Number(process.argv[2] ?? 80_000);
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
    if (arp) buildArp(dv, a, ARPOP_REQUEST, 0xffffffff, 0xffff, 0x02000000, 0x0200 + (k & 31), 0x0a000020 + (k & 31), 0, 0, OUR_IP);
    else dv.setUint8(a + ETH_HLEN + IPV4_VIHL, 0x45);
    const i = b.push(a, 60, 0);
    b.l3[i] = ETH_HLEN;
    x[0] = Math.imul(x[0], 1103515245) + 12345;
    b.nh[i] = 0x0a000100 + (x[0] % 100);
  }
  r.g.dispatch(b, arp ? arpId : outId);
};

await measureNoGc({
  graphs: [r.g],
  warm: () => {
    for (let k = 0; k < 20_000; k++) round((k & 7) === 0);
  },
  run: () => {
    for (let k = 0; k < ROUNDS; k++) round((k & 7) === 0);
    return ROUNDS * 64;
  },
  extra: () => ({ outReplies: r.arp.mib.get('OutReplies') }),
});
