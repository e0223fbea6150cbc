// `softnet sysctl`: read or set a running stack's sysctls at runtime, as sysctl(8) does for
// /proc/sys: `softnet sysctl net.core.rmem_max`, `softnet sysctl -w net.core.rmem_max=1048576`
// (net.core.*, net.ipv4.*, net.netfilter.nf_conntrack_* that the stack keeps).
import { controlPath, controlRequest } from '../stack/control-socket.ts';
import { describeFlags, parseArgs, UsageError } from './args.ts';

const spec = {
  name: { type: 'string', metavar: 'NAME', help: 'stack name (control socket /run/softnet/NAME.sock)' },
  control: { type: 'string', metavar: 'PATH', help: 'control socket path (instead of --name)' },
  write: { type: 'bool', help: 'set: every argument is KEY=VALUE (also spelled -w)' },
} as const;

export const usage = `usage: softnet sysctl [--name NAME | --control PATH] [-w] KEY[=VALUE]...

Read (KEY) or set (-w KEY=VALUE) sysctls of a running stack, printed as sysctl(8) does
("net.core.rmem_max = 1048576"): net.core.rmem_default, net.core.rmem_max,
net.ipv4.ip_forward, net.ipv4.icmp_ratelimit, net.netfilter.nf_conntrack_max...

options:
${describeFlags(spec)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(
    argv.map((x) => (x === '-w' ? '--write' : x)),
    spec,
  );
  if (a._.length === 0) throw new UsageError('name a sysctl (KEY or -w KEY=VALUE)');
  const path = controlPath({ name: a.name, control: a.control });
  for (const arg of a._) {
    const eq = arg.indexOf('=');
    if (a.write && eq < 0) throw new UsageError(`"${arg}": -w takes KEY=VALUE`);
    const key = (eq < 0 ? arg : arg.slice(0, eq)).trim();
    const raw = eq < 0 ? undefined : arg.slice(eq + 1).trim();
    const value = raw === undefined ? undefined : /^-?\d+$/.test(raw) ? Number(raw) : raw;
    const r = (await controlRequest(path, 'sysctl', { name: key, value })) as { value: number | string };
    process.stdout.write(`${key} = ${r.value}\n`);
  }
  return 0;
}
