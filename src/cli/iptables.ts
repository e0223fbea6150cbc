// `softnet iptables -A|-I|-D|-L|-P|-F|-N ...`: iptables syntax, sent to a running stack.
import { controlRequest } from '../stack/control-socket.ts';
import { leadingOptions } from './route.ts';

export const usage = `usage: softnet iptables [--name NAME | --control PATH] IPTABLES-ARGUMENTS

Change or list a running stack's netfilter rules with iptables syntax:
  softnet iptables --name r1 -A FORWARD -p udp --dport 53 -j DROP
  softnet iptables --name r1 -I INPUT 1 -s 10.0.0.0/8 -j ACCEPT
  softnet iptables --name r1 -P FORWARD DROP
  softnet iptables --name r1 -L -v -n

options (before the iptables arguments):
  --name NAME     stack name (control socket /run/softnet/NAME.sock)
  --control PATH  control socket path
`;

export async function run(argv: string[]): Promise<number> {
  const { path, words } = leadingOptions(argv, 'iptables');
  const r = (await controlRequest(path, 'iptables', { line: words.join(' ') })) as { output?: string } | null;
  if (r?.output) process.stdout.write(r.output.endsWith('\n') ? r.output : r.output + '\n');
  return 0;
}
