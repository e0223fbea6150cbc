/**
 * The lab every lab scenario shares, and the measuring protocol.
 *
 * Lab: `labUp({name, linuxRouter: true, staticArp: true})` from src/tools/lab.ts:
 *   ns sn-N-a (host A, snN-a1 10.1.0.2)  <->  ns sn-N-r (snN-a0 | snN-b0, the router/receiver side)  <->  ns sn-N-b (host B, snN-b1 10.2.0.2)
 * Every softnet, C and kernel system runs on snN-a0/snN-b0 inside sn-N-r, so nothing runs on
 * the root namespace's links and the Linux baseline (ip_forward=1 in sn-N-r) needs no other lab.
 * An AF_XDP system's XSKMAP program takes every frame of queue 0 away from the kernel while it
 * runs; when it stops, the kernel of sn-N-r forwards again (harmless, and only between our hosts).
 *
 * CPU placement (2 cores): generator on CPU 0, the receiver/router on CPU 1. The kernel's NAPI
 * for snN-a0 runs in the generator's softirq on CPU 0 for AF_XDP systems (the notes: never spin a
 * receiver next to the NAPI kthread), and as a threaded NAPI kthread pinned to CPU 1 for kernel
 * systems (XDP_DROP, Linux forwarding), so their work lands on the receiver's core too.
 *
 * Protocol of one measurement: start the receiver (and the sink), wait until it says it is
 * attached, run the generator for S+1.5 s, stop everything by PID, and take the median of the
 * counter's per-second rates whose whole second lies within [generator start + 0.5 s, generator
 * end] (at least S of them: the window is S+1 s long). The generator's own per-second rate over the same window tells a generator-limited run.
 */
import { execFileSync } from 'node:child_process';
import { buildC } from './cref.ts';
import { pinNapi, setThreadedNapi } from './cpu.ts';
import { softnetArgv } from './package.ts';
import { labDown, labNames, labUp, nsExec, type Lab } from '../tools/lab.ts';
import { Proc, now, sleep, windowRate } from './proc.ts';
import type { FrameSize } from './stats.ts';
import type { BenchSystem, RunContext, Sample } from './types.ts';

/** Seconds of traffic before the measuring window opens (JIT, caches, neighbour entries). */
export const WARMUP = 0.5;
export const GEN_CPU = 0;
export const RX_CPU = 1;

export const PLACEMENT_AFXDP = `generator (xsk_fwd gen, XDP live frames) CPU ${GEN_CPU}; snN-a0 NAPI in the generator's softirq on CPU ${GEN_CPU}; receiver CPU ${RX_CPU} (C: the process; softnet: its poll thread, V8 helper threads unpinned)`;
export const PLACEMENT_KERNEL = `kernel systems: snN-a0 threaded NAPI kthread pinned to CPU ${RX_CPU}`;

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * A scenario's check(): why it cannot run here (null: it can). Also builds bench/c/NAME.c
 * (cref.ts) and hands the binary to `use`.
 */
export function labPrereqsWith(name: string, use: (bin: string) => void): string | null {
  const why = labPrereqs();
  if (why) return why;
  try {
    use(buildC(name));
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** Why lab scenarios cannot run here, or null. */
export function labPrereqs(): string | null {
  if (!isRoot()) return 'needs root (namespaces, XDP, AF_XDP)';
  for (const t of ['ip', 'taskset', 'gcc', 'ethtool']) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    } catch {
      return `'${t}' is not installed (run scripts/deps.sh)`;
    }
  }
  return null;
}

export class SuiteLab {
  lab: Lab | null = null;
  readonly n: ReturnType<typeof labNames>;
  private threaded = false;

  constructor(readonly name: string) {
    this.n = labNames(name);
  }

  get router(): string {
    return this.n.nsR;
  }

  async up(log: (m: string) => void): Promise<Lab> {
    if (this.lab) return this.lab;
    const stale = await labDown(this.name); // a lab of ours left by a killed run
    if (stale.length) log(`lab ${this.name}: removed leftovers of an earlier run: ${stale.join(', ')}`);
    this.lab = await labUp({ name: this.name, linuxRouter: true, staticArp: true });
    log(`lab ${this.name}: up (${this.lab.namespaces.join(', ')})`);
    return this.lab;
  }

  async down(log: (m: string) => void): Promise<void> {
    this.lab = null;
    const removed = await labDown(this.name);
    if (removed.length) log(`lab ${this.name}: down (${removed.join(', ')})`);
  }

  /** Threaded NAPI for snN-a0 (kthread pinned to `cpu`), or back to softirq. */
  async napiThreaded(on: boolean): Promise<void> {
    if (on === this.threaded) return;
    await setThreadedNapi(this.n.nsR, this.n.a0, on);
    this.threaded = on;
    if (!on) return;
    if ((await pinNapi(this.n.a0, RX_CPU)) === 0) throw new Error(`no napi/${this.n.a0}-* kthread after enabling threaded NAPI`);
  }
}

export interface GenSpec {
  bin: string; // xsk_fwd, built by cref.ts
  ns: string;
  dev: string;
  dstMac: string;
  srcMac: string;
  dstIp?: string;
  /** Distinct UDP flows the generator cycles through (xsk_fwd gen -F); default one. */
  flows?: number;
}

export interface MeasureSpec {
  /** Processes to start before the generator, each with the regex that says it is ready. */
  receivers: { label: string; ns: string | null; cpu: number | null; argv: string[]; ready?: RegExp; readyMs?: number }[];
  /** Index in `receivers` whose per-second rates are the result. */
  counter: number;
  gen: GenSpec;
  /** Extra fields for the sample, from the processes (after they stopped). */
  extra?: (procs: Proc[]) => Record<string, unknown>;
  /** Called after the generator stopped, before the receivers are stopped (e.g. read stage tables). */
  beforeStop?: () => Promise<Partial<Sample> | void>;
  /** Called once every receiver is ready, before the generator starts. */
  onReady?: (procs: Proc[]) => Promise<void>;
}

/** One measurement (see the protocol above). Throws with the tools' last words on any failure. */
export async function measure(ctx: RunContext, size: FrameSize, spec: MeasureSpec): Promise<Sample> {
  const procs: Proc[] = [];
  let gen: Proc | null = null;
  try {
    for (let i = 0; i < spec.receivers.length; i++) {
      const r = spec.receivers[i];
      const p = new Proc(r.label, r.ns, r.cpu, r.argv, i === spec.counter ? (pps) => ctx.rate(pps, r.label) : undefined);
      procs.push(p);
      if (r.ready) await p.waitFor(r.ready, r.readyMs ?? 10_000);
    }
    await spec.onReady?.(procs);
    const g = spec.gen;
    const secs = ctx.seconds + WARMUP + 1;
    const argv = [g.bin, 'gen', '-i', g.dev, '-s', String(size), '-d', String(secs), '-D', g.dstMac, '-M', g.srcMac];
    if (g.dstIp) argv.push('-T', g.dstIp);
    if (g.flows) argv.push('-F', String(g.flows));
    const t0 = now();
    gen = new Proc('generator', g.ns, GEN_CPU, argv);
    const code = await gen.wait((secs + 15) * 1000);
    const t1 = now();
    if (code !== 0) throw new Error(`generator failed (exit ${code})${gen.tail()}`);
    for (const p of procs) if (!p.running()) throw new Error(`${p.label} exited early (${p.exitCode ?? p.exitSignal})${p.tail()}`);
    const more = (await spec.beforeStop?.()) ?? {};
    // Let the last second's line arrive, then stop receivers last-started first.
    await sleep(150);
    for (const p of [...procs].reverse()) await p.stop();
    const c = procs[spec.counter];
    const rx = windowRate(c.rates, t0 + WARMUP, t1);
    if (rx === null) throw new Error(`${c.label} printed no per-second rate inside the ${ctx.seconds} s window${c.tail()}`);
    const gj = gen.lastJson<{ pps?: number }>();
    const gr = windowRate(gen.rates, t0 + WARMUP, t1) ?? gj?.pps ?? null;
    return {
      mpps: rx / 1e6,
      genMpps: gr === null ? undefined : gr / 1e6,
      seconds: t1 - t0 - WARMUP,
      ...more,
      extra: { ...(spec.extra?.(procs) ?? {}), ...(more.extra ?? {}) },
    };
  } finally {
    gen?.kill('SIGKILL');
    for (const p of [...procs].reverse()) if (p.running()) await p.stop(2000);
  }
}

/**
 * Whether a softnet command exists and is implemented: null if so, else the reason. Runs
 * `softnet CMD --help` (no addon is loaded for help).
 */
export async function softnetHas(cmd: string): Promise<string | null> {
  const r = await nsExec(null, softnetArgv([cmd, '--help']), { timeoutMs: 20_000 });
  const text = r.stdout + r.stderr;
  if (r.code !== 0) return `'softnet ${cmd}' is not available: ${text.trim().split('\n')[0]}`;
  if (/not (yet )?implemented/i.test(text)) return `'softnet ${cmd}' is not implemented yet`;
  return null;
}

/** `ethtool -S DEV` as numbers (namespace ns, null: the current one). */
export async function ethtoolStats(ns: string | null, dev: string): Promise<Record<string, number>> {
  const r = await nsExec(ns, ['ethtool', '-S', dev], { check: true });
  const o: Record<string, number> = {};
  for (const m of r.stdout.matchAll(/^\s+([\w-]+): (\d+)$/gm)) o[m[1]] = Number(m[2]);
  return o;
}

/**
 * Frames a device sent by XDP (veth: XDP_TX and live frames into the peer's ring, every queue's
 * *_xdp_xmit) and refused (*_xdp_xmit_errors: the peer's ring was full), as `ethtool -S` counts them.
 */
export async function xdpXmit(ns: string | null, dev: string): Promise<{ ok: number; err: number }> {
  const s = await ethtoolStats(ns, dev);
  let ok = 0;
  let err = 0;
  for (const [k, v] of Object.entries(s)) {
    if (k.endsWith('_xdp_xmit')) ok += v;
    else if (k.endsWith('_xdp_xmit_errors')) err += v;
  }
  return { ok, err };
}

/** Frames an in-kernel XDP program dropped on a veth, all queues (rx_queue_N_xdp_drops). */
export async function xdpDrops(ns: string | null, dev: string): Promise<number> {
  const s = await ethtoolStats(ns, dev);
  let n = 0;
  for (const [k, v] of Object.entries(s)) if (/^rx_queue_\d+_xdp_drops$/.test(k)) n += v;
  return n;
}

/**
 * The kernel's own XDP_DROP on the router-side device (xsk_fwd xdpdrop), its NAPI a kthread on
 * the receiver's CPU: the ceiling a receiver in front of the kernel stack can reach.
 */
export function kernelXdpDrop(lab: SuiteLab, xskFwd: () => string, gen: () => GenSpec): BenchSystem {
  return {
    name: 'kernel-xdp-drop',
    async run(ctx, size) {
      await lab.napiThreaded(true);
      try {
        return await measure(ctx, size, {
          receivers: [{ label: 'xdpdrop', ns: lab.router, cpu: RX_CPU, argv: [xskFwd(), 'xdpdrop', '-i', lab.lab!.a.dev], ready: /attached/ }],
          counter: 0,
          gen: gen(),
        });
      } finally {
        await lab.napiThreaded(false);
      }
    },
  };
}
