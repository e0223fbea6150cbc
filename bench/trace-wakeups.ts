// Where a forwarded packet's time goes at low load, per forwarder, from kernel tracepoints only
// (uprobes cost microseconds each on this VM and would be most of what they measure). Runs the
// latency scenario (64 B, one rep: softnet in busy-poll and interrupt mode, Linux, the C
// forwarder in poll() and busy-poll mode) under `perf record -a` and, per forwarding thread (one
// that made > 2000 sendto calls), pairs each frame's arrival at an AF_XDP socket (the XDP
// program's xdp:xdp_redirect) with the thread's next sendto (its transmit kick). Arrivals find
// the thread asleep (woken: sched_wakeup, then on the CPU: sched_switch, then its epoll/poll
// returns) or awake (a ping's reply lands inside the request's sendto: host B's stack runs in
// our transmit). Prints p50/p90/p99 of each span in µs, and which tasks held the CPU when a
// woken forwarder waited more than 50 µs for it.
// Run (root, the lab lock held): node --import tsx bench/trace-wakeups.ts [--seconds S]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from '../src/cli/args.ts';
import { softnetArgv } from '../src/bench/package.ts';

const args = parseArgs(process.argv.slice(2), {
  seconds: { type: 'number', min: 1, default: 4, help: 'seconds of pings per system' },
});

const EVENTS = [
  'xdp:xdp_redirect',
  'sched:sched_wakeup',
  'sched:sched_switch',
  ...['epoll_wait', 'epoll_pwait', 'poll', 'ppoll'].map((c) => `syscalls:sys_exit_${c}`),
  'syscalls:sys_enter_sendto',
];

interface Ev {
  t: number; // µs
  tid: number;
  comm: string;
  ev: string;
  rest: string;
}

function record(): Ev[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sn-wakeups-'));
  try {
    const data = path.join(dir, 'perf.data');
    const bench = softnetArgv(['bench', '--scenario', 'latency', '--sizes', '64', '--reps', '1', '--seconds', String(args.seconds), '--out', dir]);
    const r = spawnSync('perf', ['record', '-q', '-o', data, '-a', ...EVENTS.flatMap((e) => ['-e', e]), '--', ...bench], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`perf record around softnet bench failed (exit ${r.status}): is perf installed (bash scripts/deps.sh) and are we root?`);
    const text = execFileSync('perf', ['script', '-i', data, '-F', 'comm,tid,time,event,trace', '--ns'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
    const out: Ev[] = [];
    for (const m of text.matchAll(/^\s*(\S.*?)\s+(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)$/gm)) {
      out.push({ comm: m[1], tid: Number(m[2]), t: Number(m[3]) * 1e6, ev: m[4].split(':').pop()!, rest: m[5] });
    }
    return out.sort((a, b) => a.t - b.t);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Index of the first element of sorted `a` greater than x. */
function after(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m] <= x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

const pct = (a: number[], p: number) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

const evs = record();
const sends = new Map<number, number[]>();
for (const e of evs) if (e.ev === 'sys_enter_sendto') (sends.get(e.tid) ?? sends.set(e.tid, []).get(e.tid)!).push(e.t);
const comm = new Map(evs.map((e) => [e.tid, e.comm]));
const redirects = evs.filter((e) => e.ev === 'xdp_redirect').map((e) => e.t);
const rows: Record<string, string | number>[] = [];
const tails: string[] = [];
for (const [tid, ts] of sends) {
  if (ts.length < 2000 || comm.get(tid) === 'ping') continue;
  const [t0, t1] = [ts[0] - 1000, ts[ts.length - 1]];
  const mine = (f: (e: Ev) => boolean) => evs.filter((e) => e.t >= t0 && e.t <= t1 && f(e)).map((e) => e.t);
  const woken = mine((e) => e.ev === 'sched_wakeup' && new RegExp(`\\bpid=${tid}\\b`).test(e.rest));
  const switches = evs.filter((e) => e.t >= t0 && e.t <= t1 && e.ev === 'sched_switch' && new RegExp(`\\bnext_pid=${tid}\\b`).test(e.rest));
  const onCpu = switches.map((e) => e.t);
  const waitRet = mine((e) => e.tid === tid && e.ev.startsWith('sys_exit_'));
  const spans = new Map<string, number[]>();
  const held = new Map<string, number>();
  const add = (k: string, v: number) => (spans.get(k) ?? spans.set(k, []).get(k)!).push(v);
  for (const ta of redirects.slice(after(redirects, t0), after(redirects, t1))) {
    const i = after(ts, ta);
    if (i >= ts.length || ts[i] - ta > 5000) continue;
    const tx = ts[i];
    const j = after(onCpu, ta);
    const slept = j < onCpu.length && onCpu[j] < tx;
    const k = after(waitRet, ta);
    const ret = k < waitRet.length && waitRet[k] < tx ? waitRet[k] : -1;
    const kind = slept ? 'asleep' : 'awake';
    add(`${kind}: arrival -> sendto`, tx - ta);
    if (ret >= 0) add(`${kind}: wait returns -> sendto`, tx - ret);
    if (slept) {
      const w = after(woken, ta);
      if (w < woken.length && woken[w] < tx) {
        add('asleep: arrival -> woken', woken[w] - ta);
        add('asleep: woken -> on CPU', onCpu[j] - woken[w]);
        // Who held the CPU when the wake-up had to wait long (the tail): the task switched out.
        if (onCpu[j] - woken[w] > 50) {
          // A thread of the forwarder's own process has a nearby id: say so.
          const m = /prev_comm=(.*?) prev_pid=(\d+)/.exec(switches[j].rest);
          const prev = m === null ? '?' : Math.abs(Number(m[2]) - tid) < 64 ? `${m[1]} (pid ${m[2]}, the forwarder's own process?)` : m[1];
          held.set(prev, (held.get(prev) ?? 0) + 1);
        }
      }
      if (ret >= 0) add('asleep: on CPU -> wait returns', ret - onCpu[j]);
    }
  }
  for (const [span, v] of spans) {
    rows.push({ thread: `${comm.get(tid)} ${tid}`, span, n: v.length, p50: pct(v, 0.5).toFixed(1), p90: pct(v, 0.9).toFixed(1), p99: pct(v, 0.99).toFixed(1) });
  }
  if (held.size > 0) tails.push(`${comm.get(tid)} ${tid}: woken but > 50 µs off the CPU, which ran: ${[...held].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}x`).join(', ')}`);
}
console.log('forwarding threads in the order the scenario runs them: softnet busy-poll, softnet irq, (Linux: no thread), C poll(), C busy-poll; µs');
console.table(rows);
for (const t of tails) console.log(t);
