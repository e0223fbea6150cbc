/**
 * Live progress on stderr: a bar over all measurements, the current one's label, elapsed time and
 * the latest per-second rate. On a terminal the line redraws in place at least once a second, so
 * it is never still; to a log or a pipe (not a TTY) only what lasts is written: one line per
 * measurement when it ends, with its result, and the suite's messages (a redraw per second made
 * a full run's log thousands of lines).
 */
import { round } from './stats.ts';

export interface ProgressSink {
  write(s: string): unknown;
  isTTY?: boolean;
}

export class Progress {
  private total = 0;
  private done = 0;
  private label = '';
  private t0 = 0;
  private pps: number | null = null;
  private note = '';
  private timer: NodeJS.Timeout | null = null;
  private readonly tty: boolean;
  private lastWrite = 0;

  constructor(
    private readonly out: ProgressSink = process.stderr,
    private readonly intervalMs = 1000,
  ) {
    this.tty = !!out.isTTY;
  }

  setTotal(n: number): void {
    this.total = n;
    this.done = 0;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.tty) this.out.write('\r\x1b[K');
  }

  /** A measurement starts (`_seconds`: its measuring time, for a future ETA). */
  begin(label: string, _seconds: number): void {
    this.label = label;
    this.t0 = Date.now();
    this.pps = null;
    this.note = '';
    this.tick();
  }

  /** A live figure (packets/s) from the running measurement. */
  rate(pps: number, note = ''): void {
    this.pps = pps;
    this.note = note;
    // a terminal redraws in place: show it now; a log gets it with the next tick
    if (this.tty && Date.now() - this.lastWrite >= this.intervalMs / 2) this.tick();
  }

  end(label: string, result: string): void {
    this.done++;
    this.line(`${bar(this.done, this.total)} ${label}: ${result}`, true);
    this.label = '';
  }

  log(msg: string): void {
    this.line(msg, true);
  }

  /** The current status line (exposed for tests). */
  status(): string {
    const el = this.label ? (Date.now() - this.t0) / 1000 : 0;
    const rate = this.pps === null || (this.pps === 0 && this.note) ? '' : ` · ${fmtRate(this.pps)}`;
    const note = this.note ? ` · ${this.note}` : '';
    const what = this.label ? ` ${this.label} ${el.toFixed(0)} s${rate}${note}` : ' waiting';
    return `${bar(this.done, this.total)}${what}`;
  }

  /** Redraw the status line: a terminal only (a log gets the step's line when it ends). */
  private tick(): void {
    if (this.tty) this.line(this.status(), false);
  }

  private line(s: string, permanent: boolean): void {
    this.lastWrite = Date.now();
    if (this.tty) this.out.write(`\r\x1b[K${s}${permanent ? '\n' : ''}`);
    else this.out.write(`${s}\n`);
  }
}

export function bar(done: number, total: number, width = 20): string {
  const f = total > 0 ? Math.min(1, done / total) : 0;
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'-'.repeat(width - n)}] ${String(done).padStart(String(total).length)}/${total}`;
}

export function fmtRate(pps: number): string {
  if (pps >= 1e6) return `${round(pps / 1e6, 2)} Mpps`;
  if (pps >= 1e3) return `${round(pps / 1e3, 1)} kpps`;
  return `${round(pps, 0)} pps`;
}
