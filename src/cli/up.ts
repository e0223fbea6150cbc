// `softnet up --config FILE`: run a stack in the foreground until SIGINT/SIGTERM, then shut it
// down cleanly (ports closed, XDP programs detached, control socket removed).
import { loadConfig } from '../config/load.ts';
import { ConfigError } from '../config/schema.ts';
import { startHttp, type HttpServer } from '../stack/http.ts';
import { Stack } from '../stack/stack.ts';
import { describeFlags, parseArgs, UsageError } from './args.ts';

const spec = {
  config: { type: 'string', metavar: 'FILE', help: 'YAML config (see examples/r1.yaml)' },
  control: { type: 'string', metavar: 'PATH', help: 'control socket path (overrides the config)' },
  check: { type: 'bool', help: 'only validate the config and exit' },
  http: { type: 'string', metavar: 'ADDR:PORT', help: 'serve the live pipeline page there (e.g. 127.0.0.1:9100)' },
} as const;

export const usage = `usage: softnet up --config FILE [--control PATH] [--check] [--http ADDR:PORT]

Run a softnet stack from a YAML config in the foreground. Prints which mode each port took
(and why faster ones failed), then serves until SIGINT or SIGTERM. While it runs:
softnet stat|route|iptables|capture --name NAME talk to it over its control socket.
With --http, a web page at that address shows the receive path live (softnet top as a picture).

options:
${describeFlags(spec)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  if (a._.length > 0) throw new UsageError(`unexpected argument '${a._[0]}'`);
  if (a.config === undefined) throw new UsageError('--config FILE is required');
  let cfg;
  try {
    cfg = loadConfig(a.config);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`softnet up: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (a.control !== undefined) cfg.control = a.control;
  if (a.check) {
    process.stdout.write(`config ${a.config}: ok (stack ${cfg.name}, ${cfg.ports.length} ports)\n`);
    return 0;
  }

  // Signals first: a Ctrl-C while ports open must still tear everything down.
  let stopRequested: (sig: string) => void = () => {};
  let early: string | null = null;
  const stopped = new Promise<string>((resolve) => {
    stopRequested = resolve;
  });
  const onSig = (sig: NodeJS.Signals) => {
    early ??= sig;
    stopRequested(sig);
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  let stack: Stack | null = null;
  let http: HttpServer | null = null;
  try {
    stack = await Stack.fromConfig(cfg);
    if (early !== null) return 130;
    await stack.start();
    const out = process.stdout;
    out.write(`softnet ${cfg.name}: up, control socket ${cfg.control}\n`);
    for (const p of stack.portInfo()) {
      const d = stack.devs.get(p.name);
      const addrs = d.addrs.map((x) => `${ip(x.addr)}/${x.prefixLen}`).join(', ') || 'no address';
      out.write(`  ${p.name}: ${p.dev} queue ${p.queue} ${p.mode} mac ${p.mac} ${addrs}\n`);
      for (const r of p.report) out.write(`      ${r}\n`);
      for (const v of p.vlans) {
        const vd = stack.devs.get(v);
        out.write(`    ${v}: vlan ${vd.vlanId} ${vd.addrs.map((x) => `${ip(x.addr)}/${x.prefixLen}`).join(', ')}\n`);
      }
    }
    if (a.http !== undefined) {
      http = await startHttp(stack, a.http);
      out.write(`  live pipeline page: ${http.url}\n`);
    }
    out.write('ready (Ctrl-C to stop)\n');
    const sig = await stopped;
    out.write(`softnet ${cfg.name}: ${sig}, shutting down\n`);
    await http?.close();
    http = null;
    const acct = await stack.stop();
    stack = null;
    const st = acct.lost === 0 ? 'all frames accounted for' : `${acct.lost} frames unaccounted for`;
    out.write(`softnet ${cfg.name}: stopped (${st})\n`);
    return 0;
  } finally {
    await http?.close().catch(() => undefined);
    if (stack !== null) await stack.stop().catch(() => undefined);
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

function ip(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}
