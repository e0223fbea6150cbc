/**
 * The commands a running Stack answers on its control socket (`softnet stat|route|iptables|
 * capture` are their clients). Every handler validates its arguments and throws a message a
 * person can act on; the control server turns that into an error reply. The stack passes itself
 * in as a ControlHost, so this module never imports stack.ts.
 */
import type { Counters } from '../core/counters.ts';
import type { SockInfo } from '../transport/types.ts';
import type { ControlContext, ControlHandler } from './control-socket.ts';
import type { DropSnapshot } from './drops.ts';
import type { PipelineSnapshot } from './pipeline.ts';
import type { TraceOptions, TraceRecord } from './trace.ts';
import { SOFTNET, type CapturedFrame, type CaptureOptions, type FrameAccount, type PortInfo, type RuntimeView, type StackStats } from './types.ts';

/** What the handlers need from the stack (Stack implements it). */
export interface ControlHost {
  /** Every request counts as control_requests. */
  readonly counters: Counters;
  readonly graph: { clearRuntime(): void };
  readonly devs: { get(name: string): unknown };
  stats(): StackStats;
  runtime(): RuntimeView;
  route(cmd: string): string;
  iptables(line: string): string;
  iptablesRestore(text: string, noflush?: boolean): void;
  conntrack(words: readonly string[]): { output: string; summary: string };
  sysctl(name: string, value?: number | string): number | string;
  neigh(): string;
  portInfo(): PortInfo[];
  frames(): FrameAccount;
  /** Every socket of every transport protocol (`ss`). */
  sockets(): SockInfo[];
  capture(o: CaptureOptions, deliver: (frames: CapturedFrame[], dropped: number) => void): () => void;
  /** Every counter of a lost packet with its stage (`softnet dropwatch`). */
  drops(): DropSnapshot;
  /** Raw counters of the pipeline picture (`softnet top`). */
  pipeline(): PipelineSnapshot;
  trace(filter: string, o: TraceOptions, deliver: (records: TraceRecord[], missed: number, done: boolean) => void): () => void;
}

export function controlHandlers(stack: ControlHost, extra: Record<string, ControlHandler>): Record<string, ControlHandler> {
  const str = (a: Record<string, unknown>, k: string): string => {
    const v = a[k];
    if (typeof v !== 'string') throw new Error(`argument "${k}" must be a string`);
    return v;
  };
  const h: Record<string, ControlHandler> = {
    stat: () => stack.stats(),
    runtime: (a) => {
      const r = stack.runtime();
      if (a.clear === true) stack.graph.clearRuntime();
      return r;
    },
    route: (a) => ({ output: stack.route(str(a, 'cmd')) }),
    iptables: (a) => ({ output: stack.iptables(str(a, 'line')) }),
    'iptables-restore': (a) => {
      stack.iptablesRestore(str(a, 'text'), a.noflush === true);
      return {};
    },
    conntrack: (a) => {
      const w = a.words;
      if (!Array.isArray(w) || !w.every((x) => typeof x === 'string')) throw new Error('argument "words" must be an array of strings');
      return stack.conntrack(w as string[]);
    },
    sysctl: (a) => {
      const v = a.value;
      if (v !== undefined && typeof v !== 'number' && typeof v !== 'string') throw new Error('argument "value" must be a number or string');
      return { value: stack.sysctl(str(a, 'name'), v) };
    },
    neigh: () => ({ output: stack.neigh() }),
    ports: () => stack.portInfo(),
    frames: () => stack.frames(),
    ss: () => ({ sockets: stack.sockets() }),
    drops: () => stack.drops(),
    top: () => stack.pipeline(),
    capture: (a, ctx) => capture(stack, a, ctx),
    trace: (a, ctx) => trace(stack, a, ctx),
    ...extra,
  };
  for (const [k, fn] of Object.entries(h)) {
    h[k] = (a, c) => {
      stack.counters.v[SOFTNET.control_requests]++;
      return fn(a, c);
    };
  }
  return h;
}

/** `capture`: stream frames as events until count/duration is reached or the client leaves. */
function capture(stack: ControlHost, a: Record<string, unknown>, ctx: ControlContext): Promise<unknown> {
  const num = (k: string, max: number): number | undefined => {
    const v = a[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !(v > 0) || v > max) throw new Error(`argument "${k}" must be a number in (0, ${max}]`);
    return v;
  };
  const count = num('count', 1e9);
  const duration = num('duration', 86400);
  const snaplen = num('snaplen', 262144);
  const dev = a.dev === undefined || a.dev === null ? undefined : String(a.dev);
  if (dev !== undefined) stack.devs.get(dev);
  return new Promise((resolve) => {
    let sent = 0;
    let dropped = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const finish = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      stop();
      resolve({ packets: sent, dropped });
    };
    const stop = stack.capture({ dev, rx: a.rx !== false, tx: a.tx === true, snaplen }, (frames, dr) => {
      dropped += dr;
      let list = frames;
      if (count !== undefined && sent + list.length > count) list = list.slice(0, count - sent);
      if (list.length > 0) {
        // JSON + base64 is the slow path on purpose: captures are for people, bounded by maxQueued.
        ctx.send({
          frames: list.map((f) => [f.sec, f.usec, f.origLen, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength).toString('base64')]),
        });
        sent += list.length;
      }
      if (count !== undefined && sent >= count) queueMicrotask(finish);
    });
    ctx.onClose(finish);
    if (duration !== undefined) timer = setTimeout(finish, duration * 1000);
  });
}

/** `trace`: stream the records of traced packets as events until count is reached or the client leaves. */
function trace(stack: ControlHost, a: Record<string, unknown>, ctx: ControlContext): Promise<unknown> {
  const filter = a.filter ?? '';
  if (typeof filter !== 'string') throw new Error('argument "filter" must be a string (a tcpdump expression)');
  const count = a.count;
  if (count !== undefined && count !== null && (typeof count !== 'number' || !Number.isInteger(count) || count < 1)) throw new Error('argument "count" must be a positive integer');
  return new Promise((resolve, reject) => {
    let traced = 0;
    let missed = 0;
    let stop: () => void = () => {};
    try {
      stop = stack.trace(filter, { count: (count as number | undefined) ?? undefined }, (records, m, done) => {
        traced += records.length;
        missed += m;
        if (records.length > 0) ctx.send({ records });
        if (done) queueMicrotask(() => resolve({ traced, missed }));
      });
    } catch (e) {
      reject(e);
      return;
    }
    ctx.onClose(() => stop());
  });
}
