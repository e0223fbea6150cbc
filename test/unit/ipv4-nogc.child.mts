// The IPv4 steady-state load, measured by the no-GC harness (test/support/nogc.ts) in a process
// of its own: forwarding through FORWARD rules and answering echo requests, alternately.
import { Batch } from '../../src/core/batch.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { FramePool } from '../../src/driver/pool.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { memoryUmem } from '../../src/driver/umem.ts';
import { registerIpv4 } from '../../src/ipv4/index.ts';
import { Netfilter } from '../../src/ipv4/netfilter/netfilter.ts';
import { measureNoGc } from '../support/nogc-child.ts';
import { icmpMsg, ipFrame } from '../support/ipv4-graph.ts';
import { pattern } from '../support/rng.ts';

const ROUNDS = Number(process.argv[2] ?? 32_000);

/** Keeps the frames (they are reused): counts only. */
class NullNeigh implements Stage {
  readonly name = 'neigh-output';
  n = 0;
  run(_b: Batch, _v: Uint16Array, n: number): void {
    this.n += n;
  }
}

const umem = memoryUmem(1024);
const pool = new FramePool(umem);
const devs = new NetDevices();
devs.addPort('p0', new MemoryPort('m0', umem, pool, 256, 256));
devs.addPort('p1', new MemoryPort('m1', umem, pool, 256, 256));
const g = new Graph(pool, 256);
const ipv4 = registerIpv4(g, devs, { add() {} });
const neigh = new NullNeigh();
g.add(neigh);
ipv4.addAddress(0, 0x0a010001, 24);
ipv4.addAddress(1, 0x0a020001, 24);
const nf = new Netfilter((n) => devs.get(n).index, (i) => devs.list[i]?.name ?? '?');
for (let k = 0; k < 5; k++) nf.exec(`-A FORWARD -p udp --dport ${20000 + k} -j DROP`);
ipv4.setNetfilter(nf);
ipv4.refreshHooks();
g.seal();
const fwd = ipFrame({ src: '10.1.0.2', dst: '10.2.0.9', ttl: 64, payload: pattern(26) });
const echo = ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, payload: icmpMsg(8, 0, 1, pattern(56)) });
const b = new Batch(256);
const addrs = new Uint32Array(64);
pool.allocMany(addrs, 64);
const entry = g.id('ip-rcv');
const round = (frame: Uint8Array) => {
  b.n = 0;
  for (let k = 0; k < 64; k++) {
    umem.u8.set(frame, addrs[k]);
    b.push(addrs[k], frame.length, 0);
    b.l3[k] = 14;
  }
  g.dispatch(b, entry);
};

let sent0 = 0;
await measureNoGc({
  graphs: [g],
  warm: () => {
    for (let r = 0; r < 5000; r++) round((r & 1) === 0 ? fwd : echo);
    sent0 = neigh.n;
  },
  run: () => {
    for (let r = 0; r < ROUNDS; r++) round((r & 1) === 0 ? fwd : echo);
    return ROUNDS * 64;
  },
  extra: () => ({ reachedNeigh: neigh.n - sent0, drops: Object.entries(g.drops.toJSON()).filter(([, v]) => v > 0) }),
});
