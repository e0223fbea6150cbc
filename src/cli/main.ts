// The `softnet` command: a table of subcommands, each a lazily imported module (so `softnet
// --help` or `softnet lab` never loads the native addon) exporting `run(argv)` and `usage`.
import { UsageError } from './args.ts';

export interface Command {
  /** Full usage text, printed by `softnet CMD --help`. */
  usage: string;
  /** Runs the command; resolves to the process exit code. Throws UsageError on bad arguments. */
  run(argv: string[]): Promise<number>;
}

interface Entry {
  summary: string;
  load: () => Promise<Command>;
}

// Adding a command: one line here and a module src/cli/NAME.ts exporting `run` and `usage`.
export const commands: Record<string, Entry> = {
  drop: { summary: 'receive frames on a queue and drop them (rxdrop), printing rx/s', load: () => import('./drop.ts') },
  fwd: { summary: 'swap MACs and send each frame back out the same queue (l2fwd)', load: () => import('./fwd.ts') },
  gen: { summary: 'generate UDP frames out of a device (XDP live frames / AF_XDP TX)', load: () => import('./gen.ts') },
  bench: { summary: 'run the benchmark suite (softnet vs C and kernel baselines, same run)', load: () => import('./bench.ts') },
  lab: { summary: 'create/remove/show a lab of namespaces and veth pairs', load: () => import('./lab.ts') },
  up: { summary: 'run a stack from a YAML config in the foreground (Ctrl-C stops it)', load: () => import('./up.ts') },
  stat: { summary: "a running stack's counters: softnet_stat, ports, drops, IP MIB; --runtime per stage", load: () => import('./stat.ts') },
  ss: { summary: "a running stack's sockets, like ss (-t -u -l -a -n -i)", load: () => import('./ss.ts') },
  capture: { summary: 'capture frames of a running stack into a pcap file', load: () => import('./capture.ts') },
  route: { summary: "show/change a running stack's routes (iproute2 syntax)", load: () => import('./route.ts') },
  iptables: { summary: "show/change a running stack's netfilter rules (iptables syntax)", load: () => import('./iptables.ts') },
  'iptables-restore': { summary: "replace a running stack's netfilter tables from iptables-save text (stdin or a file)", load: () => import('./iptables-restore.ts') },
  conntrack: { summary: "list/count/flush/delete a running stack's tracked connections (conntrack -L/-S/-C/-F/-D)", load: () => import('./conntrack.ts') },
  dropwatch: { summary: "a running stack's drops live: per second by stage and counter, fastest first", load: () => import('./dropwatch.ts') },
  trace: { summary: "follow a running stack's packets matching a tcpdump filter, stage by stage, to where they end", load: () => import('./trace.ts') },
  top: { summary: "a running stack's receive path live: packets/s per edge, drops/s and ns/packet per stage, time_squeeze, rings", load: () => import('./top.ts') },
  sysctl: { summary: "read or set a running stack's sysctls (sysctl -w net.core.rmem_max=...)", load: () => import('./sysctl.ts') },
  xdp: { summary: 'compile an XDP filter module to eBPF: instructions, maps, or the refusal at file:line:col (--dump: the code)', load: () => import('./xdp.ts') },
  demo: { summary: 'make a lab, route between two kernel hosts with softnet, show per-stage costs, clean up', load: () => import('./demo.ts') },
};

function topUsage(): string {
  const w = Math.max(...Object.keys(commands).map((k) => k.length));
  const lines = Object.entries(commands).map(([k, e]) => `  ${k.padEnd(w)}  ${e.summary}`);
  return [
    'usage: softnet COMMAND [options]',
    '',
    'The Linux receive path in TypeScript on real NIC queues (AF_XDP, TAP).',
    '',
    'commands:',
    ...lines,
    '',
    "Run 'softnet COMMAND --help' for a command's options.",
  ].join('\n');
}

function isHelp(a: string): boolean {
  return a === '--help' || a === '-h' || a === 'help';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || isHelp(name)) {
    if (name === 'help' && rest[0] !== undefined) return main([rest[0], '--help']);
    (name === undefined ? process.stderr : process.stdout).write(topUsage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write('softnet 0.1.0\n');
    return 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (entry === undefined) {
    process.stderr.write(`softnet: unknown command '${name}'. Commands: ${Object.keys(commands).join(', ')}.\n`);
    return 2;
  }
  let cmd: Command;
  try {
    cmd = await entry.load();
  } catch (e) {
    process.stderr.write(`softnet ${name}: failed to load: ${errText(e)}\n`);
    return 1;
  }
  if (rest.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(cmd.usage.trimEnd() + '\n');
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`softnet ${name}: ${e.message}\nTry 'softnet ${name} --help'.\n`);
      return 2;
    }
    process.stderr.write(`softnet ${name}: ${errText(e)}\n`);
    return 1;
  }
}

/** An error as a person should read it: message, plus the hint of a DriverError. */
export function errText(e: unknown): string {
  if (e instanceof Error) {
    const hint = (e as { hint?: unknown }).hint;
    return typeof hint === 'string' && hint && !e.message.includes(hint) ? `${e.message}\n  hint: ${hint}` : e.message;
  }
  return String(e);
}
