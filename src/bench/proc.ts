/**
 * Child processes for lab measurements: started pinned (`taskset`) in a namespace, lines of
 * stdout/stderr collected with arrival times, per-second rates parsed from them, stopped by PID.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnInNs } from '../tools/lab.ts';
import { pinned } from './cpu.ts';
import { median } from './stats.ts';

export interface Line {
  t: number; // seconds (performance.now()/1000)
  stream: 'out' | 'err';
  text: string;
}

export interface RatePoint {
  t: number;
  pps: number;
}

export function now(): number {
  return performance.now() / 1000;
}

/**
 * A per-second rate from a tool's progress line: "xsk_ref rxdrop:  2883456 pps",
 * "rx 2.88 Mpps", "1,234,567 rx/s", or a JSON line with a `pps` field. null if none.
 */
export function parseRateLine(line: string): number | null {
  const s = line.trim();
  if (s.startsWith('{')) {
    try {
      const o = JSON.parse(s) as { pps?: unknown; final?: unknown };
      if (typeof o.pps === 'number' && o.final !== true) return o.pps;
    } catch {
      /* not JSON */
    }
    return null;
  }
  const m = /([0-9][0-9,_]*(?:\.[0-9]+)?)\s*(M|k|K)?\s*(pps|rx\/s|packets\/s|frames\/s|pkt\/s)\b/.exec(s);
  if (!m) return null;
  const v = Number(m[1].replace(/[,_]/g, ''));
  if (!Number.isFinite(v)) return null;
  return m[2] === 'M' ? v * 1e6 : m[2] ? v * 1e3 : v;
}

/**
 * The steady rate inside [from, to] from per-second points: the median of the points whose whole
 * interval (the second before each point) lies inside the window. null if none does.
 */
export function windowRate(points: readonly RatePoint[], from: number, to: number, slack = 0.25): number | null {
  const inside = points.filter((p) => p.t - 1 >= from - slack && p.t <= to + slack).map((p) => p.pps);
  return inside.length ? median(inside) : null;
}

/** The last of the lines (or of a text's lines) that parses as a JSON object, or null. */
export function lastJson<T = Record<string, unknown>>(lines: readonly string[] | string): T | null {
  const ls = typeof lines === 'string' ? lines.split('\n') : lines;
  for (let i = ls.length - 1; i >= 0; i--) {
    const s = ls[i].trim();
    if (!s.startsWith('{')) continue;
    try {
      return JSON.parse(s) as T;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

export class Proc {
  readonly lines: Line[] = [];
  readonly rates: RatePoint[] = [];
  readonly child: ChildProcess;
  exitCode: number | null = null;
  exitSignal: string | null = null;
  private readonly exited: Promise<void>;
  private waiters: { re: RegExp; resolve: (l: Line) => void }[] = [];

  constructor(
    readonly label: string,
    ns: string | null,
    cpu: number | null,
    argv: readonly string[],
    private readonly onRate?: (pps: number) => void,
  ) {
    this.child = spawnInNs(ns, pinned(cpu, argv), { env: { ...process.env, FORCE_COLOR: '0' } });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, sig) => {
        this.exitCode = code;
        this.exitSignal = sig;
        resolve();
      });
      this.child.on('error', (e) => {
        this.lines.push({ t: now(), stream: 'err', text: `spawn failed: ${e.message}` });
        this.exitCode = 127;
        resolve();
      });
    });
    this.collect(this.child.stdout, 'out');
    this.collect(this.child.stderr, 'err');
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private collect(s: NodeJS.ReadableStream | null, stream: 'out' | 'err'): void {
    if (!s) return;
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const l = { t: now(), stream, text };
        this.lines.push(l);
        const pps = parseRateLine(text);
        if (pps !== null) {
          this.rates.push({ t: l.t, pps });
          this.onRate?.(pps);
        }
        this.waiters = this.waiters.filter((w) => {
          if (!w.re.test(text)) return true;
          w.resolve(l);
          return false;
        });
      }
    });
  }

  running(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** Resolves with the first line matching re (also one already seen); rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs: number): Promise<Line> {
    const seen = this.lines.find((l) => re.test(l.text));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { re, resolve: (l: Line) => { clearTimeout(timer); resolve(l); } };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.label}: no '${re.source}' within ${timeoutMs} ms${this.tail()}`));
      }, timeoutMs);
      this.waiters.push(w);
      void this.exited.then(() => {
        setTimeout(() => {
          if (this.waiters.includes(w)) {
            this.waiters = this.waiters.filter((x) => x !== w);
            clearTimeout(timer);
            reject(new Error(`${this.label} exited (${this.exitCode ?? this.exitSignal}) before '${re.source}'${this.tail()}`));
          }
        }, 50);
      });
    });
  }

  /** Waits for exit (up to timeoutMs, then SIGKILL by PID). */
  async wait(timeoutMs: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.kill('SIGKILL');
      await this.exited;
    }
    return this.exitCode;
  }

  /** SIGINT (tools print their summary on it), then SIGKILL after graceMs. */
  async stop(graceMs = 3000): Promise<number | null> {
    if (!this.running()) return this.exitCode;
    this.kill('SIGINT');
    return this.wait(graceMs);
  }

  kill(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid !== undefined && this.running()) {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  }

  /** The last JSON object printed on stdout (tools' end-of-run summary). */
  lastJson<T = Record<string, unknown>>(): T | null {
    return lastJson<T>(this.lines.filter((l) => l.stream === 'out').map((l) => l.text));
  }

  tail(n = 4): string {
    const t = this.lines.filter((l) => l.stream === 'err').slice(-n).map((l) => l.text.trim()).filter(Boolean);
    return t.length ? `: ${t.join(' | ')}` : '';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
