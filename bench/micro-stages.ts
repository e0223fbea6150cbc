// Micro benchmark of the core stages (issue 3): ns/packet of eth-input, xdp (with the blocklist
// filter), dev-xmit (plain and VLAN-tagging), the graph's dispatch overhead, and the whole core
// chain xdp -> eth-input -> fwd -> dev-xmit, at batch 1, 8, 32, 64, 256; the overhead of the
// runtime's sampled stage timing (sampleEvery 16 vs 0); and run-to-completion vs stage-by-stage
// for a simple three-step chain, hot (same frames) and cold (4096 frames, random order).
// Run: node --import tsx bench/micro-stages.ts [--time MS] [--quick]
import { Bench } from 'tinybench';
import { parseArgs } from '../src/cli/args.ts';
import { taskMs } from './tinybench.ts';
import { Batch } from '../src/core/batch.ts';
import { DevXmit } from '../src/core/dev-xmit.ts';
import { EthInput } from '../src/core/eth-input.ts';
import { Graph, type Stage } from '../src/core/graph.ts';
import { NetDevices } from '../src/core/netdev.ts';
import { PtypeTable } from '../src/core/ptype.ts';
import { XdpHook } from '../src/core/xdp.ts';
import { FramePool } from '../src/driver/pool.ts';
import type { Port } from '../src/driver/port.ts';
import { memoryUmem, type Umem } from '../src/driver/umem.ts';
import { createBlocklist } from '../filters/blocklist.ts';

const args = parseArgs(process.argv.slice(2), {
  time: { type: 'int', min: 1, help: 'ms per task (default 300, quick 100)' },
  quick: { type: 'bool' },
});
const TIME = args.time ?? (args.quick ? 100 : 300);
const SIZES = [1, 8, 32, 64, 256];

const umem = memoryUmem(4096 + 256);
const pool = new FramePool(umem);
const u8 = umem.u8;
const dv = umem.dv;
const MAC = [2, 0, 0, 0, 0, 0xa0];

/** A port whose tx() takes everything and keeps nothing (frames are reused by the bench). */
class NullPort implements Port {
  readonly name = 'null0';
  readonly dev = 'null0';
  readonly queue = 0;
  readonly mode = 'memory' as const;
  readonly batchSize = 256;
  readonly mac = new Uint8Array(MAC);
  readonly ifindex = 0;
  readonly rxAddr = new Uint32Array(256);
  readonly rxLen = new Uint32Array(256);
  readonly txAddr = new Uint32Array(256);
  readonly txLen = new Uint32Array(256);
  sent = 0;
  constructor(
    readonly umem: Umem,
    readonly pool: FramePool,
  ) {}
  rx(): number {
    return 0;
  }
  tx(n: number): number {
    this.sent += n;
    return n;
  }
  onStarved = null;
  reap(): number {
    return 0;
  }
  refill(): boolean {
    return true;
  }
  armIrq(): void {}
  disarmIrq(): void {}
  inFlight(): number {
    return 0;
  }
  stats(): Record<string, number> {
    return {};
  }
  close(): void {}
}

/** Takes packets and keeps the frames (a socket that never frees: the bench reuses them). */
class Hold implements Stage {
  n = 0;
  constructor(readonly name: string) {}
  run(_b: Batch, _v: Uint16Array, n: number): void {
    this.n += n;
  }
}

/** The forwarding step of the chain: back out of the same device (b.oif = b.iif). */
class Fwd implements Stage {
  readonly name = 'fwd';
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

// 4096 frames in random order at the 2 KiB stride: a UDP/IPv4 frame each.
const all: number[] = [];
for (let k = 0; k < 4096; k++) all.push(pool.alloc()); // 256 frames stay in the pool
for (let k = all.length - 1; k > 0; k--) {
  const r = Math.floor(Math.random() * (k + 1));
  [all[k], all[r]] = [all[r], all[k]];
}
for (const a of all) {
  u8.set(MAC, a);
  u8.set([2, 0, 0, 0, 0, 0x99], a + 6);
  dv.setUint16(a + 12, 0x0800);
  u8[a + 14] = 0x45;
  dv.setUint16(a + 16, 46);
  u8[a + 22] = 64;
  u8[a + 23] = 17;
  dv.setUint32(a + 26, 0x0a000002);
  dv.setUint32(a + 30, 0x0a000001);
  dv.setUint16(a + 34, 4000);
  dv.setUint16(a + 36, 53 + (a & 7));
}

function batch(n: number, l3 = 0): Batch {
  const b = new Batch(256);
  for (let k = 0; k < n; k++) b.l3[b.push(all[k], 60, 0)] = l3;
  return b;
}

function world(vlan = false) {
  const devs = new NetDevices();
  const port = new NullPort(umem, pool);
  devs.addPort('null0', port);
  if (vlan) devs.addVlan('null0', 10);
  const g = new Graph(pool, 256);
  const ptype = new PtypeTable();
  const xdp = new XdpHook(devs);
  return { devs, port, g, ptype, xdp };
}

const bench = new Bench({ time: TIME });
const perPacket = new Map<string, number>();
const add = (name: string, n: number, fn: () => void) => {
  perPacket.set(name, n);
  bench.add(name, fn);
};

// eth-input alone: ptype dispatch to a holding stage.
{
  const w = world();
  w.g.add(new EthInput(w.devs, w.ptype));
  w.g.add(new Hold('ip-rcv'));
  w.ptype.add(0x0800, 'ip-rcv');
  w.g.sampleEvery = 0;
  const id = w.g.id('eth-input');
  for (const n of SIZES) {
    const b = batch(n);
    add(`eth-input batch ${n}`, n, () => w.g.dispatch(b, id));
  }
}
// xdp with the blocklist filter (everything passes) to a holding eth-input.
{
  const w = world();
  w.g.add(w.xdp);
  w.g.add(new Hold('eth-input'));
  w.xdp.attach(0, createBlocklist([19, 1900, 11211]));
  w.g.sampleEvery = 0;
  const id = w.g.id('xdp');
  for (const n of SIZES) {
    const b = batch(n);
    add(`xdp blocklist batch ${n}`, n, () => w.g.dispatch(b, id));
  }
}
// dev-xmit alone, plain and onto a VLAN sub-interface (tag inserted into the headroom).
for (const vlan of [false, true]) {
  const w = world(vlan);
  w.g.add(new DevXmit(w.devs));
  w.g.sampleEvery = 0;
  const id = w.g.id('dev-xmit');
  for (const n of vlan ? [64] : SIZES) {
    const b = batch(n, 14);
    // Tagging rewrites the frame's first 16 bytes: give it frames of its own.
    if (vlan) for (let k = 0; k < n; k++) b.addr[k] = pool.alloc();
    for (let k = 0; k < n; k++) b.oif[k] = vlan ? 1 : 0;
    add(`dev-xmit${vlan ? ' vlan' : ''} batch ${n}`, n, () => w.g.dispatch(b, id));
  }
}
// Dispatch overhead: one stage that does nothing.
{
  const w = world();
  w.g.add(new Hold('nothing'));
  w.g.sampleEvery = 0;
  for (const n of SIZES) {
    const b = batch(n);
    add(`graph dispatch, empty stage batch ${n}`, n, () => w.g.dispatch(b, 0));
  }
}
// The whole core chain, and the cost of sampled timing on it.
const chain = world();
chain.g.add(chain.xdp);
chain.g.add(new EthInput(chain.devs, chain.ptype));
chain.g.add(new Fwd());
chain.g.add(new DevXmit(chain.devs));
chain.ptype.add(0x0800, 'fwd');
chain.xdp.attach(0, createBlocklist([19, 1900, 11211]));
const chainId = chain.g.id('xdp');
for (const n of SIZES) {
  const b = batch(n);
  add(`chain xdp>eth-input>fwd>dev-xmit batch ${n}`, n, () => {
    chain.g.sampleEvery = 0;
    b.n = n;
    chain.g.dispatch(b, chainId);
  });
}

/**
 * Sampled-timing overhead, measured outside tinybench: 400 pairs of adjacent blocks of 500
 * dispatches, sampleEvery 0 then 16; the median of the per-pair ratios (the machine is shared:
 * adjacent blocks see the same load, separate tasks do not). By construction the cost is two
 * clock reads per 16 dispatches, ~0.1 ns/packet at batch 64; this checks nothing else costs.
 */
function samplingOverhead(): { off: number; on: number; ratio: number } {
  const b = batch(64);
  const ratios: number[] = [];
  const offs: number[] = [];
  const ons: number[] = [];
  const block = (every: number) => {
    chain.g.sampleEvery = every;
    const t0 = performance.now();
    for (let k = 0; k < 500; k++) chain.g.dispatch(b, chainId);
    return ((performance.now() - t0) * 1e6) / (500 * 64);
  };
  for (let p = 0; p < 400; p++) {
    const first = p & 1 ? 16 : 0; // alternate which goes first
    const x = block(first);
    const y = block(16 - first);
    const off = first === 0 ? x : y;
    const on = first === 0 ? y : x;
    offs.push(off);
    ons.push(on);
    ratios.push(on / off);
  }
  const med = (a: number[]) => [...a].sort((u, v) => u - v)[a.length >> 1];
  return { off: med(offs), on: med(ons), ratio: med(ratios) };
}

// Run-to-completion vs stage-by-stage: the same three steps (EtherType check, IPv4 version/TTL
// check + TTL write, MAC rewrite), as three graph stages or one stage calling them per packet.
function stepEth(a: number): boolean {
  return dv.getUint16(a + 12) === 0x0800;
}
function stepIp(a: number): boolean {
  if (u8[a + 14] !== 0x45 || u8[a + 22] <= 1) return false;
  u8[a + 22] = 64; // keep the frames reusable: set instead of decrement
  return true;
}
// MAC rewrite as a forwarder does it (three 32-bit stores), idempotent so frames stay valid.
const W0 = 0x02000000;
const W1 = 0x00a00200;
const W2 = 0x00000099;
function stepMac(a: number): void {
  dv.setUint32(a, W0);
  dv.setUint32(a + 4, W1);
  dv.setUint32(a + 8, W2);
}
/** Three separate stage classes, so each loop stays monomorphic as real stages are. */
class StepEth implements Stage {
  readonly name = 's-eth';
  private g!: Graph;
  private next = 0;
  private bad = 0;
  init(g: Graph): void {
    this.g = g;
    this.next = g.id('s-ip');
    this.bad = g.reason('bench.bad');
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    for (let j = 0; j < n; j++) {
      const i = v[j];
      if (stepEth(b.addr[i])) this.g.enqueue(this.next, i);
      else this.g.drops.v[this.bad]++;
    }
  }
}
class StepIp implements Stage {
  readonly name = 's-ip';
  private g!: Graph;
  private next = 0;
  private bad = 0;
  init(g: Graph): void {
    this.g = g;
    this.next = g.id('s-mac');
    this.bad = g.reason('bench.bad');
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    for (let j = 0; j < n; j++) {
      const i = v[j];
      if (stepIp(b.addr[i])) this.g.enqueue(this.next, i);
      else this.g.drops.v[this.bad]++;
    }
  }
}
class StepMac implements Stage {
  readonly name = 's-mac';
  run(b: Batch, v: Uint16Array, n: number): void {
    for (let j = 0; j < n; j++) stepMac(b.addr[v[j]]);
  }
}
class AllInOne implements Stage {
  readonly name = 'rtc';
  private bad = 0;
  private g!: Graph;
  init(g: Graph): void {
    this.g = g;
    this.bad = g.reason('bench.bad');
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    for (let j = 0; j < n; j++) {
      const a = b.addr[v[j]];
      if (!stepEth(a) || !stepIp(a)) {
        this.g.drops.v[this.bad]++;
        continue;
      }
      stepMac(a);
    }
  }
}
{
  const sbs = new Graph(pool, 256);
  sbs.add(new StepEth());
  sbs.add(new StepIp());
  sbs.add(new StepMac());
  sbs.sampleEvery = 0;
  const rtc = new Graph(pool, 256);
  rtc.add(new AllInOne());
  rtc.sampleEvery = 0;
  for (const cold of [false, true]) {
    const b = batch(64);
    let off = 0;
    const refill = () => {
      // Cold: a different 64 of the 4096 frames each run.
      off = (off + 64) & 4095;
      for (let k = 0; k < 64; k++) b.addr[k] = all[off + k];
    };
    const tag = cold ? 'cold' : 'hot';
    add(`stage-by-stage (3 stages) ${tag} batch 64`, 64, () => {
      if (cold) refill();
      sbs.dispatch(b, 0);
    });
    add(`run-to-completion (1 stage) ${tag} batch 64`, 64, () => {
      if (cold) refill();
      rtc.dispatch(b, 0);
    });
  }
}

await bench.run();
const ns = new Map<string, number>();
const rows = bench.tasks.map((t) => {
  const meanMs = taskMs(t)?.mean ?? NaN;
  const n = perPacket.get(t.name) ?? 1;
  ns.set(t.name, (meanMs * 1e6) / n);
  return { task: t.name, 'ns/dispatch': (meanMs * 1e6).toFixed(0), 'ns/packet': ((meanMs * 1e6) / n).toFixed(1) };
});
console.table(rows);
for (const t of bench.tasks) {
  const e = (t.result as { error?: unknown } | undefined)?.error;
  if (e) console.log(`${t.name} failed:`, e);
}
const so = samplingOverhead();
console.log(
  `sampled timing overhead (chain batch 64, sampleEvery 16 vs 0, 400 adjacent block pairs): ` +
    `${so.off.toFixed(1)} -> ${so.on.toFixed(1)} ns/packet, median pair ratio ${((so.ratio - 1) * 100).toFixed(1)}%`,
);
for (const tag of ['hot', 'cold']) {
  const s = ns.get(`stage-by-stage (3 stages) ${tag} batch 64`)!;
  const r = ns.get(`run-to-completion (1 stage) ${tag} batch 64`)!;
  console.log(`${tag}: stage-by-stage ${s.toFixed(1)} ns/packet, run-to-completion ${r.toFixed(1)} ns/packet: ${(s / r).toFixed(2)}x`);
}
