// Connection tracking's steady state, measured by the no-GC harness (test/support/nogc.ts) in a
// process of its own: a stateful FORWARD chain over 64 UDP flows and their replies (lookups,
// refreshes), and a stream of new flows into a full table (early drop, allocation, confirm,
// reclaim of the dropped ones' entries).
import { Batch } from '../../src/core/batch.ts';
import { Graph, type Stage } from '../../src/core/graph.ts';
import { NetDevices } from '../../src/core/netdev.ts';
import { FramePool } from '../../src/driver/pool.ts';
import { MemoryPort } from '../../src/driver/memory.ts';
import { memoryUmem } from '../../src/driver/umem.ts';
import { registerIpv4 } from '../../src/ipv4/index.ts';
import { CT_DROP, CT_EARLY_DROP } from '../../src/ipv4/conntrack/conntrack.ts';
import { defaultConntrackSysctl } from '../../src/ipv4/conntrack/sysctl.ts';
import { Netfilter } from '../../src/ipv4/netfilter/netfilter.ts';
import { measureNoGc } from '../support/nogc-child.ts';
import { ipFrame } from '../support/ipv4-graph.ts';

const ROUNDS = Number(process.argv[2] ?? 20_000);

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
const sysctl = { ...defaultConntrackSysctl(1024), nf_conntrack_max: 1024 };
// A clock of our own: moved once, so the 64 replied flows become ASSURED streams (never early-dropped).
const clock = new Float64Array([1000]);
const ipv4 = registerIpv4(g, devs, { add() {} }, { conntrack: { buckets: 1024, sysctl, clock } });
const neigh = new NullNeigh();
g.add(neigh);
ipv4.addAddress(0, 0x0a010001, 24);
ipv4.addAddress(1, 0x0a020001, 24);
const nf = new Netfilter((n) => devs.get(n).index, (i) => devs.list[i]?.name ?? '?');
for (const r of ['-P FORWARD DROP', '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', '-A FORWARD -i p0 -m conntrack --ctstate NEW -j ACCEPT']) nf.exec(r);
ipv4.setNetfilter(nf);
ipv4.refreshHooks();
g.seal();

const out = ipFrame({ src: '10.1.0.2', dst: '10.2.0.9', udp: { sport: 0, dport: 53 }, payload: new Uint8Array(18) });
const back = ipFrame({ src: '10.2.0.9', dst: '10.1.0.2', udp: { sport: 53, dport: 0 }, payload: new Uint8Array(18) });
const b = new Batch(256);
const addrs = new Uint32Array(64);
pool.allocMany(addrs, 64);
const entry = g.id('ip-rcv');
// UDP header at 14 + 20; no checksum (0) so ports can change without recomputing it.
const round = (frame: Uint8Array, iif: number, portAt: number, base: number) => {
  b.n = 0;
  for (let k = 0; k < 64; k++) {
    const a = addrs[k];
    umem.u8.set(frame, a);
    const port = (base + k) & 0xffff;
    umem.u8[a + portAt] = port >> 8;
    umem.u8[a + portAt + 1] = port & 0xff;
    umem.u8[a + 40] = 0;
    umem.u8[a + 41] = 0;
    b.push(a, frame.length, iif);
    b.l3[k] = 14;
  }
  g.dispatch(b, entry);
};
let fresh = 10_000;
const step = () => {
  round(out, 0, 34, 1000);
  round(back, 1, 36, 1000);
  round(out, 0, 34, fresh);
  fresh = (fresh + 64) & 0xffff;
};

let sent0 = 0;
let ctDrop0 = 0;
let nfDrop0 = 0;
await measureNoGc({
  graphs: [g],
  warm: () => {
    step();
    clock[0] += 5000;
    for (let r = 0; r < 3000; r++) step();
    sent0 = neigh.n;
    ctDrop0 = ipv4.conntrack.stats[CT_DROP];
    nfDrop0 = g.drops.toJSON()['netfilter.drop'] ?? 0;
  },
  run: () => {
    for (let r = 0; r < ROUNDS; r++) step();
    return ROUNDS * 64 * 3;
  },
  extra: () => ({
    reachedNeigh: neigh.n - sent0,
    entries: ipv4.conntrack.table.count,
    earlyDrop: ipv4.conntrack.stats[CT_EARLY_DROP],
    ctDrop: ipv4.conntrack.stats[CT_DROP] - ctDrop0,
    nfDrop: (g.drops.toJSON()['netfilter.drop'] ?? 0) - nfDrop0,
    otherDrops: Object.entries(g.drops.toJSON()).filter(([k, v]) => v > 0 && k !== 'netfilter.drop'),
  }),
});
