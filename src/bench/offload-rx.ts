// The softnet side of the offload scenario (offload.ts), run as its own process on one veth end
// (xdp-drv, queue 0). Every second one JSON line on stderr: {"pps": frames the filter judged/s,
// "rx": frames that reached softnet's JS/s}; on SIGINT/SIGTERM one on stdout with the totals
// and {"final": true}.
//   --run js:     softnet's XDP hook runs the filter module in JS on every frame (a Stack with
//                 xdp: {module, offload: js}); judged = the hook's verdict counters.
//   --run kernel: the module compiled by src/bpf and linked in place of the redirect program;
//   --run c:      a clang-built object (bench/c/offload10.c, bpf-obj.ts) linked the same way.
//                 kernel and c share this harness: the rxdrop loop (cli/drop.ts) frees what
//                 the program passes; judged = the program's per-CPU verdict counters.
//   node [--import tsx] src/bench/offload-rx.ts --dev IF --run js|kernel|c --module F.ts [--obj F.o]
import { parseArgs } from '../cli/args.ts';

const a = parseArgs(process.argv.slice(2), {
  dev: { type: 'string' },
  run: { type: 'enum', values: ['js', 'kernel', 'c'], default: 'js' },
  module: { type: 'string' },
  obj: { type: 'string' },
});
if (a.dev === undefined) throw new Error('--dev is required');
const dev = a.dev;

/** Verdict totals [aborted, drop, pass, tx, redirect] and frames seen by JS, read once a second. */
let counts: () => { judged: number[]; rx: number };
let stop: () => Promise<void>;
let rxTotal = () => 0;
const t0 = performance.now();
const c0 = process.cpuUsage();

if (a.run === 'js') {
  if (a.module === undefined) throw new Error('--module is required');
  const { Stack } = await import('../stack/stack.ts');
  const s = new Stack({ name: 'offjs', control: null });
  await s.addPort({ name: 'p0', dev, mode: 'xdp-drv', addresses: ['10.1.0.1/24'], xdp: { module: a.module, offload: 'js' } });
  await s.start();
  const idx = s.devs.get('p0').index;
  counts = () => {
    const v = s.xdp.stats(idx);
    return { judged: [v.aborted, v.drop, v.pass, v.tx, v.redirect], rx: Number(s.stats().ports.p0?.rx_packets ?? 0) };
  };
  stop = async () => void (await s.stop());
} else {
  const { openPort } = await import('../driver/open.ts');
  const { pollLoop } = await import('../cli/drop.ts');
  let prog: { programFds(): import('../driver/native.ts').XdpProgramFds; close(): void };
  let judged: () => number[];
  if (a.run === 'kernel') {
    if (a.module === undefined) throw new Error('--module is required');
    const { placeXdpFilter } = await import('../bpf/offload.ts');
    const k = (await placeXdpFilter(a.module, 'kernel')).kernel!;
    prog = k;
    judged = () => {
      const v = k.verdicts();
      return [v.aborted, v.drop, v.pass, v.tx, v.redirect];
    };
  } else {
    if (a.obj === undefined) throw new Error('--obj is required');
    // The same process as `kernel` up to the program: the compiler loaded and run (its result
    // unused), so both receivers carry the same heap and startup garbage into the measurement.
    if (a.module !== undefined) (await import('../bpf/compile.ts')).compileFilter(a.module);
    const { BpfObjProgram } = await import('./bpf-obj.ts');
    const o = new BpfObjProgram(a.obj);
    prog = o;
    judged = () => o.counts();
  }
  const { port } = openPort({ dev, queue: 0, mode: 'xdp-drv', batchSize: 64, ringSize: 4096, fillFrames: 4096 - 256, program: prog.programFds() });
  let rx = 0;
  const done = pollLoop(port, 'drop', { batch: 64, budget: 1024, busyPoll: false, durationSec: 0, onSecond: (n) => (rx += n) });
  counts = () => ({ judged: judged(), rx });
  rxTotal = () => rx;
  stop = async () => {
    const r = await done;
    rx = r.packets;
    prog.close();
  };
}

console.error(`offload-rx ${a.run} on ${dev}`);
const sum = (v: number[]) => v.reduce((x, y) => x + y, 0);
let last = counts();
let tlast = performance.now();
const timer = setInterval(() => {
  const c = counts();
  const t = performance.now();
  const dt = (t - tlast) / 1000;
  process.stderr.write(JSON.stringify({ pps: Math.round((sum(c.judged) - sum(last.judged)) / dt), rx: Math.round((c.rx - last.rx) / dt) }) + '\n');
  last = c;
  tlast = t;
}, 1000);

let finishing = false;
const finish = async () => {
  if (finishing) return;
  finishing = true;
  clearInterval(timer);
  // The verdicts before stopping (the kernel's maps close with the program); rx after (the loop's total).
  const before = counts();
  await stop();
  const c = { judged: before.judged, rx: a.run === 'js' ? before.rx : rxTotal() };
  const cpu = process.cpuUsage(c0);
  const [aborted, drop, pass, tx, redirect] = c.judged;
  process.stdout.write(JSON.stringify({ final: true, run: a.run, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, verdicts: { aborted, drop, pass, tx, redirect }, rx: c.rx }) + '\n');
  process.exit(0);
};
process.once('SIGTERM', () => void finish());
process.once('SIGINT', () => void finish());
