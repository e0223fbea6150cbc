// `softnet trace FILTER`: follow a running stack's packets that match a tcpdump expression, stage
// by stage (pwru for softnet): per packet a header line, then one line per stage it crossed with
// what that stage decided, what it rewrote and the counters that moved, ending where the packet
// did (transmitted, delivered to a socket, held, or dropped with the reason).
import { controlPath, controlRequest } from '../stack/control-socket.ts';
import { formatTrace, type TraceRecord } from '../stack/trace.ts';
import { compileFilter, FilterError } from '../wire/filter.ts';
import { describeFlags, parseArgs, UsageError } from './args.ts';

const spec = {
  name: { type: 'string', metavar: 'NAME', help: 'stack name (control socket /run/softnet/NAME.sock)' },
  control: { type: 'string', metavar: 'PATH', help: 'control socket path (instead of --name)' },
  count: { type: 'int', min: 1, metavar: 'N', help: 'stop after N packets (default: until Ctrl-C)' },
  json: { type: 'bool', help: 'one JSON object per packet: {seq, time, dev, summary, steps: [{t, us, stage, verdict, rewrites, counters, rules}], end}' },
} as const;

export const usage = `usage: softnet trace [--name NAME | --control PATH] [--count N] [--json] FILTER...

Trace the packets a running stack receives that match FILTER (a tcpdump expression:
'udp port 53 and host 10.1.0.2', icmp, 'tcp[tcpflags] & tcp-syn != 0'): for each, the stages
it crosses, what each decided (next stage, rewrites of MACs/TTL/addresses/ports, netfilter rules
hit, counters) and where it ended: tx on a port, delivered to a socket, or dropped with the
reason. Traced packets run through the graph one by one; others are untouched.

options:
${describeFlags(spec)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  const filter = a._.join(' ');
  try {
    compileFilter(filter);
  } catch (e) {
    if (e instanceof FilterError) throw new UsageError(e.message);
    throw e;
  }
  const path = controlPath({ name: a.name, control: a.control });
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  if (!a.json) process.stderr.write(`tracing '${filter || 'all'}' on ${a.name ?? path}${a.count ? `, ${a.count} packets` : ''} (Ctrl-C stops)\n`);
  let result: { traced: number; missed: number } | null;
  try {
    result = (await controlRequest(
      path,
      'trace',
      { filter, count: a.count },
      {
        timeoutMs: 0,
        signal: ac.signal,
        onEvent: (e) => {
          for (const r of (e as { records?: TraceRecord[] }).records ?? []) process.stdout.write(a.json ? JSON.stringify(r) + '\n' : formatTrace(r));
        },
      },
    )) as { traced: number; missed: number } | null;
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
  if (!a.json && result) process.stderr.write(`${result.traced} packets traced${result.missed ? `, ${result.missed} more matched while the trace queue was full` : ''}\n`);
  return 0;
}
