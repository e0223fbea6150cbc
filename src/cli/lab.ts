// `softnet lab up|down|show`: the lab of src/tools/lab.ts from the command line.
import { describeFlags, parseArgs, UsageError } from './args.ts';
import { DEFAULT_LAB, LabError, labDown, labShow, labUp, labNames, type Lab } from '../tools/lab.ts';

const spec = {
  name: { type: 'string', metavar: 'N', default: DEFAULT_LAB, help: 'lab name, 1-6 chars [a-z0-9]' },
  linuxRouter: { type: 'bool', help: 'up: put the softnet-side ends in ns sn-N-r with 10.1.0.1/10.2.0.1 and ip_forward=1 (Linux baseline)' },
  staticArp: { type: 'bool', help: 'up: permanent ARP entries for the gateway in both hosts (traffic flows with nothing answering ARP)' },
  queues: { type: 'int', metavar: 'N', min: 1, max: 64, default: 1, help: 'up: RX/TX queues per veth end' },
  json: { type: 'bool', help: 'up/show: print the lab description as JSON' },
} as const;

export const usage = `usage: softnet lab up|down|show [--name N] [options]

A reproducible lab (all names carry N; default '${DEFAULT_LAB}'):
  ns sn-N-a: snN-a1 10.1.0.2/24, default via 10.1.0.1  <-veth->  snN-a0 (root ns, no IP, IPv6 off)
  ns sn-N-b: snN-b1 10.2.0.2/24, default via 10.2.0.1  <-veth->  snN-b0 (root ns, no IP, IPv6 off)
softnet runs on snN-a0/snN-b0. GRO is on for every end (XDP_TX/redirect into veth needs it),
txqueuelen 10000. 'down' removes exactly these namespaces and links.

options:
${describeFlags(spec)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  const [verb, ...extra] = a._;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  try {
    labNames(a.name);
  } catch (e) {
    throw new UsageError(`--name: ${(e as Error).message}`);
  }
  try {
    switch (verb) {
      case 'up': {
        const lab = await labUp({ name: a.name, linuxRouter: a.linuxRouter, staticArp: a.staticArp, queues: a.queues });
        print(lab, a.json);
        return 0;
      }
      case 'down': {
        const removed = await labDown(a.name);
        if (a.json) process.stdout.write(JSON.stringify({ removed }) + '\n');
        else if (removed.length === 0) process.stdout.write(`lab '${a.name}' is not up: nothing to remove\n`);
        else process.stdout.write(`removed ${removed.join(', ')}\n`);
        return 0;
      }
      case 'show': {
        print(await labShow(a.name), a.json);
        return 0;
      }
      case undefined:
        throw new UsageError('missing action: up, down or show');
      default:
        throw new UsageError(`unknown action '${verb}' (expected up, down or show)`);
    }
  } catch (e) {
    if (e instanceof LabError && e.code !== 'CMD') {
      process.stderr.write(`softnet lab: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function print(lab: Lab, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(lab, null, 2) + '\n');
    return;
  }
  const where = lab.router ? `ns ${lab.router} (Linux router)` : 'root ns (softnet)';
  const rows = [lab.a, lab.b].map(
    (l) =>
      `  ns ${l.host.ns}: ${l.host.dev} ${l.host.ip}/24 ${l.host.mac} ifindex ${l.host.ifindex} via ${l.host.gw}\n` +
      `      <-> ${where}: ${l.dev} ${l.mac} ifindex ${l.ifindex}${lab.router ? ` ${l.ip}/24` : ''}`,
  );
  process.stdout.write(`lab '${lab.name}':\n${rows.join('\n')}\n`);
}
