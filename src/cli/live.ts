// Live views (dropwatch, top): a screen redrawn in place on a terminal, plain appended lines
// otherwise (a log, a pipe, a test), and a sampling loop that stops on Ctrl-C or after N samples.
import { controlRequest } from '../stack/control-socket.ts';

/** The flags every live view takes (each adds its own --json help). */
export const liveFlags = {
  name: { type: 'string', metavar: 'NAME', help: 'stack name (control socket /run/softnet/NAME.sock)' },
  control: { type: 'string', metavar: 'PATH', help: 'control socket path (instead of --name)' },
  interval: { type: 'number', min: 0.05, max: 3600, default: 1, metavar: 'S', help: 'seconds between samples' },
  count: { type: 'int', min: 0, default: 0, metavar: 'N', help: 'stop after N samples (0: until Ctrl-C)' },
} as const;

/** Write one sample: on a TTY clear the screen and draw `screen`; else append `lines`. */
export function show(out: NodeJS.WriteStream, screen: () => string, lines: () => string): void {
  if (out.isTTY) out.write('\x1b[H\x1b[2J' + screen());
  else out.write(lines());
}

/**
 * Call `sample` every `intervalS` seconds until it was called `count` times (0 = forever) or
 * SIGINT/SIGTERM; one sample is taken at once as the baseline (`first`).
 */
export async function every(intervalS: number, count: number, first: () => Promise<void>, sample: () => Promise<void>): Promise<void> {
  let stop = false;
  let wake: (() => void) | null = null;
  const onSig = () => {
    stop = true;
    wake?.();
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    await first();
    for (let k = 0; !stop && (count === 0 || k < count); k++) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, intervalS * 1000);
      });
      wake = null;
      if (stop) break;
      await sample();
    }
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

/**
 * The control request `req` of the stack at `path` as a baseline, then every `intervalS` seconds
 * (`count` times, 0 = until Ctrl-C) again, handed to `sample` with the one before; `waiting` runs
 * after the baseline.
 */
export async function watchControl<S>(
  path: string,
  req: string,
  intervalS: number,
  count: number,
  sample: (prev: S, cur: S) => void,
  waiting?: () => void,
): Promise<void> {
  let prev: S | null = null;
  const take = async () => (await controlRequest(path, req)) as S;
  await every(
    intervalS,
    count,
    async () => {
      prev = await take();
      waiting?.();
    },
    async () => {
      const cur = await take();
      sample(prev!, cur);
      prev = cur;
    },
  );
}

/** A rate as people read it: 1.52M, 12.3k, 87, 0.5. */
export function fmtRate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n >= 10 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
}

/** Left-aligned first column(s), right-aligned numbers; `left` says how many columns are text. */
export function table(rows: string[][], left: number): string[] {
  const w: number[] = [];
  for (const r of rows) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 && i >= left ? c : i < left ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd());
}

/** HH:MM:SS of the wall clock. */
export function clock(d = new Date()): string {
  return d.toTimeString().slice(0, 8);
}
