// The IPv4 no-GC children's graph (test/unit/*-nogc.child.mts): two memory ports p0 10.1.0.1/24
// and p1 10.2.0.1/24, FORWARD rules, a neigh-output that only counts, and 64 frames held for
// reuse, so the measured rounds allocate nothing of their own.
import { Batch } from '../../src/core/batch.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { FramePool } from '../../src/driver/pool.ts';
import { memoryUmem, type Umem } from '../../src/driver/umem.ts';
import { registerIpv4, type Ipv4, type Ipv4Options } from '../../src/ipv4/index.ts';
import { Netfilter } from '../../src/ipv4/netfilter/netfilter.ts';

/** Keeps the frames (they are reused): counts only. */
export class NullNeigh implements Stage {
  readonly name = 'neigh-output';
  n = 0;
  run(_b: Batch, _v: Uint16Array, n: number): void {
    this.n += n;
  }
}

export interface NogcRig {
  umem: Umem;
  g: Graph;
  ipv4: Ipv4;
  neigh: NullNeigh;
  b: Batch;
  /** 64 frames allocated once; the rounds write their packets into them. */
  addrs: Uint32Array;
  /** ip-rcv's stage id. */
  entry: number;
}

/** The graph with `rules` (iptables syntax) in netfilter; `opts` go to registerIpv4. */
export function nogcIpv4(rules: string[], opts?: Ipv4Options): NogcRig {
  const umem = memoryUmem(1024);
  const pool = new FramePool(umem);
  const devs = new NetDevices();
  devs.addPort('p0', new MemoryPort('m0', umem, pool, 256, 256));
  devs.addPort('p1', new MemoryPort('m1', umem, pool, 256, 256));
  const g = new Graph(pool, 256);
  const ipv4 = registerIpv4(g, devs, { add() {} }, opts);
  const neigh = new NullNeigh();
  g.add(neigh);
  ipv4.addAddress(0, 0x0a010001, 24);
  ipv4.addAddress(1, 0x0a020001, 24);
  const nf = new Netfilter((n) => devs.get(n).index, (i) => devs.list[i]?.name ?? '?');
  for (const r of rules) nf.exec(r);
  ipv4.setNetfilter(nf);
  ipv4.refreshHooks();
  g.seal();
  const addrs = new Uint32Array(64);
  pool.allocMany(addrs, 64);
  return { umem, g, ipv4, neigh, b: new Batch(256), addrs, entry: g.id('ip-rcv') };
}
