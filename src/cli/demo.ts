// `softnet demo`: the README's first command. Builds a lab (host A — softnet router — host B in
// network namespaces), runs a router stack in this process on an embedded config, sends ping and
// UDP through it from the kernel hosts, serves HTTP from softnet's own TCP to curl on host A,
// prints live per-stage rates, then a summary (with ss and the Tcp MIB), and removes everything
// again — also on Ctrl-C or failure.
import type { ChildProcess } from 'node:child_process';
import { parseConfig } from '../config/load.ts';
import type { RuntimeRow } from '../core/graph.ts';
import { Stack } from '../stack/stack.ts';
import { labDown, labUp, nsExec, spawnInNs, type Lab } from '../tools/lab.ts';
import { pacedUdpArgv } from '../tools/udp-sender.ts';
import { describeFlags, parseArgs, UsageError } from './args.ts';
import { filterSockets, formatSs } from './ss.ts';
import { formatMib, formatRuntime } from './stat.ts';

const spec = {
  name: { type: 'string', default: 'demo', metavar: 'NAME', help: 'lab and stack name (1-6 of a-z0-9)' },
  seconds: { type: 'number', min: 1, max: 600, default: 5, metavar: 'S', help: 'how long traffic runs' },
  mode: { type: 'enum', values: ['auto', 'xdp-drv', 'xdp-skb', 'tap'], default: 'xdp-drv', help: 'port mode (tap: the lab veths are replaced by TAPs)' },
  rate: { type: 'int', min: 1, max: 200000, default: 2000, metavar: 'PPS', help: 'UDP packets per second from A to B' },
  quiet: { type: 'bool', help: 'no live table, only the summary' },
} as const;

export const usage = `usage: softnet demo [--seconds S] [--mode MODE] [--rate PPS] [--name NAME]

Make a lab, route between two kernel hosts with softnet, and show what every stage costs:

   ns sn-NAME-a                      this process                     ns sn-NAME-b
   host A 10.1.0.2 --veth-- p0 10.1.0.1 [softnet] 10.2.0.1 p1 --veth-- host B 10.2.0.2

A pings B and sends UDP to B's ports 7000 (allowed) and 9 (dropped by a FORWARD rule); B pings
A; curl on A downloads from softnet's HTTP service (port 80, node:http on softnet TCP). Live
per-stage rates print every second, then a summary with softnet's sockets (ss -tan) and its Tcp
MIB (netstat -s); the lab is removed at the end, also on Ctrl-C. While it runs, try:
softnet stat --name NAME [--runtime], softnet ss --name NAME -tan, softnet route --name NAME show,
softnet dropwatch --name NAME, softnet trace --name NAME 'udp port 9', softnet top --name NAME.

options:
${describeFlags(spec)}
`;

/** The embedded config (printed by the demo so a reader can copy it into a file). */
export function demoConfig(name: string, mode: string, a0: string, b0: string): string {
  return `name: ${name}
control: /run/softnet/${name}.sock
ports:
  - {name: p0, dev: ${a0}, mode: ${mode}, addresses: [10.1.0.1/24]}
  - {name: p1, dev: ${b0}, mode: ${mode}, addresses: [10.2.0.1/24]}
routes:
  - 10.3.0.0/16 via 10.2.0.2
  - blackhole 192.0.2.0/24
netfilter:
  - -A FORWARD -p udp --dport 9 -j DROP
sysctl:
  icmp_ratelimit: 0
services:
  - {proto: tcp, port: 80, kind: http}
`;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  if (a._.length > 0) throw new UsageError(`unexpected argument '${a._[0]}'`);
  const out = process.stdout;
  const name = a.name;
  const children: ChildProcess[] = [];
  let stack: Stack | null = null;
  let lab: Lab | null = null;
  let interrupted = false;
  let wake: () => void = () => {};
  const onSig = () => {
    interrupted = true;
    wake();
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });
  try {
    out.write(`softnet demo: making lab ${name} (namespaces sn-${name}-a, sn-${name}-b)\n`);
    // Hosts keep the kernel's default offloads, as containers on veths do: softnet completes
    // their partial checksums (csum_partial_completed in the summary).
    lab = await labUp({ name, hostTxCsum: true });
    let a0 = lab.a.dev;
    let b0 = lab.b.dev;
    if (a.mode === 'tap') {
      // TAP mode: the hosts' veths give way to TAPs softnet creates and moves into the hosts.
      ({ a0, b0 } = await useTaps(lab));
    }
    const text = demoConfig(name, a.mode, a0, b0);
    out.write(`\nconfig (embedded):\n${text.replace(/^/gm, '  ')}\n`);
    stack = await Stack.fromConfig(parseConfig(text));
    await stack.start();
    if (a.mode === 'tap') await moveTaps(lab, a0, b0);
    for (const p of stack.portInfo()) out.write(`port ${p.name}: ${p.dev} ${p.mode} (${p.report.join('; ')})\n`);
    if (interrupted) return 130;

    // Warm up ARP both ways so the first second shows traffic, not resolution.
    await nsExec(lab.a.host.ns, ['ping', '-c', '1', '-W', '1', '10.2.0.2']);
    await nsExec(lab.b.host.ns, ['ping', '-c', '1', '-W', '1', '10.1.0.2']);
    const secs = a.seconds;
    const pingCount = String(Math.max(1, Math.floor(secs * 50)));
    // -W is how long ping lingers for replies after its last request; it exits as soon as all
    // have come. 1 s counted replies delayed on a loaded machine as lost.
    const pingAB = collect(spawnInNs(lab.a.host.ns, ['ping', '-q', '-i', '0.02', '-c', pingCount, '-W', '5', '10.2.0.2']), children);
    const pingBA = collect(spawnInNs(lab.b.host.ns, ['ping', '-q', '-i', '0.02', '-c', pingCount, '-W', '5', '10.1.0.2']), children);
    const udp = collect(spawnInNs(lab.a.host.ns, pacedUdpArgv({ dst: '10.2.0.2', port: 7000, rate: a.rate, seconds: secs, size: 52, alt: { port: 9, every: 10 } })), children);
    // A download paced to last the live phase, so ss shows its connection established.
    const bulk = collect(spawnInNs(lab.a.host.ns, ['curl', '-sS', '-o', '/dev/null', '--limit-rate', String(HTTP_RATE), '--max-time', String(secs + 60), '-w', '%{http_code} %{size_download} %{time_total}', `${HTTP_URL}bytes/${Math.round(secs * HTTP_RATE)}`]), children);
    stack.graph.clearRuntime();

    out.write(`\nlive, ${secs} s: each second's calls and packets per stage; ns/packet sampled, average so far\n`);
    if (!a.quiet) out.write(`${LIVE_HEAD}\n`);
    let prev = stack.graph.runtime();
    let sockets = stack.sockets();
    let during = false;
    const t0 = performance.now();
    for (let s = 1; s <= Math.ceil(secs) && !interrupted; s++) {
      await sleep(1000);
      const rows = stack.graph.runtime();
      if (!a.quiet) out.write(`${liveLines(`${((performance.now() - t0) / 1000).toFixed(0)}s`, rows, prev)}\n`);
      prev = rows;
      const now = stack.sockets();
      if (now.some((x) => x.netid === 'tcp' && x.state === 'ESTAB')) [sockets, during] = [now, true];
    }
    if (interrupted) return 130;
    const [ab, ba, sent, got] = await Promise.all([pingAB, pingBA, udp, bulk]);
    const page = await nsExec(lab.a.host.ns, ['curl', '-sS', '--max-time', '20', HTTP_URL]);

    out.write('\nsummary\n');
    out.write(`  ping A -> B: ${pingLine(ab)}\n  ping B -> A: ${pingLine(ba)}\n`);
    out.write(`  UDP A -> B: ${sent.trim() || '?'} datagrams sent (every 10th to port 9, dropped by the rule)\n`);
    const st = stack.stats();
    out.write(`  forwarded ${st.mib.Ip.ForwDatagrams}, delivered locally ${st.mib.Ip.InDelivers}, ICMP out ${st.mib.Icmp.OutMsgs}\n`);
    const cp = Object.entries(st.ports).filter(([, r]) => typeof r.csum_partial_completed === 'number' && r.csum_partial_completed > 0);
    if (cp.length) out.write(`  partial checksums completed (veth offload): ${cp.map(([k, r]) => `${k} ${r.csum_partial_completed}`).join(', ')}\n`);
    const drops = Object.entries(st.drops).filter(([, v]) => v > 0);
    out.write(`  drops: ${drops.map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}\n`);
    out.write(`  HTTP from softnet (services: tcp 80 http) to curl on host A:\n`);
    out.write(`    curl ${HTTP_URL} -> ${page.code === 0 ? JSON.stringify(page.stdout.trim()) : `failed: ${(page.stderr || page.stdout).trim()}`}\n`);
    out.write(`    curl --limit-rate ${HTTP_RATE} ${HTTP_URL}bytes/N -> ${curlLine(got)}\n`);
    const tcp = filterSockets(sockets, { tcp: true, udp: false, listening: false, all: true });
    out.write(`\nsockets (softnet ss --name ${name} -tan, ${during ? 'during the download' : 'at the start'}):\n${indent(formatSs(tcp, { netid: false, numeric: true, info: false }))}\n`);
    out.write(`\nTCP MIB (softnet stat --name ${name}, as netstat -s):\n${indent(formatMib({ Tcp: st.mib.Tcp ?? {}, TcpExt: st.mib.TcpExt ?? {} }).replace(/^\n/, ''))}\n`);
    out.write(`\nneighbours (ip neigh):\n${indent(stack.neigh())}\n`);
    out.write(`\nnetfilter (softnet iptables --name ${name} -L FORWARD -v -n):\n${indent(stack.iptables('-L FORWARD -v -n'))}\n`);
    const rt = stack.runtime();
    out.write(`\n${indent(formatRuntime(rt))}\n${indent(perCallNote(rt.rows))}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) c.kill('SIGTERM');
    let acct = null;
    if (stack !== null) acct = await stack.stop().catch(() => null);
    const removed = await labDown(name).catch(() => []);
    out.write(
      `\ncleaned up: stack stopped${acct ? (acct.lost === 0 ? ' (all frames accounted for)' : ` (${acct.lost} frames unaccounted for)`) : ''}, ` +
        `removed ${removed.length ? removed.join(', ') : 'nothing'}\n`,
    );
  }
}

async function useTaps(lab: Lab): Promise<{ a0: string; b0: string }> {
  // Delete the veth pairs; the TAPs softnet creates take the host ends' names and addresses.
  await nsExec(null, ['ip', 'link', 'del', lab.a.dev]);
  await nsExec(null, ['ip', 'link', 'del', lab.b.dev]);
  return { a0: lab.a.dev, b0: lab.b.dev };
}

/** Move the TAPs (created by the stack in this namespace) into the host namespaces and configure them. */
async function moveTaps(lab: Lab, a0: string, b0: string): Promise<void> {
  const sides = [
    { tap: a0, h: lab.a.host, net: '10.1.0' },
    { tap: b0, h: lab.b.host, net: '10.2.0' },
  ];
  for (const s of sides) {
    const run = async (ns: string | null, ...argv: string[]) => nsExec(ns, argv, { check: true });
    await run(null, 'ip', 'link', 'set', s.tap, 'netns', s.h.ns);
    await run(s.h.ns, 'ip', 'link', 'set', s.tap, 'name', s.h.dev);
    await run(s.h.ns, 'ip', 'addr', 'add', `${s.net}.2/24`, 'dev', s.h.dev);
    await run(s.h.ns, 'ip', 'link', 'set', s.h.dev, 'up');
    await run(s.h.ns, 'ip', 'route', 'replace', 'default', 'via', `${s.net}.1`);
  }
}

function collect(p: ChildProcess, list: ChildProcess[]): Promise<string> {
  list.push(p);
  let s = '';
  p.stdout?.on('data', (d) => (s += d));
  p.stderr?.on('data', (d) => (s += d));
  return new Promise((res) => {
    p.on('exit', () => res(s));
    p.on('error', (e) => res(`${s}\n${e.message}`));
  });
}

const HTTP_URL = 'http://10.1.0.1/';
/** Bytes/s of the paced download. */
const HTTP_RATE = 1_000_000;

/** curl -w '%{http_code} %{size_download} %{time_total}' as a line (or what curl said). */
function curlLine(out: string): string {
  const m = /(\d{3}) (\d+) ([\d.]+)\s*$/.exec(out);
  if (!m) return `failed: ${out.trim().split('\n').pop() ?? '?'}`;
  return `HTTP ${m[1]}, ${m[2]} bytes in ${Number(m[3]).toFixed(2)} s`;
}

function pingLine(out: string): string {
  const m = /(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss/.exec(out);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(out);
  if (!m) return out.trim().split('\n').pop() ?? '?';
  return `${m[2]}/${m[1]} replies, ${m[3]}% loss${rtt ? `, rtt avg ${rtt[2]} ms` : ''}`;
}

const LIVE_HEAD = `${'t'.padStart(5)}  ${'stage'.padEnd(18)}${'calls/s'.padStart(9)}${'packets/s'.padStart(11)}${'packets/call'.padStart(14)}${'ns/packet'.padStart(11)}`;

/**
 * One second of VPP `show runtime` (calls, packets, packets/call, ns/packet) for the stages
 * that saw packets. packets/call stands beside ns/packet because ns/packet is a call's time
 * shared by its packets: 2000 ns at 2 packets/call is mostly per-call overhead.
 */
function liveLines(t: string, rows: RuntimeRow[], prev: RuntimeRow[]): string {
  const lines: string[] = [];
  rows.forEach((r, i) => {
    const packets = r.packets - (prev[i]?.packets ?? 0);
    const calls = r.calls - (prev[i]?.calls ?? 0);
    if (packets <= 0 || calls <= 0) return;
    const when = lines.length === 0 ? t : '';
    lines.push(
      `${when.padStart(5)}  ${r.name.padEnd(18)}${fmtRate(calls).padStart(9)}${fmtRate(packets).padStart(11)}` +
        `${(packets / calls).toFixed(1).padStart(14)}${r.nsPerPacket.toFixed(0).padStart(11)}`,
    );
  });
  return lines.join('\n') || `${t.padStart(5)}  (idle)`;
}

/** What the ns/packet column means at the demo's rate (the summary's last lines). */
function perCallNote(rows: RuntimeRow[]): string {
  const eth = rows.find((r) => r.name === 'eth-input');
  const ppc = eth && eth.calls > 0 ? eth.packets / eth.calls : 0;
  return (
    `ns/packet is the time of a call divided by its packets. At this demo's low rate a call carries\n` +
    `${ppc.toFixed(1)} packets (eth-input), so the fixed cost of each call dominates; under load a call carries\n` +
    `up to the NAPI weight (64) and ns/packet approaches the per-packet cost (softnet bench measures it).`
  );
}

function fmtRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n));
}

function indent(s: string): string {
  return s.replace(/\n$/, '').replace(/^(?=.)/gm, '  ');
}
