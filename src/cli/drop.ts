// `softnet drop` (xdpsock rxdrop) and the poll loop `softnet fwd` shares (xdpsock l2fwd).
//
// NAPI on the event loop: the port's interrupt (fd readable, watched by libuv) starts a poll
// round; a round takes up to `budget` frames in batches; if the budget ran out there is more
// work, so count a time_squeeze and continue on the next event-loop turn (setImmediate) instead of
// re-arming, otherwise re-arm the interrupt. --busy-poll never re-arms: it spins for a few ms per
// turn, then yields so timers and signals still run.
import { existsSync } from 'node:fs';
import { describeFlags, parseArgs, UsageError, type Spec } from './args.ts';
import type { Port } from '../driver/port.ts';
import { DEFAULT_FRAMES } from '../driver/umem.ts';
import { ETH_DST, ETH_HLEN, ETH_SRC } from '../wire/ethernet.ts';

export const loopSpec = {
  dev: { type: 'string', metavar: 'IF', help: 'device to receive on (required)' },
  queue: { type: 'int', metavar: 'Q', min: 0, max: 1023, default: 0, help: 'queue id' },
  mode: {
    type: 'enum',
    values: ['auto', 'xdp-zc', 'xdp-drv', 'xdp-skb', 'tap'],
    default: 'auto',
    help: 'how to reach the device; auto tries xdp-zc, xdp-drv, xdp-skb, tap and reports why each failed. tap creates/attaches a TAP named IF',
  },
  duration: { type: 'number', metavar: 'S', min: 0, help: 'stop after S seconds (default: until SIGINT/SIGTERM)' },
  batch: { type: 'int', metavar: 'N', min: 1, max: 1024, default: 64, help: 'frames per rx() call' },
  ringSize: { type: 'int', metavar: 'N', min: 64, max: 16384, default: 4096, help: 'AF_XDP ring size (power of two); the fill ring is kept full' },
  budget: { type: 'int', metavar: 'N', min: 1, max: 1 << 20, default: 1024, help: 'frames per poll round before yielding to the event loop' },
  defer: { type: 'int', metavar: 'N', min: 0, max: 1 << 20, default: 0, help: 'empty polls before re-arming the interrupt (napi_defer_hard_irqs): fewer wake-ups under load' },
  busyPoll: { type: 'bool', help: 'spin instead of waiting for the interrupt (yields every 2 ms); never on the NAPI core' },
  cpu: { type: 'int', metavar: 'N', min: 0, max: 1023, help: "pin the poll loop's thread (only) to CPU N; V8's helper threads stay free" },
  quiet: { type: 'bool', help: 'no per-second lines' },
  json: { type: 'bool', help: 'print one JSON object at the end (per-second lines go to stderr)' },
} as const satisfies Spec;

export const usage = `usage: softnet drop --dev IF [--queue Q] [--mode M] [--duration S] [--batch N] [--busy-poll] [--json]

Receive frames on one queue of IF and return them to the frame pool (xdpsock rxdrop). Prints
'Summary  N rx/s  N err/s' each second (err: frames the kernel dropped before we saw them:
XDP rx_dropped + rx_ring_full + invalid descriptors). Stops cleanly on SIGINT/SIGTERM or --duration.
--json prints {mode, packets, seconds, pps, stats, report, ...} at the end.

options:
${describeFlags(loopSpec)}
`;

export interface LoopResult {
  mode: string;
  dev: string;
  queue: number;
  busyPoll: boolean;
  packets: number;
  bytes: number;
  seconds: number;
  pps: number;
  /** Seconds from start to the first / last received frame (-1: none): lets a bench compute its own window. */
  firstAt: number;
  lastAt: number;
  /** fwd: frames sent back, and refused by the TX ring (returned to the pool). */
  tx: number;
  txRefused: number;
  /** CPU time this process used while looping (user + system): cost per frame = cpuSeconds / packets. */
  cpuSeconds: number;
  /** Poll rounds that ran out of budget (NAPI time_squeeze). */
  timeSqueeze: number;
  stats: Record<string, number>;
  /** Frames not back in the pool after close (frame accounting; must be 0). */
  framesMissing: number;
  report: string[];
}

const ERR_KEYS = ['rx_dropped', 'rx_ring_full', 'rx_invalid_descs', 'tx_invalid_descs', 'rx_errors'];

/** Open the port from parsed flags and run the loop until --duration / a signal. */
export async function runLoop(kind: 'drop' | 'fwd', argv: string[]): Promise<number> {
  const a = parseArgs(argv, loopSpec);
  if (a.dev === undefined) throw new UsageError('--dev IF is required');
  if (a._.length) throw new UsageError(`unexpected argument '${a._[0]}'`);
  if ((a.ringSize & (a.ringSize - 1)) !== 0) throw new UsageError(`--ring-size: ${a.ringSize} is not a power of two`);
  if (a.cpu !== undefined) {
    const { pinThread } = await import('../driver/native.ts');
    pinThread(a.cpu);
  }
  const { openPort } = await import('../driver/open.ts');
  const { port, report } = openPort({
    dev: a.dev,
    queue: a.queue,
    mode: a.mode as 'auto',
    batchSize: a.batch,
    busyPoll: a.busyPoll,
    ringSize: a.ringSize,
    // Lend the kernel nearly the whole pool (xdpsock does): frames waiting in the RX ring count
    // against it, and a starved fill ring drops in the kernel (rx_fill_ring_empty_descs) whenever
    // this process is descheduled. Frames return at once (drop) or via TX completions (fwd).
    fillFrames: Math.min(a.ringSize, DEFAULT_FRAMES - 4 * a.batch),
    // Dropping reads no frame: pulling each into this CPU's cache would only cost (fwd swaps MACs).
    prefetch: kind === 'fwd',
  });
  const out = a.json ? process.stderr : process.stdout;
  if (!a.quiet) for (const r of report) out.write(`${kind}: ${r}\n`);
  const r = await pollLoop(port, kind, {
    batch: a.batch,
    budget: a.budget,
    defer: a.defer,
    busyPoll: a.busyPoll,
    durationSec: a.duration ?? 0,
    onSecond: a.quiet ? null : (rx, err, tx) => out.write(`Summary  ${fmt(rx)} rx/s  ${fmt(err)} err/s${kind === 'fwd' ? `  ${fmt(tx)} tx/s` : ''}\n`),
  });
  r.report = report;
  if (a.json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    out.write(
      `${kind}: ${r.packets} packets in ${r.seconds.toFixed(3)} s (${fmt(r.pps)} pps) on ${r.dev} queue ${r.queue}, mode ${r.mode}` +
        (kind === 'fwd' ? `; sent ${r.tx}, TX ring refused ${r.txRefused}` : '') +
        '\n',
    );
  }
  return 0;
}

export interface LoopOptions {
  batch: number;
  budget: number;
  busyPoll: boolean;
  /** Empty poll rounds before re-arming the interrupt (napi_defer_hard_irqs). */
  defer?: number;
  durationSec: number;
  /** Called each second with rx/s, err/s, tx/s. */
  onSecond: ((rx: number, err: number, tx: number) => void) | null;
  /** Stop when this resolves (tests); SIGINT/SIGTERM always stop. */
  stop?: Promise<unknown>;
}

/** Run rxdrop or l2fwd on an open port; closes the port before resolving. */
export function pollLoop(port: Port, kind: 'drop' | 'fwd', o: LoopOptions): Promise<LoopResult> {
  const pool = port.pool;
  const rxAddr = port.rxAddr;
  const rxLen = port.rxLen;
  const txAddr = port.txAddr;
  const txLen = port.txLen;
  const dv = port.umem.dv;
  const batch = Math.min(o.batch, port.batchSize);
  const budget = o.budget;
  const defer = o.defer ?? 0;
  let idle = 0;
  const fwd = kind === 'fwd';
  const reap = typeof (port as { reap?: unknown }).reap === 'function' ? () => (port as unknown as { reap(): number }).reap() : () => 0;
  let packets = 0;
  let bytes = 0;
  let tx = 0;
  let txRefused = 0;
  let squeeze = 0;
  let firstAt = -1;
  let lastAt = -1;
  let stopping = false;
  let drainTimer: NodeJS.Timeout | null = null;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();

  // MAC swap with two 32-bit and two 16-bit loads/stores (DataView beats byte copies 2-3x).
  function swapAndSend(n: number): void {
    let k = 0;
    for (let j = 0; j < n; j++) {
      const addr = rxAddr[j];
      const len = rxLen[j];
      if (len < ETH_HLEN) {
        pool.free(addr);
        continue;
      }
      const d0 = dv.getUint32(addr + ETH_DST);
      const d1 = dv.getUint16(addr + ETH_DST + 4);
      dv.setUint32(addr + ETH_DST, dv.getUint32(addr + ETH_SRC));
      dv.setUint16(addr + ETH_DST + 4, dv.getUint16(addr + ETH_SRC + 4));
      dv.setUint32(addr + ETH_SRC, d0);
      dv.setUint16(addr + ETH_SRC + 4, d1);
      txAddr[k] = addr;
      txLen[k] = len;
      k++;
    }
    const sent = k > 0 ? port.tx(k) : 0;
    for (let j = sent; j < k; j++) pool.free(txAddr[j]);
    tx += sent;
    txRefused += k - sent;
  }

  /** One poll round: up to `budget` frames. Returns how many. */
  function round(): number {
    let done = 0;
    while (done < budget) {
      const n = port.rx(batch);
      if (n === 0) break;
      let b = 0;
      for (let j = 0; j < n; j++) b += rxLen[j];
      bytes += b;
      if (fwd) swapAndSend(n);
      else for (let j = 0; j < n; j++) pool.free(rxAddr[j]);
      done += n;
    }
    if (done > 0) {
      if (firstAt < 0) firstAt = performance.now();
      lastAt = performance.now();
      packets += done;
    }
    return done;
  }

  return new Promise<LoopResult>((resolve, reject) => {
    let failure: unknown = null;
    let lastPkts = 0;
    let lastTx = 0;
    let lastErr = errCount(port.stats());
    // An AF_XDP socket whose device is deleted just goes quiet: notice it once a second and stop
    // with an error instead of reporting 0 rx/s forever. (Not for TAP: it may be moved to another
    // namespace on purpose, and it disappears only when we close it.)
    const watchDev = port.mode !== 'tap' && port.mode !== 'memory';
    const ticker = setInterval(() => {
      if (watchDev && !existsSync(`/sys/class/net/${port.dev}`)) {
        failure = new Error(`${port.dev}: the device disappeared (deleted or moved to another namespace); stopped`);
        stop();
        return;
      }
      const err = errCount(port.stats()) + txRefused;
      o.onSecond?.(packets - lastPkts, err - lastErr, tx - lastTx);
      lastPkts = packets;
      lastTx = tx;
      lastErr = err;
    }, 1000);
    const timer = o.durationSec > 0 ? setTimeout(stop, o.durationSec * 1000) : null;
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    o.stop?.then(stop, stop);

    function stop(): void {
      stopping = true;
      // Wake a loop parked on the interrupt so it can finish now.
      port.disarmIrq();
      setImmediate(finish);
    }

    let finished = false;
    function finish(): void {
      if (finished) return;
      finished = true;
      clearInterval(ticker);
      if (timer) clearTimeout(timer);
      if (drainTimer) clearTimeout(drainTimer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      try {
        if (fwd) reap();
        const stats = port.stats();
        const seconds = (performance.now() - t0) / 1000;
        const r: LoopResult = {
          mode: port.mode,
          dev: port.dev,
          queue: port.queue,
          busyPoll: o.busyPoll,
          packets,
          bytes,
          seconds,
          pps: seconds > 0 ? packets / seconds : 0,
          firstAt: firstAt < 0 ? -1 : (firstAt - t0) / 1000,
          lastAt: lastAt < 0 ? -1 : (lastAt - t0) / 1000,
          tx,
          txRefused,
          timeSqueeze: squeeze,
          cpuSeconds: cpuSince(cpu0),
          stats,
          framesMissing: 0,
          report: [],
        };
        port.close();
        r.framesMissing = pool.total - pool.available;
        if (failure !== null) reject(failure);
        else resolve(r);
      } catch (e) {
        port.close();
        reject(e);
      }
    }

    function poll(): void {
      if (stopping) return finish();
      try {
        if (o.busyPoll) {
          const end = performance.now() + 2;
          do round();
          while (performance.now() < end);
          if (fwd) reap();
          setImmediate(poll);
          return;
        }
        const done = round();
        if (done >= budget) {
          idle = 0;
          squeeze++;
          setImmediate(poll);
        } else if (defer > 0 && (done > 0 ? ((idle = 0), true) : ++idle <= defer)) {
          // napi_defer_hard_irqs: poll again on the next turn, up to `defer` empty rounds, instead
          // of paying a wake-up (epoll + callback) per handful of frames.
          setImmediate(poll);
        } else {
          // The round drained the ring (done < budget): like napi_complete_done, re-arm now.
          idle = 0;
          port.armIrq(poll);
          if (fwd) scheduleDrain(0);
        }
      } catch (e) {
        failure = e;
        stopping = true;
        finish();
      }
    }

    // l2fwd while idle: TX frames a kick's budget left in the ring only leave on the next kick,
    // which reaping completions does; keep reaping for a few ms after traffic stops.
    function scheduleDrain(idle: number): void {
      if (drainTimer || stopping) return;
      drainTimer = setTimeout(() => {
        drainTimer = null;
        const c = reap();
        if (idle < 20) scheduleDrain(c > 0 ? 0 : idle + 1);
      }, 1);
    }

    poll();
  });
}

function cpuSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

function errCount(s: Record<string, number>): number {
  let e = 0;
  for (const k of ERR_KEYS) e += s[k] ?? 0;
  return e;
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function run(argv: string[]): Promise<number> {
  return runLoop('drop', argv);
}
