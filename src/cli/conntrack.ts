// `softnet conntrack -L|-S|-C|-F|-D ...`: conntrack-tools syntax and output, sent to a running stack.
import { controlRequest } from '../stack/control-socket.ts';
import { leadingOptions } from './route.ts';

export const usage = `usage: softnet conntrack [--name NAME | --control PATH] COMMAND [FILTERS]

A running stack's connection tracking table, as conntrack(8) shows it:
  softnet conntrack --name r1 -L                      list every entry
  softnet conntrack --name r1 -L -p tcp --dport 80    filtered
  softnet conntrack --name r1 -S                      statistics (found, invalid, insert, drop, early_drop...)
  softnet conntrack --name r1 -C                      how many entries
  softnet conntrack --name r1 -D -s 10.1.0.2          delete what matches
  softnet conntrack --name r1 -F                      flush the table

filters: -p PROTO, -s/--orig-src, -d/--orig-dst, -r/--reply-src, -q/--reply-dst, --sport, --dport
(with -p tcp|udp), --state TCP_STATE (with -p tcp), -m/--mark, -u/--status ASSURED,SEEN_REPLY.
Tuning: softnet's sysctl net.netfilter.nf_conntrack_max, nf_conntrack_tcp_timeout_*, ...

options (before the conntrack arguments):
  --name NAME     stack name (control socket /run/softnet/NAME.sock)
  --control PATH  control socket path
`;

export async function run(argv: string[]): Promise<number> {
  const { path, words } = leadingOptions(argv, 'conntrack');
  const r = (await controlRequest(path, 'conntrack', { words })) as { output?: string; summary?: string } | null;
  if (r?.output) process.stdout.write(r.output);
  if (r?.summary) process.stderr.write(r.summary + '\n');
  return 0;
}
