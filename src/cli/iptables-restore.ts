// `softnet iptables-restore [--noflush] [FILE]`: iptables-save text (stdin or FILE) loaded into a
// running stack, each table it names replaced as a whole, all or nothing.
import { readFileSync } from 'node:fs';
import { controlPath, controlRequest } from '../stack/control-socket.ts';
import { UsageError } from './args.ts';

export const usage = `usage: softnet iptables-restore [--name NAME | --control PATH] [--noflush] [FILE]

Load iptables-save text into a running stack, as iptables-restore does: each *table block
replaces that table (its rules and user chains flushed first, unless --noflush), chain policies
from the :CHAIN POLICY lines; nothing changes if a line fails (the error names it). Counters in
the text are ignored (tables start at zero).
  iptables-save > rules.v4; softnet iptables-restore --name r1 < rules.v4
  softnet iptables-restore --name r1 rules.v4

options:
  --name NAME     stack name (control socket /run/softnet/NAME.sock)
  --control PATH  control socket path
  -n, --noflush   keep what the tables have; add to them
`;

export async function run(argv: string[]): Promise<number> {
  let name: string | undefined;
  let control: string | undefined;
  let noflush = false;
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (flag === '--name' || flag === '--control') {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      if (flag === '--name') name = v;
      else control = v;
    } else if (a === '-n' || a === '--noflush') noflush = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option ${a}`);
    else if (file !== undefined) throw new UsageError(`one file at most (${file}, ${a})`);
    else file = a;
  }
  const text = readFileSync(file === undefined || file === '-' ? 0 : file, 'utf8');
  await controlRequest(controlPath({ name, control }), 'iptables-restore', { text, noflush });
  return 0;
}
