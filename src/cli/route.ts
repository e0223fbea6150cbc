// `softnet route add|del|show ...`: iproute2 route syntax, sent to a running stack.
import { controlPath, controlRequest } from '../stack/control-socket.ts';
import { UsageError } from './args.ts';

export const usage = `usage: softnet route [--name NAME | --control PATH] add|del|show [ROUTE]

Change or list a running stack's routes, in iproute2 syntax:
  softnet route --name r1 add 10.3.0.0/16 via 10.2.0.2
  softnet route --name r1 add default via 10.1.0.254 dev p0 metric 10
  softnet route --name r1 add blackhole 192.0.2.0/24
  softnet route --name r1 del 10.3.0.0/16
  softnet route --name r1 show

options (before the route words):
  --name NAME     stack name (control socket /run/softnet/NAME.sock)
  --control PATH  control socket path
`;

/** Split leading --name/--control options from the words that follow (which may start with '-'). */
export function leadingOptions(argv: string[], cmd: string): { path: string; words: string[] } {
  let name: string | undefined;
  let control: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (flag !== '--name' && flag !== '--control') break;
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
    if (flag === '--name') name = v;
    else control = v;
  }
  const words = argv.slice(i);
  if (words.length === 0) throw new UsageError(`nothing to do: give ${cmd} words after the options`);
  return { path: controlPath({ name, control }), words };
}

export async function run(argv: string[]): Promise<number> {
  const { path, words } = leadingOptions(argv, 'route');
  const r = (await controlRequest(path, 'route', { cmd: words.join(' ') })) as { output?: string } | null;
  if (r?.output) process.stdout.write(r.output.endsWith('\n') ? r.output : r.output + '\n');
  return 0;
}
