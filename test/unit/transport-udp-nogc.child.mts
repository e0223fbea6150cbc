// The UDP receive steady state, measured by the no-GC harness (test/support/nogc.ts) in a process
// of its own: datagrams through ip-rcv, ip-local-deliver and udp-rcv into a socket's queue, read by
// a batch reader ('readable' at the end of each dispatch: recvBatch + release).
import { Batch } from '../../src/core/batch.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { FramePool } from '../../src/driver/pool.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { memoryUmem } from '../../src/driver/umem.ts';
import { registerIpv4 } from '../../src/ipv4/index.ts';
import { registerTransport, UdpViews } from '../../src/transport/index.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { measureNoGc } from '../support/nogc-child.ts';

const ROUNDS = Number(process.argv[2] ?? 32_000);

class NullNeigh implements Stage {
  readonly name = 'neigh-output';
  run(_b: Batch, _v: Uint16Array, _n: number): void {}
}

const umem = memoryUmem(1024);
const pool = new FramePool(umem);
const devs = new NetDevices();
devs.addPort('p0', new MemoryPort('m0', umem, pool, 256, 256));
const g = new Graph(pool, 256);
const ipv4 = registerIpv4(g, devs, { add() {} });
const t = registerTransport(g, ipv4);
g.add(new NullNeigh());
ipv4.addAddress(0, 0x0a010001, 24);
g.seal();
const sock = t.udp.createSocket().bind(9);
const views = new UdpViews(64);
let read = 0;
let sum = 0;
sock.on('readable', () => {
  let n;
  while ((n = sock.recvBatch(views)) > 0) {
    for (let k = 0; k < n; k++) sum += umem.u8[views.addr[k]];
    read += n;
  }
  sock.release();
});
const frame = buildFrame({ ip: { src: '10.1.0.2', dst: '10.1.0.1' }, udp: { sport: 4000, dport: 9, csum: true }, payload: 18 });
const b = new Batch(256);
const addrs = new Uint32Array(64);
const entry = g.id('ip-rcv');
const round = () => {
  const k0 = pool.allocMany(addrs, 64);
  b.n = 0;
  for (let k = 0; k < k0; k++) {
    umem.u8.set(frame, addrs[k]);
    b.push(addrs[k], frame.length, 0);
    b.l3[k] = 14;
  }
  g.dispatch(b, entry);
};

let read0 = 0;
await measureNoGc({
  graphs: [g],
  warm: () => {
    for (let r = 0; r < 5000; r++) round();
    read0 = read;
  },
  run: () => {
    for (let r = 0; r < ROUNDS; r++) round();
    return ROUNDS * 64;
  },
  extra: () => ({ read: read - read0, sum: sum > 0, free: pool.available, total: pool.total, drops: Object.entries(g.drops.toJSON()).filter(([, v]) => v > 0), udp: t.udp.counters.toJSON() }),
});
