/**
 * tcp: softnet's TCP as an endpoint, against the kernel's TCP in the same place (ns sn-N-r on
 * snN-a0, 10.1.0.1), the client always the kernel on host A. Two scenarios:
 *  - tcp-bulk: goodput of ONE connection (bench/c/tcp_bulk.c send) into softnet's discard
 *    service vs a C sink on a kernel socket (`kernel`) vs the same discard handler on node:net
 *    (`kernel-node`, tcp-app.ts). Measured at the sender as bytes acknowledged per second (written
 *    less SIOCOUTQ), so every receiver is timed by the same instrument.
 *  - tcp-http: connections per second, one short GET per connection (`Connection: close`), from
 *    wrk (Debian's; C, epoll, one thread: it opens connections far faster than either server
 *    accepts them, where a curl loop pays a process per request) against softnet's HTTP service
 *    vs the same node:http handler on node:net.
 * Which side is the bottleneck is read from /proc/stat: a run whose sender CPU was saturated
 * while the receiver's CPU was not measured the sender, and is reported generator-limited.
 */
import { busyShare, cpuTimes, pinNapi, setThreadedNapi } from './cpu.ts';
import { buildC } from './cref.ts';
import { GEN_CPU, labPrereqs, RX_CPU, softnetHas, SuiteLab, WARMUP } from './labrun.ts';
import { nodeArgv, softnetArgv } from './package.ts';
import { lastJson, now, Proc, sleep } from './proc.ts';
import type { SuiteEnv } from './scenarios.ts';
import { removeStackConfig, runtime, waitStack, writeStackConfig } from './softnet-stack.ts';
import { median, round } from './stats.ts';
import type { BenchSystem, RunContext, Sample, Scenario, StageRow } from './types.ts';
import { nsExec } from '../tools/lab.ts';

const SINK_PORT = 9;
const HTTP_PORT = 80;
/** wrk's connections in flight: enough to keep a server busy between its poll rounds. */
const HTTP_CONNS = 32;
/** Sender CPU at least this busy, receiver CPU below RX_IDLE: the sender was the bottleneck. */
const GEN_SATURATED = 0.95;
const RX_IDLE = 0.8;

interface TcpBits {
  lab: SuiteLab;
  bulk: () => string;
}

/** A receiver process in sn-N-r, ready when it prints `ready`. */
interface Receiver {
  label: string;
  argv: string[];
  ready?: RegExp;
  /** softnet: its stack name (readiness over the control socket, the per-stage table). */
  stack?: string;
  cleanup?: () => void;
}

/** What the load generator measured: its figure, and CPU shares over its measuring window. */
interface Load {
  value: number;
  extra: Record<string, unknown>;
}

function softnetReceiver(bits: TcpBits, service: string, stack: string, sysctl?: Record<string, number>): Receiver {
  const cfg = writeStackConfig({ name: stack, lab: bits.lab.lab!, routes: 0, rules: 0, busyPoll: false, cpu: RX_CPU, services: [service], sysctl });
  return { label: 'softnet up', argv: softnetArgv(['up', '--config', cfg]), stack, cleanup: () => removeStackConfig(cfg) };
}

/**
 * One measurement: receiver up, then the load. Every receiver is pinned whole to the receiver's
 * CPU, V8's helper threads with softnet's poll thread as with the node:net app. snN-a0's NAPI
 * as labrun.ts places it: a threaded kthread on the receiver's CPU for the kernel's receivers
 * (GRO, TCP), the sender's softirq for softnet's (XDP and the AF_XDP copy into its UMEM).
 */
async function measureTcp(ctx: RunContext, bits: TcpBits, rx: Receiver, load: () => Promise<Load>): Promise<Sample> {
  await bits.lab.napiThreaded(rx.stack === undefined); // threaded for the kernel's receivers, not softnet
  const p = new Proc(rx.label, bits.lab.router, RX_CPU, rx.argv);
  try {
    if (rx.stack) {
      await waitStack(rx.stack, 30_000, () => p.running(), () => p.tail());
      await runtime(rx.stack, true).catch(() => []);
    } else if (rx.ready) await p.waitFor(rx.ready, 10_000);
    const l = await load();
    if (!p.running()) throw new Error(`${rx.label} exited during the run (${p.exitCode ?? p.exitSignal})${p.tail()}`);
    let stages: StageRow[] | undefined;
    if (rx.stack) {
      try {
        stages = await runtime(rx.stack);
      } catch (e) {
        ctx.log(`${rx.label}: no runtime table: ${(e as Error).message}`);
      }
    }
    const cpu = l.extra.cpu as { gen: number; rx: number };
    const limited = cpu.gen >= GEN_SATURATED && cpu.rx < RX_IDLE ? `the sender's CPU ${GEN_CPU} was ${Math.round(cpu.gen * 100)}% busy, the receiver's CPU ${RX_CPU} ${Math.round(cpu.rx * 100)}%` : undefined;
    return { mpps: l.value, seconds: ctx.seconds, ...(limited ? { limited } : {}), ...(stages ? { stages } : {}), extra: l.extra };
  } finally {
    await p.stop(5000);
    rx.cleanup?.();
  }
}

/** CPU shares of the generator's and the receiver's CPU while `run` goes. */
async function withCpu<T>(run: () => Promise<T>, openAfterMs = 0): Promise<{ r: T; cpu: { gen: number; rx: number } }> {
  let a: Awaited<ReturnType<typeof cpuTimes>> | null = null;
  const opened = sleep(openAfterMs).then(async () => void (a = await cpuTimes()));
  const r = await run();
  await opened;
  const b = await cpuTimes();
  return { r, cpu: { gen: round(busyShare(a!, b, GEN_CPU), 3), rx: round(busyShare(a!, b, RX_CPU), 3) } };
}

/** tcp_bulk send for S + WARMUP + 1 s; the median goodput (Gbit/s) of the seconds after the warm-up. */
async function bulkLoad(ctx: RunContext, bits: TcpBits): Promise<Load> {
  const l = bits.lab.lab!;
  const secs = ctx.seconds + WARMUP + 1;
  const snd = new Proc('tcp_bulk send', l.a.host.ns, GEN_CPU, [bits.bulk(), 'send', '-d', l.a.ip, '-p', String(SINK_PORT), '-t', String(secs)]);
  const tick = setInterval(() => {
    const j = lastJson<{ gbps?: number; final?: boolean }>(snd.lines.map((x) => x.text));
    if (j?.gbps !== undefined && !j.final) ctx.rate(0, `${j.gbps.toFixed(2)} Gbit/s`);
  }, 500);
  try {
    const { r: code, cpu } = await withCpu(() => snd.wait((secs + 15) * 1000), WARMUP * 1000);
    if (code !== 0) throw new Error(`tcp_bulk send failed (exit ${code})${snd.tail()}`);
    const per: number[] = [];
    for (const x of snd.lines) {
      if (x.stream !== 'out' || !x.text.startsWith('{')) continue;
      const j = JSON.parse(x.text) as { t?: number; gbps?: number; final?: boolean };
      if (!j.final && j.t !== undefined && j.gbps !== undefined && j.t - 1 >= WARMUP - 0.25) per.push(j.gbps);
    }
    if (per.length === 0) throw new Error(`tcp_bulk send printed no per-second goodput after the warm-up${snd.tail()}`);
    const fin = lastJson<{ acked: number; seconds: number }>(snd.lines.map((x) => x.text));
    return { value: median(per), extra: { cpu, perSecondGbps: per, ackedBytes: fin?.acked } };
  } finally {
    clearInterval(tick);
  }
}

/** wrk's summary: requests/s, errors. */
export function parseWrk(out: string): { rps: number; requests: number; errors: number; non2xx: number } {
  const rps = /Requests\/sec:\s+([0-9.]+)/.exec(out);
  const req = /(\d+) requests in/.exec(out);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const bad = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (!rps || !req) throw new Error(`wrk printed no summary: ${out.trim().split('\n').slice(-3).join(' | ')}`);
  const errors = se ? se.slice(1).reduce((a, x) => a + Number(x), 0) : 0;
  return { rps: Number(rps[1]), requests: Number(req[1]), errors, non2xx: bad ? Number(bad[1]) : 0 };
}

/**
 * wrk, one thread, HTTP_CONNS connections, a new connection per request (or, keepAlive, requests
 * one after another on each connection): a warm-up second, then S s measured.
 */
async function httpLoadOf(ctx: RunContext, bits: TcpBits, keepAlive: boolean): Promise<Load> {
  const l = bits.lab.lab!;
  const close = keepAlive ? [] : ['-H', 'Connection: close'];
  const wrk = (secs: number) => new Proc('wrk', l.a.host.ns, GEN_CPU, ['wrk', '-t1', `-c${HTTP_CONNS}`, `-d${secs}s`, '--timeout', '2s', ...close, `http://${l.a.ip}:${HTTP_PORT}/`]);
  await wrk(1).wait(20_000);
  const secs = Math.max(1, Math.round(ctx.seconds));
  const w = wrk(secs);
  const t0 = now();
  const tick = setInterval(() => ctx.rate(0, `wrk ${Math.round(now() - t0)} of ${secs} s`), 500);
  try {
    const { r: code, cpu } = await withCpu(() => w.wait((secs + 20) * 1000));
    const out = w.lines.map((x) => x.text).join('\n');
    if (code !== 0) throw new Error(`wrk failed (exit ${code})${w.tail()}`);
    const r = parseWrk(out);
    // A server that refuses or drops connections must not look fast: errors are a failure.
    if (r.errors + r.non2xx > r.requests * 0.001) throw new Error(`wrk: ${r.errors} socket errors and ${r.non2xx} non-2xx in ${r.requests} requests`);
    return { value: r.rps, extra: { cpu, requests: r.requests, errors: r.errors } };
  } finally {
    clearInterval(tick);
  }
}

function bits(env: SuiteEnv): TcpBits & { check(): Promise<string | null>; setup(log: (m: string) => void): Promise<void> } {
  const lab = new SuiteLab(env.lab);
  let bin = '';
  return {
    lab,
    bulk: () => bin,
    /**
     * The lab, and host A's receive work on A's CPU for every system: snN-a1's NAPI (A's TCP
     * taking the receiver's ACKs and sending what they allow) as a kthread on the sender's CPU.
     * veth would run it in the softirq of whoever transmits into a1, the receiver; and it hands
     * frames to a1's NAPI only when a0 has no TSO (else to the backlog of the sending CPU).
     */
    async setup(log) {
      const l = await lab.up(log);
      await nsExec(lab.router, ['ethtool', '-K', l.a.dev, 'tso', 'off'], { check: true });
      await setThreadedNapi(l.a.host.ns, l.a.host.dev, true);
      if ((await pinNapi(l.a.host.dev, GEN_CPU)) === 0) throw new Error(`no napi/${l.a.host.dev}-* kthread after enabling threaded NAPI`);
      // wrk's closed connections wait in TIME-WAIT on A: let new ones reuse their ports.
      await nsExec(l.a.host.ns, ['sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65535'], { check: true });
    },
    async check() {
      const why = labPrereqs();
      if (why) return why;
      try {
        bin = buildC('tcp_bulk');
      } catch (e) {
        return (e as Error).message;
      }
      return null;
    },
  };
}

const placement = (env: SuiteEnv, sender: string) => [
  `${sender} on host A, CPU ${GEN_CPU}, with A's receive work (sn${env.lab}-a1 threaded NAPI: the receiver's ACKs and what they let A send) on CPU ${GEN_CPU}; sn${env.lab}-a0 TSO off so ACKs go through that NAPI`,
  `every receiver in ns sn-${env.lab}-r pinned whole to CPU ${RX_CPU} (softnet: interrupt mode)`,
  `sn${env.lab}-a0's NAPI: kernel receivers a threaded kthread on CPU ${RX_CPU} (GRO, TCP); softnet in the sender's softirq on CPU ${GEN_CPU} (XDP, the AF_XDP copy into its UMEM), as in every AF_XDP scenario`,
];

export function tcpBulk(env: SuiteEnv): Scenario {
  const b = bits(env);
  const kernelSink = (name: string, rx: () => Receiver): BenchSystem => ({ name, run: (ctx) => measureTcp(ctx, b, rx(), () => bulkLoad(ctx, b)) });
  return {
    name: 'tcp-bulk',
    title: 'tcp-bulk: goodput of one connection from a kernel client into softnet discard vs kernel sinks',
    kind: 'throughput',
    metric: 'gbit/s',
    caseLabel: 'one connection',
    subject: 'softnet',
    systems: [
      {
        name: 'softnet',
        check: () => softnetHas('up'),
        run: (ctx) => measureTcp(ctx, b, softnetReceiver(b, `{proto: tcp, port: ${SINK_PORT}, kind: discard}`, `${env.lab}tb`), () => bulkLoad(ctx, b)),
      },
      {
        // The same without receive-buffer autotuning: the window stays at tcp_rmem[1] (128 KiB).
        name: 'softnet-fixed',
        check: () => softnetHas('up'),
        run: (ctx) => measureTcp(ctx, b, softnetReceiver(b, `{proto: tcp, port: ${SINK_PORT}, kind: discard}`, `${env.lab}tf`, { tcp_moderate_rcvbuf: 0 }), () => bulkLoad(ctx, b)),
      },
      kernelSink('kernel', () => ({ label: 'tcp_bulk sink', argv: [b.bulk(), 'sink', '-p', String(SINK_PORT)], ready: /listening/ })),
      kernelSink('kernel-node', () => ({ label: 'node:net discard', argv: nodeArgv(import.meta.url, 'tcp-app', ['discard', String(SINK_PORT)]), ready: /listening/ })),
    ],
    frameSizes: [1518],
    expectLoss: true,
    placement: [
      ...placement(env, 'sender (bench/c/tcp_bulk.c send, 256 KiB writes)'),
      'softnet: the discard service (config services:), node:http-free (softnet-fixed: tcp_moderate_rcvbuf 0, no autotuning); kernel: a C read() loop; kernel-node: the same discard handler on node:net',
    ],
    check: () => b.check(),
    setup: (log) => b.setup(log),
    teardown: (log) => b.lab.down(log),
  };
}

/** tcp-http: connections/s (Connection: close); keepAlive: tcp-http-keepalive, requests/s on reused connections. */
export function tcpHttp(env: SuiteEnv, keepAlive = false): Scenario {
  const b = bits(env);
  const httpLoad = (ctx: RunContext, x: TcpBits) => httpLoadOf(ctx, x, keepAlive);
  return {
    name: keepAlive ? 'tcp-http-keepalive' : 'tcp-http',
    title: keepAlive
      ? 'tcp-http-keepalive: requests/s on kept-alive connections, softnet HTTP service vs the same node:http handler on node:net'
      : 'tcp-http: connections/s, one short GET each, softnet HTTP service vs the same node:http handler on node:net',
    kind: 'throughput',
    metric: keepAlive ? 'req/s' : 'conn/s',
    caseLabel: `GET /, ${HTTP_CONNS} conns`,
    subject: 'softnet',
    systems: [
      {
        name: 'softnet',
        check: () => softnetHas('up'),
        run: (ctx) => measureTcp(ctx, b, softnetReceiver(b, `{proto: tcp, port: ${HTTP_PORT}, kind: http}`, `${env.lab}th`), () => httpLoad(ctx, b)),
      },
      {
        name: 'kernel-node',
        run: (ctx) => measureTcp(ctx, b, { label: 'node:http', argv: nodeArgv(import.meta.url, 'tcp-app', ['http', String(HTTP_PORT)]), ready: /listening/ }, () => httpLoad(ctx, b)),
      },
    ],
    frameSizes: [64],
    expectLoss: true,
    placement: [...placement(env, `wrk -t1 -c${HTTP_CONNS} (${keepAlive ? 'keep-alive' : 'Connection: close'})`)],
    check: async () => (await b.check()) ?? ((await nsExec(null, ['sh', '-c', 'command -v wrk'])).code === 0 ? null : "'wrk' is not installed (bash scripts/deps.sh)"),
    setup: (log) => b.setup(log),
    teardown: (log) => b.lab.down(log),
  };
}

/** Both tcp scenarios (`--scenario tcp`). */
export function tcp(env: SuiteEnv): Scenario[] {
  return [tcpBulk(env), tcpHttp(env), tcpHttp(env, true)];
}
