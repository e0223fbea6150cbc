// Lab benchmark: UDP receive into an application. softnet (a stack on the veth end, a UDP socket,
// the app reading with the zero-copy recvBatch) against the kernel (an ordinary UDP socket read
// with recvmmsg by bench/c/udp_recvmmsg.c), same lab, same generator, alternating, N reps each.
//
//   node --import tsx bench/lab-udp.ts [--seconds S] [--reps N] [--size B] [--batch N] [--budget N] [--time-limit-ms MS]
//
// Lab `udpb` with the Linux router namespace: the receiving veth end snudpb-a0 lives in ns
// sn-udpb-r with 10.1.0.1/24, where both receivers run (softnet attaches XDP to it and takes every
// frame; the kernel receiver binds 10.1.0.1:9). The generator (bench/c/xsk_fwd gen: XDP live
// frames, UDP 10.1.0.2:1024 -> 10.1.0.1:9, checksum 0) runs in ns sn-udpb-a on CPU0.
// Placement, as the suite's (src/bench/README.md): receivers on CPU1; for the kernel the veth's
// NAPI is threaded and its kthread pinned to CPU1 too, so ip_rcv..udp_queue_rcv_skb land on the
// receiver's core as softnet's whole path does; for softnet (AF_XDP) the veth's NAPI work (XDP
// program, copy into the UMEM) runs in the generator's softirq on CPU0.
// Rate = datagrams the application read / generator seconds (the generator is the clock).
import { parseArgs } from '../src/cli/args.ts';
import { pinNapi, setThreadedNapi } from '../src/bench/cpu.ts';
import { buildC } from '../src/bench/cref.ts';
import { machineInfo } from '../src/bench/machine.ts';
import { sibling } from '../src/bench/package.ts';
import { fmtSummary, ratioOfMedians, round, roundSummary, summarizeSome, type Summary } from '../src/bench/stats.ts';
import { labDown, labUp } from '../src/tools/lab.ts';
import { receiveRun, runReps, writeResult } from './lab-reps.ts';

const a = parseArgs(process.argv.slice(2), {
  seconds: { type: 'number', min: 0.5, max: 60, default: 2 },
  reps: { type: 'int', min: 1, max: 20, default: 3 },
  size: { type: 'int', min: 64, max: 1518, default: 64, help: 'Ethernet frame size incl. FCS' },
  batch: { type: 'int', min: 1, max: 1024, default: 64, help: 'datagrams per receive call, both receivers' },
  budget: { type: 'int', min: 1, max: 65536, default: 300, help: "softnet's napi budget" },
  timeLimitMs: { type: 'number', min: 0.01, max: 100, default: 2, help: "softnet's napi time limit per turn" },
  genCpu: { type: 'int', min: 0, max: 1023, default: 0 },
  rxCpu: { type: 'int', min: 0, max: 1023, default: 1 },
  lab: { type: 'string', default: 'udpb' },
});

type System = 'softnet' | 'kernel-recvmmsg';
const SYSTEMS: System[] = ['softnet', 'kernel-recvmmsg'];
interface Sample {
  system: System;
  rep: number;
  received: number;
  sent: number;
  pps: number;
  genPps: number;
  cpuNsPerPacket: number;
  detail?: unknown;
  failed?: string;
}

const xskFwd = buildC('xsk_fwd');
const recvmmsg = buildC('udp_recvmmsg');
await labDown(a.lab);
const lab = await labUp({ name: a.lab, linuxRouter: true, staticArp: true });
const R = lab.router!;
const dev = lab.a.dev;
const frame = a.size; // xsk_fwd gen takes the size with the FCS
console.log(`lab-udp: ${a.size} B frames, ${a.seconds} s x ${a.reps} reps, batch ${a.batch}; generator CPU${a.genCpu} (ns ${lab.a.host.ns}), receivers CPU${a.rxCpu} (ns ${R})`);

function receiver(system: System): { argv: string[]; ready: RegExp } {
  if (system === 'softnet') {
    return {
      argv: [process.execPath, '--import', 'tsx', sibling(import.meta.url, 'udp-rx'), '--dev', dev, '--addr', '10.1.0.1/24', '--port', '9',
        '--batch', String(a.batch), '--budget', String(a.budget), '--time-limit-ms', String(a.timeLimitMs)],
      ready: /^udp-rx on/,
    };
  }
  return { argv: [recvmmsg, '-a', '10.1.0.1', '-p', '9', '-B', String(a.batch)], ready: /^udp_recvmmsg on/ };
}

async function once(system: System, rep: number): Promise<Sample> {
  const fail = (why: string): Sample => ({ system, rep, received: 0, sent: 0, pps: 0, genPps: 0, cpuNsPerPacket: NaN, failed: why });
  // The kernel's receive work on the receiver's core (threaded NAPI pinned there); softnet's XDP
  // and copy in the generator's softirq, as in the suite.
  await setThreadedNapi(R, dev, system === 'kernel-recvmmsg');
  if (system === 'kernel-recvmmsg') await pinNapi(dev, a.rxCpu);
  const r = receiver(system);
  const run = await receiveRun({
    label: system,
    rx: { ns: R, cpu: a.rxCpu, argv: r.argv, ready: r.ready, readyMs: 60_000, stopMs: 10_000 },
    gen: {
      ns: lab.a.host.ns,
      cpu: a.genCpu,
      argv: [xskFwd, 'gen', '-i', lab.a.host.dev, '-d', String(a.seconds), '-s', String(frame), '-D', lab.a.mac, '-M', lab.a.host.mac, '-S', '10.1.0.2', '-T', '10.1.0.1'],
      timeoutMs: (a.seconds + 30) * 1000,
    },
  });
  if ('failed' in run) return fail(run.failed);
  const { gen: gj, rx: rj } = run;
  const sent = Number(gj.packets);
  const genSeconds = Number(gj.seconds);
  const received = Number(rj.packets);
  if (!(received > 0)) return fail(`received nothing (generator sent ${sent})`);
  return {
    system,
    rep,
    received,
    sent,
    pps: received / genSeconds,
    genPps: sent / genSeconds,
    cpuNsPerPacket: (Number(rj.cpuSeconds) * 1e9) / received,
    detail: system === 'softnet' ? { udp: rj.udp, runtime: rj.runtime, lost: rj.lost, rx_dropped: (rj.port as Record<string, number>)?.rx_dropped } : undefined,
  };
}

let samples: Sample[];
try {
  samples = await runReps(SYSTEMS, a.reps, once, (s) => {
    const line = `${(s.pps / 1e6).toFixed(3)} Mpps read by the app (offered ${(s.genPps / 1e6).toFixed(3)} Mpps, receiver CPU ${s.cpuNsPerPacket.toFixed(0)} ns/datagram)`;
    return s.detail ? `${line}\n      ${JSON.stringify(s.detail)}` : line;
  });
} finally {
  await setThreadedNapi(R, dev, false).catch(() => undefined);
  await labDown(a.lab);
}

const ok = (sys: System) => samples.filter((s) => s.system === sys && !s.failed);
const sum = Object.fromEntries(SYSTEMS.map((sys) => [sys, summarizeSome(ok(sys).map((s) => s.pps))])) as Record<System, Summary | null>;
const cpu = Object.fromEntries(SYSTEMS.map((sys) => [sys, summarizeSome(ok(sys).map((s) => s.cpuNsPerPacket).filter(Number.isFinite))])) as Record<System, Summary | null>;
const offered = summarizeSome(samples.filter((s) => !s.failed).map((s) => s.genPps));
const ratio = ratioOfMedians(sum.softnet, sum['kernel-recvmmsg']);
console.log(`\nMpps read by the application, min / median / max over ${a.reps} reps (${a.size} B):`);
console.log(`  softnet recvBatch       ${fmtSummary(sum.softnet, 3, 1e6)}   CPU ns/datagram ${fmtSummary(cpu.softnet, 0)}`);
console.log(`  kernel recvmmsg         ${fmtSummary(sum['kernel-recvmmsg'], 3, 1e6)}   CPU ns/datagram ${fmtSummary(cpu['kernel-recvmmsg'], 0)}`);
console.log(`  offered                 ${fmtSummary(offered, 3, 1e6)}`);
console.log(`  softnet / kernel (medians): ${ratio === null ? 'n/a' : ratio.toFixed(3)}  (goal >= 1.5)`);

const result = {
  bench: 'lab-udp',
  date: new Date().toISOString(),
  command: `node --import tsx bench/lab-udp.ts ${process.argv.slice(2).join(' ')}`.trim(),
  machine: machineInfo(),
  options: a,
  systems: Object.fromEntries(SYSTEMS.map((sys) => [sys, sum[sys] && roundSummary(sum[sys]!, 3, 1e6)])),
  cpuNsPerPacket: Object.fromEntries(SYSTEMS.map((sys) => [sys, cpu[sys] && roundSummary(cpu[sys]!, 0)])),
  offered: offered && roundSummary(offered, 3, 1e6),
  ratio: ratio === null ? null : round(ratio),
  samples,
};
writeResult(result);
