// `softnet dropwatch`: where a running stack loses packets, live. Every interval it asks the
// stack for every counter of a lost packet (stack/drops.ts: graph drop reasons with their stage,
// netfilter DROP/REJECT rules, driver ring counters, softnet_stat dropped) and prints the ones that
// grew, fastest first, with their rate: the kernel's dropwatch, with the counter's name.
import { controlPath } from '../stack/control-socket.ts';
import { dropRates, type DropRate, type DropSnapshot } from '../stack/drops.ts';
import { describeFlags, parseArgs, UsageError } from './args.ts';
import { clock, fmtRate, liveFlags, show, table, watchControl } from './live.ts';

const spec = {
  ...liveFlags,
  json: { type: 'bool', help: 'one JSON object per sample: {time, interval, drops: [{stage, counter, detail, rate, delta, total}]}' },
} as const;

export const usage = `usage: softnet dropwatch [--name NAME | --control PATH] [--interval S] [--count N] [--json]

Live drops of a running stack: every interval, each counter of a lost packet that grew, the
fastest first, with the stage that dropped (kernel names: ip-rcv, udp-rcv, driver...), the
counter (udp.RcvbufErrors, ip.InHdrErrors, netfilter.drop with its rule, xsk.rx_ring_full...),
drops/s and the total. Redrawn in place on a terminal; one line per counter otherwise.

options:
${describeFlags(spec)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  if (a._.length > 0) throw new UsageError(`unexpected argument '${a._[0]}'`);
  const path = controlPath({ name: a.name, control: a.control });
  const who = a.name ?? path;
  const out = process.stdout;
  await watchControl<DropSnapshot>(
    path,
    'drops',
    a.interval,
    a.count,
    (prev, cur) => {
      const dt = (cur.t - prev.t) / 1000;
      const rates = dropRates(prev, cur);
      const now = new Date();
      if (a.json) {
        const drops = rates.map((r) => ({ stage: r.stage, counter: r.counter, detail: r.detail, rate: r.rate, delta: r.delta, total: r.value }));
        out.write(JSON.stringify({ time: now.toISOString(), interval: dt, drops }) + '\n');
        return;
      }
      show(
        out,
        () => `softnet dropwatch ${who}, every ${a.interval} s (Ctrl-C stops)   ${clock(now)}\n\n` + formatScreen(rates),
        () => formatLines(clock(now), rates),
      );
    },
    () => {
      if (!a.json && out.isTTY) out.write(`softnet dropwatch ${who}: waiting ${a.interval} s for the first sample (Ctrl-C stops)\n`);
    },
  );
  return 0;
}

const HEAD = ['stage', 'counter', 'drops/s', 'total', 'detail'];

function cells(r: DropRate): string[] {
  return [r.stage, r.counter, fmtRate(r.rate), String(r.value), r.detail];
}

/** The terminal screen: a table of the counters that grew. */
export function formatScreen(rates: DropRate[]): string {
  if (rates.length === 0) return '  no drops\n';
  return table([HEAD, ...rates.map(cells)], 2).map((l) => '  ' + l).join('\n') + '\n';
}

/** Plain lines: the time, then one line per counter that grew (or "no drops"). */
export function formatLines(t: string, rates: DropRate[]): string {
  if (rates.length === 0) return `${t}  no drops\n`;
  return table(rates.map(cells), 2).map((l) => `${t}  ${l}`).join('\n') + '\n';
}
