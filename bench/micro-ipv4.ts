// Micro benchmark of the IPv4 stages (issue 4): ns/packet of ip-rcv, ip-forward (TTL + RFC 1624
// checksum) and ICMP echo (ip-rcv -> ip-local-deliver -> icmp-rcv -> ip-output) at batch 64,
// frames spread over a UMEM in random order like a real one, a FIB of 10k random routes, and
// optionally 20 non-matching FORWARD rules, with connection tracking off or on (64 flows, found
// in the table after the first dispatch). `neigh-output` is a stand-in that only counts.
// Reports tinybench ns/packet for the whole dispatch (including the per-run header reset the
// in-place rewrites need) and the graph's own per-stage ns/packet (every dispatch timed).
// Run: node --import tsx bench/micro-ipv4.ts [--time MS] [--batch N]
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
import { csumFinish, csumPartial } from '../src/wire/checksum.ts';
import { ipSendCheck } from '../src/wire/ipv4.ts';
import { registerIpv4, type Ipv4 } from '../src/ipv4/index.ts';
import { Netfilter } from '../src/ipv4/netfilter/netfilter.ts';

const { time: TIME, batch: BATCH } = parseArgs(process.argv.slice(2), {
  time: { type: 'int', min: 1, default: 500, help: 'ms per task' },
  batch: { type: 'int', min: 1, max: 256, default: 64 },
});

const umem = memoryUmem(4096);
const pool = new FramePool(umem);
const frames: number[] = [];
for (let k = 0; k < 1024; k++) frames.push(pool.alloc());
for (let k = frames.length - 1; k > 0; k--) {
  const r = Math.floor(Math.random() * (k + 1));
  [frames[k], frames[r]] = [frames[r], frames[k]];
}

let seed = 42;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);

function stack(rules: number, conntrack = false): { g: Graph; ipv4: Ipv4; neigh: NullStage } {
  const devs = new NetDevices();
  devs.addPort('p0', new MemoryPort('m0', umem, pool, 256, 256));
  devs.addPort('p1', new MemoryPort('m1', umem, pool, 256, 256));
  const g = new Graph(pool, 256);
  const ipv4 = registerIpv4(g, devs, { add() {} });
  const neigh = new NullStage('neigh-output');
  g.add(neigh);
  ipv4.addAddress(0, 0x0a010001, 24);
  ipv4.addAddress(1, 0x0a020001, 24);
  // 10k random routes /8../32 via the p1 neighbour (the default route covers the rest).
  ipv4.fib.add({ prefix: 0, len: 0, type: 1, gateway: 0x0a020002, oif: -1, metric: 0, proto: 'static' });
  for (let k = 0; k < 10_000; k++) {
    const len = 8 + (rnd() % 25);
    const prefix = (rnd() & (len === 32 ? 0xffffffff : ~(0xffffffff >>> len))) >>> 0;
    if (prefix >>> 24 === 10 || prefix >>> 24 === 0 || prefix >>> 24 >= 224 || prefix >>> 24 === 127) continue;
    try {
      ipv4.fib.add({ prefix, len, type: 1, gateway: 0x0a020002, oif: -1, metric: 0, proto: 'static' });
    } catch {
      // duplicate prefix: skip
    }
  }
  if (rules > 0 || conntrack) {
    const nf = new Netfilter((n) => devs.get(n).index, (i) => devs.list[i]?.name ?? '?');
    for (let k = 0; k < rules; k++) nf.exec(`-A FORWARD -p udp --dport ${20000 + k} -j DROP`);
    ipv4.setNetfilter(nf);
    if (conntrack) ipv4.conntrackSysctl('nf_conntrack_enable', 1);
    ipv4.refreshHooks();
  }
  g.seal();
  g.sampleEvery = 1;
  return { g, ipv4, neigh };
}

/** Write a UDP datagram (payload 18 -> 64-byte frame) to a random routed destination. */
function writeUdp(a: number): void {
  const dv = umem.dv;
  const h = a + 14;
  dv.setUint16(h, 0x4500);
  dv.setUint16(h + 2, 46);
  dv.setUint32(h + 4, 0);
  dv.setUint16(h + 8, (64 << 8) | 17);
  dv.setUint32(h + 12, 0x0a010002);
  let d = rnd();
  while (d >>> 24 === 10 || d >>> 24 === 0 || d >>> 24 >= 224 || d >>> 24 === 127) d = rnd();
  dv.setUint32(h + 16, d >>> 0);
  dv.setUint32(h + 20, (1234 << 16) | 53);
  ipSendCheck(dv, h);
}

const ECHO_LEN = 20 + 8 + 56;
const echoTemplate = new Uint8Array(ECHO_LEN);
{
  const dv = new DataView(echoTemplate.buffer);
  dv.setUint16(0, 0x4500);
  dv.setUint16(2, ECHO_LEN);
  dv.setUint16(8, (64 << 8) | 1);
  dv.setUint32(12, 0x0a010002);
  dv.setUint32(16, 0x0a010001);
  dv.setUint16(10, csumFinish(csumPartial(dv, 0, 20, 0)));
  echoTemplate[20] = 8;
  dv.setUint32(24, 0x00010001);
  for (let k = 28; k < ECHO_LEN; k++) echoTemplate[k] = k;
  dv.setUint16(22, csumFinish(csumPartial(dv, 20, ECHO_LEN - 20, 0)));
}

function batchOf(n: number, from: number, len: number): Batch {
  const b = new Batch(256);
  for (let k = 0; k < n; k++) {
    const i = b.push(frames[from + k], len, 0);
    b.l3[i] = 14;
  }
  return b;
}

/** Restore metadata the stages rewrote (len trimmed, oif...) and, for forwarding, the TTL. */
function resetFwd(b: Batch, n: number): void {
  const dv = umem.dv;
  for (let k = 0; k < n; k++) {
    const h = b.addr[k] + 14;
    // TTL back to 64 with the checksum patched the other way (RFC 1624, +0x100 on word 8).
    const old = dv.getUint16(h + 8);
    if (old >>> 8 !== 64) {
      dv.setUint16(h + 8, (64 << 8) | (old & 0xff));
      let c = (~dv.getUint16(h + 10) & 0xffff) + (~old & 0xffff) + ((64 << 8) | (old & 0xff));
      c = (c & 0xffff) + (c >>> 16);
      c = (c & 0xffff) + (c >>> 16);
      dv.setUint16(h + 10, ~c & 0xffff);
    }
  }
  b.n = n;
}

const results: Array<{ task: string; ns: number; n: number }> = [];
const bench = new Bench({ time: TIME });
const runtimes: Array<{ label: string; g: Graph }> = [];

for (const [rules, ct] of [[0, false], [20, false], [0, true], [20, true]] as const) {
  const s = stack(rules, ct);
  const b = batchOf(BATCH, (rules > 0 ? 256 : 0) + (ct ? 128 : 0), 64);
  for (let k = 0; k < BATCH; k++) writeUdp(b.addr[k]);
  const entry = s.g.id('ip-rcv');
  const name = `forward ${rules} rules${ct ? ' + conntrack' : ''} batch ${BATCH}`;
  bench.add(name, () => {
    resetFwd(b, BATCH);
    s.g.dispatch(b, entry);
  });
  runtimes.push({ label: `forward, ${rules} FORWARD rules, conntrack ${ct ? 'on' : 'off'}`, g: s.g });
}
{
  const s = stack(0);
  const b = batchOf(BATCH, 600, 14 + ECHO_LEN);
  const entry = s.g.id('ip-rcv');
  bench.add(`icmp echo batch ${BATCH}`, () => {
    for (let k = 0; k < BATCH; k++) {
      umem.u8.set(echoTemplate, b.addr[k] + 14);
      b.len[k] = 14 + ECHO_LEN;
      b.l4[k] = 0;
    }
    b.n = BATCH;
    s.g.dispatch(b, entry);
  });
  runtimes.push({ label: 'icmp echo (56 B payload)', g: s.g });
}

// Reference in the same run (the machine is shared: compare ratios, not absolute figures): a
// stage that touches one byte per packet (notes/af-xdp-here.md: 3.4 ns cold / 2.1 hot unloaded).
{
  const g = new Graph(pool, 256);
  let sink = 0;
  g.add({
    name: 'touch',
    run(b: Batch, v: Uint16Array, n: number) {
      for (let j = 0; j < n; j++) sink += umem.u8[b.addr[v[j]] + 14];
    },
  });
  g.seal();
  g.sampleEvery = 1;
  const b = batchOf(BATCH, 0, 64);
  bench.add(`touch one byte batch ${BATCH}`, () => {
    b.n = BATCH;
    g.dispatch(b, 0);
    if (sink < 0) console.log(sink);
  });
  runtimes.push({ label: 'reference: touch one byte', g });
}

// The per-stage clocks include tinybench's warm-up runs (a few percent of the samples).
await bench.run();
for (const t of bench.tasks) {
  const err = (t.result as { error?: unknown } | undefined)?.error;
  if (err) console.error(t.name, err);
  results.push({ task: t.name, ns: (taskMs(t)?.mean ?? NaN) * 1e6, n: BATCH });
}
console.table(results.map((r) => ({ task: r.task, 'ns/dispatch': r.ns.toFixed(0), 'ns/packet (incl. reset)': (r.ns / r.n).toFixed(1) })));
for (const { label, g } of runtimes) {
  console.log(`per-stage runtime: ${label}`);
  console.table(
    g
      .runtime()
      .filter((r) => r.packets > 0)
      .map((r) => ({ stage: r.name, packets: r.packets, 'packets/call': r.packetsPerCall.toFixed(1), 'ns/packet': r.nsPerPacket.toFixed(1) })),
  );
}
