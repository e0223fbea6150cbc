/**
 * udp: UDP into an application. softnet (a stack on snN-a0 with 10.1.0.1, a UDP socket on port 9,
 * the app reading with the zero-copy recvBatch: udp-rx.ts) vs the kernel (an ordinary UDP socket
 * in ns sn-N-r read with recvmmsg by bench/c/udp_recvmmsg.c), the same generator flooding
 * 10.1.0.1:9 from host A. The rate is what the application read, per second. Both ask for the
 * same SO_RCVBUF (4 MiB: the kernel's by SO_RCVBUFFORCE, softnet's with its rmem_max raised).
 *
 * Then the RcvbufErrors table, the way a user meets it: a slow reader (it stops reading for 20 ms
 * every 100 ms, as a handler awaiting slow I/O does) under a paced flow from a kernel socket on
 * host A, with the default buffer, with SO_RCVBUF raised while rmem_max caps it, and with
 * rmem_max raised too; what the app read, `Udp: RcvbufErrors`, the socket's drops and where every
 * other datagram went. rmem_max is machine-wide for the kernel (not per namespace): it is set for
 * those runs and put back.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { GEN_CPU, labPrereqsWith, measure, PLACEMENT_KERNEL, RX_CPU, SuiteLab } from './labrun.ts';
import { nodeArgv } from './package.ts';
import { Proc, sleep } from './proc.ts';
import type { SuiteEnv } from './scenarios.ts';
import { toStageRows } from './softnet-stack.ts';
import type { FrameSize } from './stats.ts';
import type { BenchSystem, RunContext, Scenario, ScenarioTable } from './types.ts';
import { nsExec } from '../tools/lab.ts';
import { pacedUdpArgv } from '../tools/udp-sender.ts';

const PORT = 9;
/** The throughput runs' SO_RCVBUF request, both systems. */
const RCVBUF = 4 << 20;
/** The kernel's compiled-in rmem_max and rmem_default (softnet's defaults too). */
const RMEM_DEFAULT = 212992;
/** The slow reader: STALL ms without reading every PERIOD ms. */
const STALL = '20/100';
/** The paced flow for the slow reader, datagrams/s (400 arrive during one stall). */
const PACE = 20_000;
const RMEM_MAX = '/proc/sys/net/core/rmem_max';

type Sys = 'softnet' | 'kernel-recvmmsg';

/** The receiver of `sys` as a process on snN-a0 (ns sn-N-r), pinned to the receiver's CPU. */
function receiver(lab: SuiteLab, recvmmsg: string, sys: Sys, o: { rcvbuf?: number; force?: boolean; rmemMax?: number; stall?: string }) {
  const l = lab.lab!;
  if (sys === 'softnet') {
    const args = ['--dev', l.a.dev, '--addr', `${l.a.ip}/24`, '--port', String(PORT)];
    if (o.rmemMax !== undefined) args.push('--rmem-max', String(o.rmemMax));
    if (o.rcvbuf !== undefined) args.push('--rcvbuf', String(o.rcvbuf));
    if (o.stall) args.push('--stall', o.stall);
    return { label: 'softnet udp-rx', ns: lab.router, cpu: RX_CPU, argv: nodeArgv(import.meta.url, 'udp-rx', args), ready: /^udp-rx on/, readyMs: 60_000 };
  }
  const argv = [recvmmsg, '-a', l.a.ip, '-p', String(PORT)];
  if (o.rcvbuf !== undefined) argv.push(o.force ? '-R' : '-r', String(o.rcvbuf));
  if (o.stall) argv.push('-P', o.stall);
  return { label: 'udp_recvmmsg', ns: lab.router, cpu: RX_CPU, argv, ready: /^udp_recvmmsg on/ };
}

export function udp(env: SuiteEnv): Scenario {
  const lab = new SuiteLab(env.lab);
  let xskFwd = '';
  let recvmmsg = '';
  const gen = () => {
    const l = lab.lab!;
    return { bin: xskFwd, ns: l.a.host.ns, dev: l.a.host.dev, dstMac: l.a.mac, srcMac: l.a.host.mac, dstIp: l.a.ip };
  };
  // softnet's XDP and copy into the UMEM run in the generator's softirq; the kernel's whole
  // receive path (ip_rcv .. udp_queue_rcv_skb) in the NAPI kthread on the receiver's core.
  const placeFor = (sys: Sys) => lab.napiThreaded(sys === 'kernel-recvmmsg');
  const system = (sys: Sys): BenchSystem => ({
    name: sys,
    check: sys === 'kernel-recvmmsg' ? async () => labPrereqsWith('udp_recvmmsg', (b) => (recvmmsg = b)) : undefined,
    async run(ctx: RunContext, size: FrameSize) {
      await placeFor(sys);
      const rcv = sys === 'softnet' ? { rcvbuf: RCVBUF, rmemMax: RCVBUF } : { rcvbuf: RCVBUF, force: true };
      const s = await measure(ctx, size, {
        receivers: [receiver(lab, recvmmsg, sys, rcv)],
        counter: 0,
        gen: gen(),
        extra: (p) => ({ summary: p[0].lastJson() }),
      });
      const rt = (s.extra?.summary as { runtime?: Parameters<typeof toStageRows>[0] } | null)?.runtime;
      return rt ? { ...s, stages: toStageRows(rt) } : s;
    },
  });
  return {
    name: 'udp',
    title: 'udp: into an application, softnet recvBatch vs a kernel UDP socket with recvmmsg',
    kind: 'throughput',
    subject: 'softnet',
    systems: [system('softnet'), system('kernel-recvmmsg')],
    frameSizes: env.sizes,
    expectLoss: true,
    placement: [
      `generator (xsk_fwd gen, XDP live frames) CPU ${GEN_CPU}; sn${env.lab}-a0 NAPI for softnet in the generator's softirq on CPU ${GEN_CPU}; receiver CPU ${RX_CPU} (each system's whole process: taskset)`,
      PLACEMENT_KERNEL.replace(/snN/g, `sn${env.lab}`),
      `both read batches of 64 datagrams on ${PORT}/udp, SO_RCVBUF ${RCVBUF} requested`,
    ],
    async check() {
      return labPrereqsWith('xsk_fwd', (b) => (xskFwd = b));
    },
    setup: async (log) => void (await lab.up(log)),
    tables: async (ctx) => [await rcvbufTable(ctx, lab, recvmmsg)],
    teardown: (log) => lab.down(log),
  };
}

interface Setting {
  label: string;
  rmemMax: number;
  rcvbuf?: number;
}

const SETTINGS: Setting[] = [
  { label: 'defaults (rmem_default)', rmemMax: RMEM_DEFAULT },
  { label: `SO_RCVBUF ${RCVBUF >> 20} MiB asked, rmem_max ${RMEM_DEFAULT}`, rmemMax: RMEM_DEFAULT, rcvbuf: RCVBUF },
  { label: `SO_RCVBUF ${RCVBUF >> 20} MiB asked, rmem_max raised to ${RCVBUF >> 20} MiB`, rmemMax: RCVBUF, rcvbuf: RCVBUF },
];

/** `Udp:` of /proc/net/snmp in a namespace, by counter name. */
async function kernelUdpMib(ns: string): Promise<Record<string, number>> {
  const t = (await nsExec(ns, ['cat', '/proc/net/snmp'], { check: true })).stdout;
  const [names, values] = t.split('\n').filter((l) => l.startsWith('Udp:'));
  const k = names.split(/\s+/).slice(1);
  const v = values.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(k.map((n, i) => [n, v[i]]));
}

/** The drops column of /proc/net/udp for the socket bound to `port` in a namespace. */
async function kernelSockDrops(ns: string, port: number): Promise<number> {
  const t = (await nsExec(ns, ['cat', '/proc/net/udp'], { check: true })).stdout;
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const line = t.split('\n').slice(1).find((l) => l.trim().split(/\s+/)[1]?.endsWith(hex));
  if (!line) throw new Error(`no socket on port ${port} in /proc/net/udp of ${ns}`);
  return Number(line.trim().split(/\s+/).pop());
}

/** A device's drop counters (its sysfs statistics, in namespace ns). */
async function devDropped(ns: string, dev: string): Promise<number> {
  const r = await nsExec(ns, ['cat', `/sys/class/net/${dev}/statistics/rx_dropped`, `/sys/class/net/${dev}/statistics/tx_dropped`], { check: true });
  return r.stdout.trim().split(/\s+/).map(Number).reduce((x, y) => x + y, 0);
}

/** Frames the lab's veth pair dropped on the way from host A to snN-a0 (either end's counters). */
async function vethDropped(lab: SuiteLab): Promise<number> {
  const l = lab.lab!;
  return (await devDropped(l.a.host.ns, l.a.host.dev)) + (await devDropped(lab.router, l.a.dev));
}

async function rcvbufTable(ctx: RunContext, lab: SuiteLab, recvmmsg: string): Promise<ScenarioTable> {
  const l = lab.lab!;
  const secs = ctx.seconds;
  const rows: string[][] = [];
  const data: Record<string, unknown>[] = [];
  const saved = readFileSync(RMEM_MAX, 'utf8').trim();
  // The kernel's default placement for both: snN-a0's NAPI in the sender's softirq. (Threaded
  // and pinned beside the reader, as for the flood, it dropped 3-9% at the veth here.)
  await lab.napiThreaded(false);
  try {
    for (const sys of ['softnet', 'kernel-recvmmsg'] as Sys[]) {
      for (const st of SETTINGS) {
        if (sys === 'kernel-recvmmsg') writeFileSync(RMEM_MAX, String(st.rmemMax));
        const r = receiver(lab, recvmmsg, sys, { rcvbuf: st.rcvbuf, rmemMax: st.rmemMax, stall: STALL });
        const rx = new Proc(r.label, r.ns, r.cpu, r.argv);
        try {
          await rx.waitFor(r.ready, r.readyMs ?? 10_000);
          const before = sys === 'kernel-recvmmsg' ? await kernelUdpMib(lab.router) : null;
          const veth0 = await vethDropped(lab);
          ctx.log(`udp rcvbuf: ${sys}, ${st.label}: ${PACE} datagrams/s for ${secs} s to a slow reader`);
          const sender = new Proc('paced sender', l.a.host.ns, GEN_CPU, pacedUdpArgv({ dst: l.a.ip, port: PORT, rate: PACE, seconds: secs, size: 18 }));
          if ((await sender.wait((secs + 15) * 1000)) !== 0) throw new Error(`paced sender failed${sender.tail()}`);
          const sent = Number(sender.lines.find((x) => x.stream === 'out')?.text);
          await sleep(500); // past the last stall: the reader empties its queue
          // Dropped before the socket. For softnet this includes the frames its XDP socket refused
          // (a failed redirect), which the socket counts again (rx_dropped: kept apart below).
          const veth = (await vethDropped(lab)) - veth0;
          // The kernel's counters are read before its socket closes; softnet's come in its summary.
          const kernel = before ? { rcvbufErrors: (await kernelUdpMib(lab.router)).RcvbufErrors - before.RcvbufErrors, drops: await kernelSockDrops(lab.router, PORT) } : null;
          await rx.stop(10_000);
          const j = rx.lastJson<{ packets: number; rcvbuf: number; drops: number; udp: Record<string, number>; port: Record<string, number> }>();
          if (!j) throw new Error(`${r.label} printed no summary${rx.tail()}`);
          const rcvbufErrors = kernel ? kernel.rcvbufErrors : j.udp.RcvbufErrors;
          const drops = kernel ? kernel.drops : j.drops;
          const memErrors = kernel ? null : j.udp.MemErrors;
          rows.push([sys, st.label, String(j.rcvbuf), String(sent), String(j.packets), String(rcvbufErrors), String(drops), memErrors === null ? '—' : String(memErrors), String(veth), String(sent - j.packets - rcvbufErrors - (memErrors ?? 0) - veth)]);
          data.push({ system: sys, setting: st.label, rmemMax: st.rmemMax, rcvbufAsked: st.rcvbuf ?? null, rcvbuf: j.rcvbuf, sent, read: j.packets, RcvbufErrors: rcvbufErrors, socketDrops: drops, ...(memErrors === null ? {} : { MemErrors: memErrors }), droppedBeforeSocket: veth, ...(kernel ? {} : { xskRxDropped: j.port.rx_dropped ?? 0 }) });
        } finally {
          await rx.stop(2000);
        }
      }
    }
  } finally {
    writeFileSync(RMEM_MAX, saved);
  }
  return {
    scenario: 'udp',
    title: `RcvbufErrors: a slow reader (stops reading ${STALL.replace('/', ' ms every ')} ms) under ${PACE} datagrams/s of 64 B for ${secs} s from a kernel socket on host A`,
    head: ['system', 'setting', 'SO_RCVBUF (bytes)', 'sent', 'read by the app', 'Udp: RcvbufErrors', 'socket drops', 'Udp: MemErrors', 'dropped before the socket', 'unaccounted'],
    rows,
    notes: [
      'SO_RCVBUF is what getsockopt returns: the request capped by rmem_max, then doubled, in both. softnet charges a datagram one UMEM frame (2 KiB) against it, the kernel its skb truesize.',
      'MemErrors: softnet\'s sockets together used up their share of the frame pool (net.core.sock_frames_max). Dropped before the socket: the veth pair\'s rx/tx_dropped (for softnet including what its XDP socket could not take). Unaccounted = sent − all of the above − read (e.g. the sender\'s own failed sends, counted as sent).',
      `rmem_max is machine-wide in the kernel: set for the kernel's runs, then restored (${saved}).`,
    ],
    data,
  };
}
