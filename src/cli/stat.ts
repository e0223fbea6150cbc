// `softnet stat`: asks a running stack over its control socket for its counters and prints them
// the way the kernel's tools do (/proc/net/softnet_stat, ethtool -S, netstat -s, VPP show runtime).
import type { Stack, StackStats } from '../stack/stack.ts';
import { controlPath, controlRequest } from '../stack/control-socket.ts';
import { describeFlags, parseArgs, UsageError } from './args.ts';

const spec = {
  name: { type: 'string', metavar: 'NAME', help: 'stack name (control socket /run/softnet/NAME.sock)' },
  control: { type: 'string', metavar: 'PATH', help: 'control socket path (instead of --name)' },
  json: { type: 'bool', help: 'print the raw JSON' },
  runtime: { type: 'bool', help: 'print the per-stage runtime table (calls, packets, packets/call, ns/packet)' },
  clear: { type: 'bool', help: 'with --runtime: clear the runtime counters after printing' },
  all: { type: 'bool', help: 'also print counters that are zero' },
} as const;

export const usage = `usage: softnet stat [--name NAME | --control PATH] [--json] [--runtime] [--all]

Print a running stack's counters: softnet_stat per queue (processed, dropped, time_squeeze),
per-port driver counters (ethtool -S), drop reasons, and the IP/ICMP/UDP MIB (netstat -s).
With --runtime, the per-stage table instead (VPP 'show runtime').

options:
${describeFlags(spec)}
`;

/** What Stack.stats() / Stack.runtime() return (and the control socket's stat / runtime commands). */
export type StatsView = StackStats;
export type RuntimeView = ReturnType<Stack['runtime']>;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  if (a._.length > 0) throw new UsageError(`unexpected argument '${a._[0]}'`);
  const path = controlPath({ name: a.name, control: a.control });
  if (a.runtime) {
    const r = (await controlRequest(path, 'runtime', { clear: a.clear })) as RuntimeView;
    process.stdout.write(a.json ? JSON.stringify(r, null, 2) + '\n' : formatRuntime(r));
    return 0;
  }
  const s = (await controlRequest(path, 'stat')) as StatsView;
  process.stdout.write(a.json ? JSON.stringify(s, null, 2) + '\n' : formatStats(s, a.all));
  return 0;
}

function table(head: string[], rows: Array<Array<string | number>>): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmtNum(c) : c)))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  return cells.map((r) => '  ' + r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ')).join('\n') + '\n';
}

function fmtNum(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

export function formatStats(s: StatsView, all = false): string {
  let out = `stack ${s.name}, up ${s.uptimeSec.toFixed(1)} s\n\nsoftnet_stat (per queue)\n`;
  out += table(
    ['queue', 'processed', 'dropped', 'time_squeeze'],
    s.softnet.map((q) => [q.queue, q.processed, q.dropped, q.time_squeeze]),
  );
  out += '\nports (ethtool -S)\n';
  for (const [name, c] of Object.entries(s.ports)) {
    // Identity first, on the header line; then the counters (zeros only with --all).
    const id = 'parent' in c ? `vlan ${c.vlan} on ${c.parent}` : `${c.dev} queue ${c.queue} ${c.mode}`;
    // Link state as `ip link` prints it (UP, DOWN, LOWERLAYERDOWN, NOTPRESENT).
    out += `  ${name}: ${id}${c.state !== undefined ? ` state ${c.state}` : ''}\n`;
    for (const [k, v] of Object.entries(c)) {
      if (['dev', 'queue', 'mode', 'parent', 'vlan', 'state'].includes(k)) continue;
      if (all || v !== 0) out += `       ${k}: ${v}\n`;
    }
  }
  const drops = Object.entries(s.drops).filter(([, v]) => all || v !== 0);
  out += '\ndrop reasons\n' + (drops.length ? table(['reason', 'packets'], drops) : '  (none)\n');
  out += formatMib(s.mib, all);
  if (s.frames) out += '\nframes: ' + Object.entries(s.frames).map(([k, v]) => `${k} ${v}`).join(', ') + '\n';
  return out;
}

/** MIB groups as netstat -s heads them (`Tcp:`, then one counter a line; zeros only with all). */
export function formatMib(mib: StatsView['mib'], all = false): string {
  let out = '';
  for (const [group, c] of Object.entries(mib)) {
    const rows = Object.entries(c).filter(([, v]) => all || v !== 0);
    if (rows.length === 0) continue;
    out += `\n${group}:\n`;
    for (const [k, v] of rows) out += `    ${k}: ${fmtNum(v)}\n`;
  }
  return out;
}

export function formatRuntime(r: RuntimeView): string {
  const total = r.rows.reduce((t, x) => t + x.nsPerPacket * x.packets, 0);
  const rows = r.rows
    .filter((x) => x.calls > 0)
    .map((x) => [
      x.name,
      x.calls,
      x.packets,
      x.packetsPerCall.toFixed(1),
      x.nsPerPacket.toFixed(1),
      total > 0 ? ((100 * x.nsPerPacket * x.packets) / total).toFixed(1) + '%' : '-',
    ]);
  return `runtime over ${r.uptimeSec.toFixed(1)} s (ns/packet from sampled batches)\n` + table(['stage', 'calls', 'packets', 'packets/call', 'ns/packet', 'share'], rows);
}
