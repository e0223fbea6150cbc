/**
 * router: softnet forwarding A -> B (10k routes, 20 netfilter rules) vs Linux forwarding (ns
 * sn-N-r, ip_forward=1) vs the C AF_XDP forwarder (bench/c/xsk_fwd.c fwd: 2 routes, no rules).
 * The counter is a sink on host B: an XDP program on snN-b1 that drops and counts IPv4 (ARP
 * passes), so every system is measured by what arrives at B, at the same cost on B's side.
 */
import { labPrereqsWith, measure, type GenSpec, PLACEMENT_AFXDP, PLACEMENT_KERNEL, RX_CPU, softnetHas, SuiteLab } from './labrun.ts';
import { softnetArgv } from './package.ts';
import type { SuiteEnv } from './scenarios.ts';
import type { FrameSize } from './stats.ts';
import { removeStackConfig, routeLines, ruleLines, runtime, waitStack, writeStackConfig } from './softnet-stack.ts';
import { nsExec } from '../tools/lab.ts';
import type { BenchSystem, RunContext, Sample, Scenario } from './types.ts';
import type { Proc } from './proc.ts';

export const ROUTES = 10_000;
export const RULES = 20;

export interface RouterBits {
  lab: SuiteLab;
  xskFwd: () => string;
}

/**
 * softnet up as a router; `xdp` adds an XDP-style filter module on both ports, `netfilter` rules
 * after the 20, `flows` the generator's flows; `attach` starts something against the ready stack
 * (a trace) before the generator, and its stop() (after the generator) gives the sample's extra.
 */
export function softnetRouter(
  env: SuiteEnv,
  bits: RouterBits,
  name: string,
  opts: { xdp?: string; stackName: string; netfilter?: string[]; flows?: number; attach?: (stackName: string) => Promise<() => Promise<Record<string, unknown>>> },
): BenchSystem {
  return {
    name,
    check: () => softnetHas('up'),
    async run(ctx: RunContext, size: FrameSize): Promise<Sample> {
      const { lab } = bits;
      await lab.napiThreaded(false);
      const l = lab.lab!;
      const cfg = writeStackConfig({ name: opts.stackName, lab: l, routes: ROUTES, rules: RULES, busyPoll: false, cpu: RX_CPU, xdp: opts.xdp, netfilter: opts.netfilter });
      let detach: (() => Promise<Record<string, unknown>>) | null = null;
      try {
        return await measure(ctx, size, {
          receivers: [
            sink(bits),
            // napi.cpu pins the poll thread only (see latency.ts), so no taskset here.
            { label: 'softnet up', ns: lab.router, cpu: null, argv: softnetArgv(['up', '--config', cfg]) },
          ],
          counter: 0,
          gen: genSpec(bits, opts.flows),
          beforeStop: async () => {
            const extra = detach ? await detach() : undefined;
            detach = null;
            try {
              return { stages: await runtime(opts.stackName), extra };
            } catch (e) {
              ctx.log(`${name}: no runtime table: ${(e as Error).message}`);
              return { extra };
            }
          },
          onReady: async (p: Proc[]) => {
            await waitStack(opts.stackName, 30_000, () => p[1].running(), () => p[1].tail());
            await runtime(opts.stackName, true).catch(() => []);
            if (opts.attach) detach = await opts.attach(opts.stackName);
          },
        });
      } finally {
        await (detach as (() => Promise<unknown>) | null)?.().catch(() => {});
        removeStackConfig(cfg);
      }
    },
  };
}

/** The generator on host A, to B through the router. */
export function genSpec(bits: RouterBits, flows?: number): GenSpec {
  const l = bits.lab.lab!;
  return { bin: bits.xskFwd(), ns: l.a.host.ns, dev: l.a.host.dev, dstMac: l.a.mac, srcMac: l.a.host.mac, dstIp: l.b.host.ip, flows };
}

/** The counting sink on host B (see the header). */
export function sink(bits: RouterBits) {
  const l = bits.lab.lab!;
  return { label: 'sink on B', ns: l.b.host.ns, cpu: null, argv: [bits.xskFwd(), 'xdpdrop', '-4', '-i', l.b.host.dev], ready: /attached/ };
}

/**
 * The same 10k routes and 20 FORWARD rules as softnet's config (and `nat` table rules, if any),
 * in the Linux router's namespace (ip -batch, iptables-restore): a same-config comparison.
 * Returns the undo.
 */
async function linuxConfig(ns: string, nat: string[]): Promise<() => Promise<void>> {
  const routes = routeLines(ROUTES).map((r) => `route add ${r}`).join('\n') + '\n';
  await nsExec(ns, ['ip', '-batch', '-'], { input: routes, check: true });
  const rules = ['*filter', ...ruleLines(RULES), 'COMMIT', ...(nat.length ? ['*nat', ...nat, 'COMMIT'] : []), ''].join('\n');
  await nsExec(ns, ['iptables-restore'], { input: rules, check: true });
  return async () => {
    await nsExec(ns, ['iptables', '-F', 'FORWARD']);
    if (nat.length) await nsExec(ns, ['iptables', '-t', 'nat', '-F']);
    await nsExec(ns, ['ip', '-batch', '-'], { input: routes.replaceAll('route add', 'route del') });
  };
}

/** Linux forwarding in ns sn-N-r; `nat`: iptables-restore lines of its nat table, `flows` the generator's. */
export function linuxFwd(bits: RouterBits, o: { name?: string; nat?: string[]; flows?: number } = {}): BenchSystem {
  return {
    name: o.name ?? 'linux-fwd',
    check: async () => (await nsExec(null, ['iptables', '--version'])).code === 0 ? null : 'iptables is missing (bash scripts/deps.sh)',
    async run(ctx, size) {
      const { lab } = bits;
      await lab.napiThreaded(true);
      const undo = await linuxConfig(lab.router, o.nat ?? []);
      try {
        return await measure(ctx, size, {
            receivers: [sink(bits)],
            counter: 0,
            gen: genSpec(bits, o.flows),
        });
      } finally {
        await undo();
        await lab.napiThreaded(false);
      }
    },
  };
}

export function cFwd(bits: RouterBits, busy = false, name = 'c-fwd'): BenchSystem {
  return {
    name,
    async run(ctx, size) {
      const { lab } = bits;
      await lab.napiThreaded(false);
      const l = lab.lab!;
      const argv = [bits.xskFwd(), 'fwd', '-a', l.a.dev, '-b', l.b.dev, '-r', `10.2.0.0/24=b,${l.b.host.mac}`, '-r', `10.1.0.0/24=a,${l.a.host.mac}`, busy ? '-B' : '-p'];
      return measure(ctx, size, {
        receivers: [sink(bits), { label: 'xsk_fwd fwd', ns: lab.router, cpu: RX_CPU, argv, ready: /xsk_fwd fwd .* routes/ }],
        counter: 0,
        gen: genSpec(bits),
        extra: (p) => ({ forwarder: p[1].lastJson() }),
      });
    },
  };
}

export function routerBits(env: SuiteEnv): RouterBits & { check(): Promise<string | null> } {
  const lab = new SuiteLab(env.lab);
  let bin = '';
  return {
    lab,
    xskFwd: () => bin,
    async check() {
      return labPrereqsWith('xsk_fwd', (b) => (bin = b));
    },
  };
}

export function router(env: SuiteEnv): Scenario {
  const bits = routerBits(env);
  return {
    name: 'router',
    title: `router: softnet (${ROUTES} routes, ${RULES} rules) vs Linux forwarding vs C AF_XDP forwarder, A -> B`,
    kind: 'throughput',
    subject: 'softnet',
    systems: [softnetRouter(env, bits, 'softnet', { stackName: `${env.lab}rt` }), linuxFwd(bits), cFwd(bits)],
    frameSizes: env.sizes,
    expectLoss: true,
    placement: [
      PLACEMENT_AFXDP.replace(/snN/g, `sn${env.lab}`).replace('receiver', 'router'),
      PLACEMENT_KERNEL.replace(/snN/g, `sn${env.lab}`),
      `sink on host B: XDP drop+count on sn${env.lab}-b1 (runs in the router's transmit path)`,
      'c-fwd: 2 routes, no rules; softnet and linux-fwd: the same 10k routes and 20 FORWARD rules (iptables for Linux)',
    ],
    check: () => bits.check(),
    setup: async (log) => void (await bits.lab.up(log)),
    teardown: (log) => bits.lab.down(log),
  };
}
