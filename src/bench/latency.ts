/**
 * latency: round-trip time A -> router -> B -> router -> A at low load (ping, one echo per
 * millisecond), through softnet in busy-poll and interrupt mode, Linux forwarding and the C
 * forwarder. Frame size = the echo request's Ethernet frame incl. FCS (payload = size - 46).
 * Percentiles pool every echo of every repetition; loss is a fault here, not a result.
 */
import { existsSync, rmSync } from 'node:fs';
import { labPrereqs, RX_CPU, GEN_CPU, softnetHas } from './labrun.ts';
import { softnetArgv } from './package.ts';
import { Proc, sleep } from './proc.ts';
import { routerBits, ROUTES, RULES, type RouterBits } from './router.ts';
import type { SuiteEnv } from './scenarios.ts';
import { meanFrameSize, type FrameSize } from './stats.ts';
import { removeStackConfig, waitStack, writeStackConfig } from './softnet-stack.ts';
import type { BenchSystem, RunContext, Sample, Scenario } from './types.ts';
import { controlPath } from '../stack/control-socket.ts';

/** RTTs (µs) and counts from ping's output. */
export function parsePing(out: string): { rttUs: number[]; sent: number; received: number } {
  const rttUs: number[] = [];
  for (const m of out.matchAll(/time=([0-9.]+) ms/g)) rttUs.push(Number(m[1]) * 1000);
  const s = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out);
  return { rttUs, sent: s ? Number(s[1]) : rttUs.length, received: s ? Number(s[2]) : rttUs.length };
}

async function ping(ctx: RunContext, bits: RouterBits, size: FrameSize): Promise<Sample> {
  const l = bits.lab.lab!;
  const count = Math.max(100, Math.round(ctx.seconds * 1000));
  const payload = Math.max(0, Math.round(meanFrameSize(size)) - 46);
  // warm-up: neighbour entries, caches (not counted)
  const warm = new Proc('ping warm-up', l.a.host.ns, GEN_CPU, ['ping', '-n', '-q', '-c', '20', '-i', '0.002', '-W', '1', '-s', String(payload), l.b.host.ip]);
  await warm.wait(10_000);
  const p = new Proc('ping', l.a.host.ns, GEN_CPU, ['ping', '-n', '-c', String(count), '-i', '0.001', '-W', '1', '-s', String(payload), l.b.host.ip]);
  const t0 = Date.now();
  const tick = setInterval(() => ctx.rate(0, `${p.lines.length} echoes of ${count}`), 500);
  try {
    await p.wait(count * 2 + 15_000);
  } finally {
    clearInterval(tick);
  }
  const text = p.lines.filter((x) => x.stream === 'out').map((x) => x.text).join('\n');
  const r = parsePing(text);
  if (r.rttUs.length === 0) throw new Error(`ping got no replies (${r.sent} sent)${p.tail()}`);
  return { mpps: 0, rttUs: r.rttUs, sent: r.sent, received: r.received, seconds: (Date.now() - t0) / 1000 };
}

function softnetLatency(env: SuiteEnv, bits: RouterBits, name: string, busyPoll: boolean): BenchSystem {
  const stackName = `${env.lab}l${busyPoll ? 'b' : 'i'}`;
  return {
    name,
    check: () => softnetHas('up'),
    async run(ctx, size) {
      await bits.lab.napiThreaded(false);
      // The stack pins its own poll thread (napi.cpu); taskset would pin V8's helper threads to the
      // same core, where they preempt the spinning loop for milliseconds (p99 0.55 vs 0.07 ms).
      const cfg = writeStackConfig({ name: stackName, lab: bits.lab.lab!, routes: ROUTES, rules: RULES, busyPoll, cpu: RX_CPU });
      const up = new Proc('softnet up', bits.lab.router, null, softnetArgv(['up', '--config', cfg]));
      try {
        await waitStack(stackName, 30_000, () => up.running(), () => up.tail());
        return await ping(ctx, bits, size);
      } finally {
        await up.stop(5000);
        removeStackConfig(cfg);
        const sock = controlPath({ name: stackName });
        if (!up.running() && existsSync(sock)) rmSync(sock, { force: true });
      }
    },
  };
}

function linuxLatency(bits: RouterBits): BenchSystem {
  return {
    name: 'linux-fwd',
    async run(ctx, size) {
      await bits.lab.napiThreaded(true);
      try {
        return await ping(ctx, bits, size);
      } finally {
        await bits.lab.napiThreaded(false);
      }
    },
  };
}

function cLatency(bits: RouterBits, busy: boolean): BenchSystem {
  return {
    name: busy ? 'c-fwd-busy-poll' : 'c-fwd',
    async run(ctx, size) {
      await bits.lab.napiThreaded(false);
      const l = bits.lab.lab!;
      const argv = [bits.xskFwd(), 'fwd', '-a', l.a.dev, '-b', l.b.dev, '-r', `10.2.0.0/24=b,${l.b.host.mac}`, '-r', `10.1.0.0/24=a,${l.a.host.mac}`, busy ? '-B' : '-p'];
      const fwd = new Proc('xsk_fwd fwd', bits.lab.router, RX_CPU, argv);
      try {
        await fwd.waitFor(/xsk_fwd fwd .* routes/, 10_000);
        await sleep(100);
        return await ping(ctx, bits, size);
      } finally {
        await fwd.stop();
      }
    },
  };
}

export function latency(env: SuiteEnv): Scenario {
  const bits = routerBits(env);
  const sizes = env.sizes.filter((s) => s !== 'imix');
  return {
    name: 'latency',
    title: 'latency: RTT through softnet (busy-poll, interrupt) vs Linux forwarding vs C forwarder, low load',
    kind: 'latency',
    subject: 'softnet-busy-poll',
    systems: [softnetLatency(env, bits, 'softnet-busy-poll', true), softnetLatency(env, bits, 'softnet-irq', false), linuxLatency(bits), cLatency(bits, false), cLatency(bits, true)],
    // ping sends one size at a time: IMIX has no meaning for an RTT
    frameSizes: sizes.length ? sizes : [64],
    expectLoss: false,
    placement: [`ping on host A, CPU ${GEN_CPU} (1 echo/ms); router CPU ${RX_CPU}; Linux: threaded NAPI on CPU ${RX_CPU}`],
    check: async () => labPrereqs() ?? (await bits.check()),
    setup: async (log) => void (await bits.lab.up(log)),
    teardown: (log) => bits.lab.down(log),
  };
}
