/**
 * rxdrop: softnet `drop` vs the C AF_XDP rxdrop reference (bench/c/xsk_ref.c, helper-2's) vs an
 * in-kernel XDP_DROP (bench/c/xsk_fwd.c xdpdrop), all on snN-a0 with the same generator.
 */
import { kernelXdpDrop, labPrereqsWith, measure, PLACEMENT_AFXDP, PLACEMENT_KERNEL, RX_CPU, softnetHas, SuiteLab } from './labrun.ts';
import { softnetArgv } from './package.ts';
import type { SuiteEnv } from './scenarios.ts';
import type { FrameSize } from './stats.ts';
import type { BenchSystem, RunContext, Scenario } from './types.ts';

/** A softnet `drop` system on snN-a0 in `mode`. */
export function softnetDrop(env: SuiteEnv, lab: SuiteLab, gen: () => string, name: string, mode: string): BenchSystem {
  return {
    name,
    check: () => softnetHas('drop'),
    async run(ctx: RunContext, size: FrameSize) {
      await lab.napiThreaded(false);
      const l = lab.lab!;
      const dev = mode === 'tap' ? `${lab.n.a0.slice(0, -1)}t` : l.a.dev;
      return measure(ctx, size, {
        receivers: [
          {
            label: `softnet drop (${mode})`,
            ns: lab.router,
            // --cpu pins the poll thread only (V8's helper threads float; see latency.ts).
            cpu: null,
            argv: softnetArgv(['drop', '--dev', dev, '--mode', mode, '--cpu', String(RX_CPU)]),
            ready: /./,
            readyMs: 20_000,
          },
        ],
        counter: 0,
        gen: mode === 'tap'
          ? { bin: gen(), ns: lab.router, dev, dstMac: l.a.mac, srcMac: l.a.host.mac }
          : { bin: gen(), ns: l.a.host.ns, dev: l.a.host.dev, dstMac: l.a.mac, srcMac: l.a.host.mac },
        extra: (p) => ({ summary: p[0].lastJson() }),
      });
    },
  };
}

export function rxdrop(env: SuiteEnv): Scenario {
  const lab = new SuiteLab(env.lab);
  let xskFwd = '';
  let xskRef = '';
  const gen = () => xskFwd;
  const genSpec = () => {
    const l = lab.lab!;
    return { bin: xskFwd, ns: l.a.host.ns, dev: l.a.host.dev, dstMac: l.a.mac, srcMac: l.a.host.mac };
  };
  const cRxdrop: BenchSystem = {
    name: 'c-rxdrop',
    check: async () => labPrereqsWith('xsk_ref', (b) => (xskRef = b)),
    async run(ctx, size) {
      await lab.napiThreaded(false);
      return measure(ctx, size, {
        receivers: [{ label: 'xsk_ref rxdrop', ns: lab.router, cpu: RX_CPU, argv: [xskRef, 'rxdrop', '-i', lab.lab!.a.dev, '-N', '-p'], ready: /xsk_ref rxdrop on/ }],
        counter: 0,
        gen: genSpec(),
        extra: (p) => ({ summary: p[0].lastJson() }),
      });
    },
  };
  const kernelDrop = kernelXdpDrop(lab, () => xskFwd, genSpec);
  return {
    name: 'rxdrop',
    title: 'rxdrop: softnet drop vs C AF_XDP rxdrop vs in-kernel XDP_DROP',
    kind: 'throughput',
    subject: 'softnet',
    systems: [softnetDrop(env, lab, gen, 'softnet', 'xdp-drv'), cRxdrop, kernelDrop],
    frameSizes: env.sizes,
    expectLoss: true,
    placement: [PLACEMENT_AFXDP.replace(/snN/g, `sn${env.lab}`), PLACEMENT_KERNEL.replace(/snN/g, `sn${env.lab}`), 'AF_XDP copy mode, native (xdp-drv) attach, poll()'],
    async check() {
      return labPrereqsWith('xsk_fwd', (b) => (xskFwd = b));
    },
    setup: async (log) => void (await lab.up(log)),
    teardown: (log) => lab.down(log),
  };
}

