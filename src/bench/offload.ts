/**
 * offload: one 10-rule filter (offload10.ts: 90% of the flood dropped, 10% passed) run four
 * ways on snN-a0 with the same generator (xsk_fwd gen -F 10: UDP source ports 1024..1033, round
 * robin; rule 10 drops 1025..1033):
 *   softnet-js       the module in JS, softnet's XDP hook (Stack, xdp: {module, offload: js})
 *   softnet-offload  the same module compiled by src/bpf, linked in place of the redirect program
 *   c-clang          the same rules in C (bench/c/offload10.c), clang -O2 -target bpf, loaded by
 *                    bpf-obj.ts through softnet's BPF_PROG_LOAD, linked the same way
 *   kernel-xdp-drop  XDP_DROP for everything (xsk_fwd xdpdrop), the ceiling
 * The rate is frames the filter judged per second (its verdict counters; xdpdrop: its drops).
 * softnet-offload and c-clang share one harness (offload-rx.ts): only the program differs.
 * Its table (offload-cost.ts): each program's ns per frame with BPF_PROG_TEST_RUN, no device.
 */
import path from 'node:path';
import { buildBpfObj } from './bpf-obj.ts';
import { programCost } from './offload-cost.ts';
import { kernelXdpDrop, labPrereqsWith, measure, PLACEMENT_AFXDP, PLACEMENT_KERNEL, RX_CPU, SuiteLab } from './labrun.ts';
import { nodeArgv, packageRoot, sibling } from './package.ts';
import type { Proc } from './proc.ts';
import type { SuiteEnv } from './scenarios.ts';
import type { FrameSize } from './stats.ts';
import type { BenchSystem, RunContext, Scenario } from './types.ts';

/** Flows of the flood: 10 source ports, 9 of them in rule 10's range. */
const FLOWS = 10;

interface Final {
  verdicts: { aborted: number; drop: number; pass: number; tx: number; redirect: number };
  rx: number;
  cpuSeconds: number;
}

/** What the receiver said at the end: the pass share and whether softnet's JS got exactly what passed. */
function summary(p: Proc[]): Record<string, unknown> {
  const f = p[0].lastJson<Final>();
  if (f === null) return {};
  const v = f.verdicts;
  const judged = v.aborted + v.drop + v.pass + v.tx + v.redirect;
  return { verdicts: v, rx: f.rx, passShare: judged > 0 ? v.pass / judged : null, cpuSeconds: f.cpuSeconds };
}

export function offload(env: SuiteEnv): Scenario {
  const lab = new SuiteLab(env.lab);
  let xskFwd = '';
  let obj = '';
  const module = sibling(import.meta.url, 'offload10');
  const genSpec = () => {
    const l = lab.lab!;
    return { bin: xskFwd, ns: l.a.host.ns, dev: l.a.host.dev, dstMac: l.a.mac, srcMac: l.a.host.mac, flows: FLOWS };
  };
  const rx = (name: string, run: 'js' | 'kernel' | 'c', threaded: boolean, check?: () => Promise<string | null>): BenchSystem => ({
    name,
    check,
    async run(ctx: RunContext, size: FrameSize) {
      // In the kernel, the program runs in snN-a0's NAPI: a kthread on the receiver's CPU, as
      // for kernel-xdp-drop. In JS, NAPI stays in the generator's softirq (the AF_XDP placement).
      await lab.napiThreaded(threaded);
      try {
        const args = ['--dev', lab.lab!.a.dev, '--run', run, '--module', module, ...(run === 'c' ? ['--obj', obj] : [])];
        return await measure(ctx, size, {
          receivers: [{ label: `offload-rx ${run}`, ns: lab.router, cpu: RX_CPU, argv: nodeArgv(import.meta.url, 'offload-rx', args), ready: /^offload-rx /, readyMs: 60_000 }],
          counter: 0,
          gen: genSpec(),
          extra: summary,
        });
      } finally {
        await lab.napiThreaded(false);
      }
    },
  });
  const kernelDrop = kernelXdpDrop(lab, () => xskFwd, genSpec);
  const clangCheck = async () => {
    try {
      obj = buildBpfObj('offload10');
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  };
  return {
    name: 'offload',
    title: 'offload: a 10-rule filter dropping 90%: in JS vs compiled by softnet vs clang -O2 vs XDP_DROP',
    kind: 'throughput',
    subject: 'softnet-offload',
    systems: [rx('softnet-offload', 'kernel', true), rx('c-clang', 'c', true, clangCheck), rx('softnet-js', 'js', false), kernelDrop],
    frameSizes: env.sizes,
    expectLoss: true,
    placement: [
      PLACEMENT_AFXDP.replace(/snN/g, `sn${env.lab}`) + ' (softnet-js)',
      PLACEMENT_KERNEL.replace(/snN/g, `sn${env.lab}`) + ' (softnet-offload, c-clang, kernel-xdp-drop: the XDP program runs there; the 10% it passes are read by offload-rx on the same CPU, interrupt mode)',
      `filter: ${path.relative(packageRoot(), module)} / bench/c/offload10.c; flood: ${FLOWS} flows (UDP sport 1024..1033), 9 of 10 dropped by rule 10; rate = frames judged/s (verdict counters)`,
    ],
    async check() {
      return labPrereqsWith('xsk_fwd', (b) => (xskFwd = b));
    },
    // The programs alone, without the lab's noise: ns per frame, side by side.
    tables: async () => (obj === '' ? [] : [programCost(module, obj, FLOWS)]),
    setup: async (log) => void (await lab.up(log)),
    teardown: (log) => lab.down(log),
  };
}
