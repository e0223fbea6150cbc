// `softnet top`: a running stack's receive path, live: driver -> poll -> ptype -> ip_rcv ->
// forward | local -> socket -> app with packets/s into each box, drops/s and ns/packet per stage,
// time_squeeze, and how full the rings and the UMEM are. Redrawn in place on a terminal; plain
// lines (one per busy stage) otherwise; --json: the computed view per sample.
import { controlPath } from '../stack/control-socket.ts';
import { pipelineRates, type PipelineSnapshot, type PipelineView } from '../stack/pipeline.ts';
import { describeFlags, parseArgs, UsageError } from './args.ts';
import { clock, fmtRate, liveFlags, show, table, watchControl } from './live.ts';

const spec = {
  ...liveFlags,
  json: { type: 'bool', help: 'one JSON object per sample (the pipeline view: nodes, edges, ports, time_squeeze)' },
} as const;

export const usage = `usage: softnet top [--name NAME | --control PATH] [--interval S] [--count N] [--json]

The receive path of a running stack, live: driver -> poll -> ptype -> ip_rcv -> forward | local
-> socket -> app, with packets/s into each stage, drops/s and ns/packet per stage (sampled),
time_squeeze, fill/TX ring occupancy per port and free UMEM frames. Redrawn in place on a
terminal, one line per busy stage otherwise.

options:
${describeFlags(spec)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  if (a._.length > 0) throw new UsageError(`unexpected argument '${a._[0]}'`);
  const path = controlPath({ name: a.name, control: a.control });
  const who = a.name ?? path;
  const out = process.stdout;
  await watchControl<PipelineSnapshot>(path, 'top', a.interval, a.count, (prev, cur) => {
    const v = pipelineRates(prev, cur);
    const now = new Date();
    if (a.json) {
      out.write(JSON.stringify({ time: now.toISOString(), ...v }) + '\n');
      return;
    }
    show(
      out,
      () => `softnet top ${who}   ${clock(now)}   every ${a.interval} s (Ctrl-C stops)\n` + formatScreen(v),
      () => formatLines(clock(now), v),
    );
  });
  return 0;
}

/** The tree of the picture: node id and depth (children below their parent). */
const TREE: Array<[string, number]> = [
  ['driver', 0],
  ['poll', 1],
  ['xdp', 2],
  ['eth-input', 2],
  ['arp-rcv', 3],
  ['ip-rcv', 3],
  ['ip-forward', 4],
  ['ip-local-deliver', 4],
  ['icmp-rcv', 5],
  ['udp-rcv', 5],
  ['tcp-rcv', 5],
  ['app', 6],
  ['ip-local-out', 0],
  ['ip-output', 0],
  ['neigh-output', 1],
  ['dev-xmit', 2],
];

function rows(v: PipelineView): string[][] {
  const out: string[][] = [];
  for (const [id, depth] of TREE) {
    const n = v.nodes[id];
    if (n === undefined) continue;
    out.push([`${'  '.repeat(depth)}${depth > 0 ? '└ ' : ''}${n.label}`, fmtRate(n.pps), fmtRate(n.dropsPerSec), n.nsPerPacket > 0 ? n.nsPerPacket.toFixed(0) : '-']);
  }
  return out;
}

function header(v: PipelineView): string[] {
  const lines = [`time_squeeze ${fmtRate(v.squeezePerSec)}/s   UMEM frames free ${v.pool.free}/${v.pool.total}`];
  for (const p of v.ports) {
    lines.push(`${p.name} ${p.dev} ${p.mode}: rx ${fmtRate(p.rxPps)}/s  tx ${fmtRate(p.txPps)}/s  lost ${fmtRate(p.lostPerSec)}/s  fill ring ${p.fillHeld} held  tx ring ${p.txOutstanding} out`);
  }
  return lines;
}

export function formatScreen(v: PipelineView): string {
  const t = table([['stage', 'packets/s', 'drops/s', 'ns/packet'], ...rows(v)], 1);
  return [...header(v), '', ...t].map((l) => '  ' + l).join('\n') + '\n';
}

/** Plain lines: the header lines, then the stages that saw packets or drops in the interval. */
export function formatLines(time: string, v: PipelineView): string {
  const busy = rows(v).filter((r) => r[1] !== '0' || r[2] !== '0').map((r) => [r[0].trim().replace(/^└ /, ''), `${r[1]}/s`, `drops ${r[2]}/s`, `${r[3]} ns/packet`]);
  const lines = [...header(v), ...table(busy, 1)];
  return lines.map((l) => `${time}  ${l}`).join('\n') + '\n';
}
