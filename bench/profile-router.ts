// Where a forwarded packet's time goes: the router scenario's lab and stack (10k routes, 20
// FORWARD rules, AF_XDP, poll thread on CPU 1) under a 64 B flood from host A, with
// `perf record -C 1 -g` over CPU 1 for --seconds (everything that runs there: the poll loop's JS
// with --perf-basic-prof symbols, the addon, the kernel's copy-mode TX into the veth and host B's
// XDP sink). Prints perf's flat profile by DSO and by symbol, the rate at B, and the stack's
// poll-loop counters (frames per batch, turns) and per-stage table.
// Run (root, under the lab lock: flock /tmp/softnet-lab.lock ...): node --import tsx bench/profile-router.ts [--seconds S] [--system softnet|c-fwd]
//             [--busy-poll] [--no-defer-hard-irqs] [--out DIR]
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from '../src/cli/args.ts';
import { buildC } from '../src/bench/cref.ts';
import { GEN_CPU, RX_CPU, SuiteLab } from '../src/bench/labrun.ts';
import { softnetArgv } from '../src/bench/package.ts';
import { Proc, sleep } from '../src/bench/proc.ts';
import { ROUTES, RULES } from '../src/bench/router.ts';
import { removeStackConfig, runtime, waitStack, writeStackConfig } from '../src/bench/softnet-stack.ts';
import { median } from '../src/bench/stats.ts';
import { controlPath, controlRequest } from '../src/stack/control-socket.ts';

interface Stat {
  napi: { turns: number; rounds: number; frames: number; irq_arms: number; irq_defers: number };
  ports: Record<string, Record<string, number>>;
}

const a = parseArgs(process.argv.slice(2), {
  seconds: { type: 'int', min: 1, default: 5, help: 'seconds recorded' },
  system: { type: 'enum', values: ['softnet', 'c-fwd'], default: 'softnet' },
  busyPoll: { type: 'bool', default: false, help: 'softnet with napi.busy_poll' },
  deferHardIrqs: { type: 'bool', default: true, help: '--no-defer-hard-irqs: softnet with napi.defer_hard_irqs off' },
  size: { type: 'int', min: 64, max: 1518, default: 64 },
  nodeFlags: { type: 'string', default: '', help: "more node flags for softnet up, e.g. '--log-ic --logfile=/tmp/ic.log'" },
  perf: { type: 'bool', default: true, help: '--no-perf: only the rates and counters' },
  out: { type: 'string', default: '/tmp/softnet-profile', help: 'directory for perf.data' },
});
const log = (m: string) => console.error(m);
const bin = buildC('xsk_fwd');
const lab = new SuiteLab('pf');
const l = await lab.up(log);
const name = 'pfrt';
mkdirSync(a.out, { recursive: true });
const perfData = path.join(a.out, `${a.system}.data`);
const procs: Proc[] = [];
let cfg = '';
/** Stop what we started (by our Proc handles) and take the lab down: at the end, or on a signal. */
async function cleanup(): Promise<void> {
  for (const p of [...procs].reverse()) if (p.running()) await p.stop(3000);
  procs.length = 0;
  if (cfg) removeStackConfig(cfg);
  cfg = '';
  await lab.down(log);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));
// A closed stdout (`| head`) must not kill us before the cleanup.
process.stdout.on('error', () => {});
try {
  procs.push(new Proc('sink', l.b.host.ns, null, [bin, 'xdpdrop', '-4', '-i', l.b.host.dev], () => {}));
  await procs[0].waitFor(/attached/, 10_000);
  if (a.system === 'softnet') {
    cfg = writeStackConfig({ name, lab: l, routes: ROUTES, rules: RULES, busyPoll: a.busyPoll, deferHardIrqs: a.deferHardIrqs, cpu: RX_CPU });
    const argv = softnetArgv(['up', '--config', cfg]);
    // --perf-basic-prof also starts V8's log: into the output directory, not the working one.
    argv.splice(1, 0, '--perf-basic-prof', `--logfile=${path.join(a.out, 'v8.log')}`, '--no-logfile-per-isolate', ...a.nodeFlags.split(' ').filter(Boolean));
    const up = new Proc('softnet up', lab.router, null, argv);
    procs.push(up);
    await waitStack(name, 30_000, () => up.running(), () => up.tail());
  } else {
    const argv = [bin, 'fwd', '-a', l.a.dev, '-b', l.b.dev, '-r', `10.2.0.0/24=b,${l.b.host.mac}`, '-r', `10.1.0.0/24=a,${l.a.host.mac}`, a.busyPoll ? '-B' : '-p'];
    const f = new Proc('xsk_fwd fwd', lab.router, RX_CPU, argv);
    procs.push(f);
    await f.waitFor(/xsk_fwd fwd .* routes/, 10_000);
  }
  const secs = a.seconds + 4;
  const gen = new Proc('generator', l.a.host.ns, GEN_CPU, [bin, 'gen', '-i', l.a.host.dev, '-s', String(a.size), '-d', String(secs), '-D', l.a.mac, '-M', l.a.host.mac, '-T', l.b.host.ip, '-F', '100']);
  procs.push(gen);
  await sleep(1500);
  if (a.system === 'softnet') await runtime(name, true);
  const before = procs[0].rates.length;
  const stat = async () => (a.system === 'softnet' ? ((await controlRequest(controlPath({ name }), 'stat', {}, { timeoutMs: 5000 })) as Stat) : null);
  const s0 = await stat();
  // Asynchronously, so the sink's per-second lines are read meanwhile.
  if (a.perf) await promisify(execFile)('perf', ['record', '-q', '-C', String(RX_CPU), '-g', '-F', '1999', '-o', perfData, '--', 'sleep', String(a.seconds)]);
  else await sleep(a.seconds * 1000);
  const rates = procs[0].rates.slice(before).map((r) => r.pps);
  const med = rates.length > 0 ? median(rates) : NaN;
  console.log(`rate at B: median ${(med / 1e6).toFixed(3)} Mpps (${rates.map((r) => (r / 1e6).toFixed(3)).join(' ')})`);
  if (a.system === 'softnet') {
    const s1 = (await stat())!;
    const d = (k: keyof Stat['napi']) => s1.napi[k] - s0!.napi[k];
    console.log(`poll loop: ${d('frames')} frames in ${d('rounds')} rounds (${(d('frames') / d('rounds')).toFixed(1)}/round), ${d('turns')} turns (${(d('frames') / d('turns')).toFixed(1)} frames/turn), ${d('irq_arms')} irq arms, ${d('irq_defers')} defers`);
    for (const [p, r] of Object.entries(s1.ports)) {
      const r0 = s0!.ports[p];
      const dk = (k: string) => (r[k] ?? 0) - (r0[k] ?? 0);
      console.log(`  ${p}: rx ${dk('rx_packets')} tx ${dk('tx_packets')} kicks ${dk('tx_kicks')} fill_wakeups ${dk('fill_wakeups')} rx_dropped ${dk('rx_dropped')} rx_ring_full ${dk('rx_ring_full')} fill_empty ${dk('rx_fill_ring_empty_descs')}`);
    }
    for (const r of await runtime(name)) console.log(`  ${r.stage.padEnd(14)} ${String(r.packetsPerCall).padStart(6)} pkts/call ${String(r.nsPerPacket).padStart(8)} ns/pkt`);
  }
  await gen.wait((secs + 10) * 1000);
} finally {
  await cleanup();
}
if (!a.perf) process.exit(0);
const report = (sort: string, n: number) =>
  execFileSync('perf', ['report', '-i', perfData, '--stdio', '--no-children', '-g', 'none', '--percent-limit', '0.7', '--sort', sort], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\n')
    .filter((s) => s && !s.startsWith('#'))
    .slice(0, n)
    .join('\n');
console.log(`\n== ${a.system}: CPU ${RX_CPU} by DSO\n${report('dso', 15)}`);
console.log(`\n== ${a.system}: CPU ${RX_CPU} by symbol\n${report('dso,sym', 45)}`);
