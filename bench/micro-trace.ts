// Micro benchmark of softnet trace's cost on the router path (issue 14): a whole stack on memory
// ports (p0 10.1.0.1/24 -> p1 10.2.0.1/24, the next hop's neighbour entry permanent), batches of
// 64 UDP frames entering at eth-input and leaving on p1 (a sink returns them to the pool), with
//   off:           no trace (Graph.tracer null: one test per dispatch),
//   on, 0 match:   a trace whose filter matches nothing (the filter runs on every packet),
//   on, 1% match:  the same filter shape matching 1 packet in 100 (each runs alone, recorded),
// interleaved in 5 rounds of one run (the machine is shared: compare the ratios). Also the old
// dispatch without the tracing hook is not kept; "off" is the production path itself.
// Run: node --import tsx bench/micro-trace.ts [--time MS]
import { Bench } from 'tinybench';
import { parseArgs } from '../src/cli/args.ts';
import { Batch } from '../src/core/batch.ts';
import type { MemoryPort } from '../src/driver/memory.ts';
import { Stack } from '../src/stack/stack.ts';
import { Tracer } from '../src/stack/trace.ts';
import { parseIPv4, parseMac } from '../src/wire/addr.ts';
import { buildFrame } from '../src/wire/frame.ts';
import { taskMs } from './tinybench.ts';

const { time: TIME } = parseArgs(process.argv.slice(2), { time: { type: 'int', min: 1, default: 400, help: 'ms per task and round' } });
const BATCH = 64;

const s = new Stack({ name: 'bench-trace', control: null, umem: 'memory', sysctl: { ip_forward: 1 } });
await s.addPort({ name: 'p0', dev: 'mem0', mode: 'memory', addresses: ['10.1.0.1/24'] });
await s.addPort({ name: 'p1', dev: 'mem1', mode: 'memory', addresses: ['10.2.0.1/24'] });
s.l2.neigh.addPermanent(1, parseIPv4('10.2.0.2'), parseMac('02:00:00:00:00:98'));
s.graph.seal();
let sent = 0;
(s.port('p1') as MemoryPort).sink = () => void sent++;
const p0mac = s.devs.get('p0').mac;
const eth = s.graph.id('eth-input');
const u8 = s.umem.u8;

// 100 frames whose UDP source ports are 1000..1099: 'udp src port 1042' matches 1 in 100.
const templates = Array.from({ length: 100 }, (_, k) =>
  buildFrame({ dstMac: [...p0mac], srcMac: '02:00:00:00:00:99', ip: { src: '10.1.0.2', dst: '10.2.0.2' }, udp: { sport: 1000 + k, dport: 9 }, payload: 18 }),
);
const b = new Batch(256);
let k = 0;
function fill(): void {
  b.n = 0;
  for (let j = 0; j < BATCH; j++) {
    const a = s.pool.alloc();
    const f = templates[k++ % 100];
    u8.set(f, a);
    b.push(a, f.length, 0);
  }
}

const host = {
  graph: s.graph,
  devs: s.devs,
  netfilter: s.netfilter,
  mibs: [s.ipv4.mib.ip, s.ipv4.mib.icmp, s.transport.udp.counters, s.l2.neigh.stats],
  sockets: () => s.sockets(),
};
const none = new Tracer(host, 'udp src port 9999', { maxQueued: Infinity });
const one = new Tracer(host, 'udp src port 1042', { maxQueued: Infinity });

const bench = new Bench({ time: TIME });
const variants: Array<[string, Tracer | null]> = [
  ['off', null],
  ['on, filter matches nothing', none],
  ['on, filter matches 1%', one],
];
const ROUNDS = 5;
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, t] of variants) {
    bench.add(`${name} (round ${round})`, () => {
      s.graph.tracer = t;
      fill();
      s.graph.dispatch(b, eth);
      if (t !== null) t.take();
    });
  }
}
await bench.run();
s.graph.tracer = null;

// Per variant: the best and the median of its rounds' medians (other load only ever adds time).
const per = variants.map(([name]) => {
  const ns = bench.tasks.filter((t) => t.name.startsWith(`${name} (`)).map((t) => ((taskMs(t)?.median ?? NaN) * 1e6) / BATCH);
  ns.sort((x, y) => x - y);
  return { name, best: ns[0], median: ns[Math.floor(ns.length / 2)] };
});
const off = per[0];
console.table(
  per.map((r) => ({
    variant: r.name,
    'ns/packet best': r.best.toFixed(1),
    'ns/packet median': r.median.toFixed(1),
    'best vs off': (r.best / off.best).toFixed(3),
    'median vs off': (r.median / off.median).toFixed(3),
  })),
);
console.log(`frames sent on p1: ${sent}, traced: ${one.traced} (${((100 * one.traced) / Math.max(1, sent)).toFixed(2)}% of all), lost frames: ${s.frames().lost}`);
await s.stop();
