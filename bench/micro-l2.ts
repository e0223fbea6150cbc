// Micro benchmark of the L2 stages (issue 3): neigh-output on resolved next hops (1000 REACHABLE
// entries, random next hop per packet, header written in place) and arp-rcv turning requests
// into replies, at batch 1, 8, 32, 64, 256. Reports ns/packet from tinybench (whole dispatch,
// with a dev-xmit that only counts) and the graph's own per-stage timing.
// Run: node --import tsx bench/micro-l2.ts [--time MS]
import { Bench } from 'tinybench';
import { parseArgs } from '../src/cli/args.ts';
import { taskMs } from './tinybench.ts';
import { NullStage } from './null-stage.ts';
import { Batch } from '../src/core/batch.ts';
import { Graph } from '../src/core/graph.ts';
import { NetDevices } from '../src/core/netdev.ts';
import { FramePool } from '../src/driver/pool.ts';
import { MemoryPort } from '../src/driver/memory.ts';
import { memoryUmem } from '../src/driver/umem.ts';
import { buildArp, ARPOP_REQUEST } from '../src/wire/arp.ts';
import { registerL2 } from '../src/l2/index.ts';

const { time: TIME } = parseArgs(process.argv.slice(2), { time: { type: 'int', min: 1, default: 300, help: 'ms per task' } });
const SIZES = [1, 8, 32, 64, 256];

const umem = memoryUmem(4096);
const pool = new FramePool(umem);
const port = new MemoryPort('mem0', umem, pool, 256, 256);
const devs = new NetDevices();
const p0 = devs.addPort('p0', port);
const OUR = 0x0a000001;
p0.addrs.push({ addr: OUR, prefixLen: 16 });
const g = new Graph(pool, 256);
const l2 = registerL2(g, devs, null, {});
g.add(new NullStage('dev-xmit'));
g.seal();
const mac = new Uint8Array([2, 0, 0, 0, 0, 9]);
for (let k = 0; k < 1000; k++) l2.neigh.addPermanent(0, 0x0a000100 + k, mac);

// Frames spread over the UMEM like a real one (random order, 2 KiB stride).
const frames: number[] = [];
for (let k = 0; k < 512; k++) frames.push(pool.alloc());
for (let k = frames.length - 1; k > 0; k--) {
  const r = Math.floor(Math.random() * (k + 1));
  [frames[k], frames[r]] = [frames[r], frames[k]];
}

function ipBatch(n: number, oneHop = false): Batch {
  const b = new Batch(256);
  for (let k = 0; k < n; k++) {
    const a = frames[k];
    umem.u8[a + 14] = 0x45;
    const i = b.push(a, 60, 0);
    b.l3[i] = 14;
    b.nh[i] = 0x0a000100 + (oneHop ? 7 : Math.floor(Math.random() * 1000));
  }
  return b;
}

function arpBatch(n: number): Batch {
  const b = new Batch(256);
  for (let k = 0; k < n; k++) b.push(frames[256 + k], 60, 0);
  return b;
}

const bench = new Bench({ time: TIME });
const outId = g.id('neigh-output');
const arpId = g.id('arp-rcv');
for (const n of SIZES) {
  const b = ipBatch(n);
  bench.add(`neigh-output random of 1000 next hops batch ${n}`, () => g.dispatch(b, outId));
}
for (const n of [64]) {
  const b = ipBatch(n, true);
  bench.add(`neigh-output one next hop batch ${n}`, () => g.dispatch(b, outId));
}
for (const n of SIZES) {
  const b = arpBatch(n);
  // Each run rewrites the requests (the stage turns them into replies in place).
  bench.add(`arp-rcv request->reply batch ${n}`, () => {
    for (let k = 0; k < n; k++) {
      buildArp(umem.dv, frames[256 + k], ARPOP_REQUEST, 0xffffffff, 0xffff, 0x02000000, 0x0100 + (k & 0xff), 0x0a000200 + (k & 0xff), 0, 0, OUR);
      b.addr[k] = frames[256 + k];
      b.len[k] = 60;
      b.l3[k] = 14;
    }
    g.dispatch(b, arpId);
  });
}
g.sampleEvery = 1;
await bench.run();
const rows = bench.tasks.map((t) => {
  const meanMs = taskMs(t)?.mean ?? NaN;
  const n = Number(t.name.split(' ').pop());
  return { task: t.name, 'ns/dispatch': (meanMs * 1e6).toFixed(0), 'ns/packet': ((meanMs * 1e6) / n).toFixed(1) };
});
console.table(rows);
console.table(
  g
    .runtime()
    .filter((r) => r.packets > 0)
    .map((r) => ({ stage: r.name, packets: r.packets, 'packets/call': r.packetsPerCall.toFixed(1), 'ns/packet (all sizes)': r.nsPerPacket.toFixed(1) })),
);
