// `softnet gen`: one UDP frame (buildUdpFrame) sent COUNT times or for S seconds out of a device
// (generate(): XDP live frames, falling back to AF_XDP TX).
import { formatIPv4, formatMac } from '../wire/addr.ts';
import { describeFlags, parseArgs, UsageError, type Spec } from './args.ts';
import { fmt } from './drop.ts';

// Defaults match the lab: host A (10.1.0.2, MAC 02:00:0a:01:00:02) to host B (10.2.0.2) through
// the softnet side of link A (02:00:0a:01:00:01). The destination MAC defaults to broadcast, which
// every receiver accepts (no neighbour needed) and a kernel never forwards.
const spec = {
  dev: { type: 'string', metavar: 'IF', help: 'device to send out of (required)' },
  count: { type: 'int', metavar: 'N', min: 1, help: 'frames to send' },
  duration: { type: 'number', metavar: 'S', min: 0.001, help: 'seconds to send for' },
  size: { type: 'int', metavar: 'B', min: 60, max: 1514, default: 60, help: 'frame size without FCS (60 = 64 B on the wire)' },
  srcMac: { type: 'mac', metavar: 'MAC', help: "source MAC (default: the device's own)" },
  dstMac: { type: 'mac', metavar: 'MAC', default: 'ff:ff:ff:ff:ff:ff', help: 'destination MAC (broadcast: any receiver takes it)' },
  srcIp: { type: 'ipv4', metavar: 'A', default: '10.1.0.2', help: 'source IPv4' },
  dstIp: { type: 'ipv4', metavar: 'A', default: '10.2.0.2', help: 'destination IPv4' },
  sport: { type: 'int', metavar: 'P', min: 0, max: 65535, default: 1024, help: 'UDP source port' },
  dport: { type: 'int', metavar: 'P', min: 0, max: 65535, default: 9, help: 'UDP destination port (9: discard)' },
  batch: { type: 'int', metavar: 'N', min: 1, max: 256, default: 64, help: 'frames per kernel batch' },
  method: { type: 'enum', values: ['auto', 'xdp-live', 'xsk-tx'], default: 'auto', help: 'auto: XDP live frames, else AF_XDP TX' },
  json: { type: 'bool', help: 'print {packets, seconds, pps, method, ...} as JSON' },
} as const satisfies Spec;

export const usage = `usage: softnet gen --dev IF (--count N | --duration S) [--size B] [--src-mac M] [--dst-mac M]
                   [--src-ip A] [--dst-ip A] [--sport P] [--dport P] [--json]

Send one UDP/IPv4 frame N times or for S seconds out of IF, as fast as the kernel takes it:
BPF_PROG_TEST_RUN live frames on an XDP_TX program (~5 Mpps; a veth peer needs GRO on or an XDP
program, which 'softnet lab' sets up), falling back to AF_XDP TX (~0.9 Mpps). Defaults send
from the lab's host A (10.1.0.2) to host B (10.2.0.2), dst MAC broadcast: set --dst-mac to the
receiver's MAC to test unicast filtering. --count counts frames handed to the kernel; those the
device refused (a veth whose peer's ring was full) are reported as refused.

options:
${describeFlags(spec)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  if (a.dev === undefined) throw new UsageError('--dev IF is required');
  if (a._.length) throw new UsageError(`unexpected argument '${a._[0]}'`);
  if ((a.count === undefined) === (a.duration === undefined)) throw new UsageError('give exactly one of --count N or --duration S');
  const [{ buildUdpFrame }, { generate }, { native }] = await Promise.all([
    import('../wire/frame.ts'),
    import('../driver/gen.ts'),
    import('../driver/native.ts'),
  ]);
  let srcMac = a.srcMac;
  if (srcMac === undefined) {
    const { call } = await import('../driver/native.ts');
    srcMac = call(() => native().ifInfo(a.dev!), { dev: a.dev }).mac as Uint8Array;
  }
  const frame = buildUdpFrame({
    srcMac,
    dstMac: a.dstMac,
    srcIp: a.srcIp,
    dstIp: a.dstIp,
    sport: a.sport,
    dport: a.dport,
    size: a.size,
  });
  const out = a.json ? process.stderr : process.stdout;
  out.write(
    `gen: ${a.dev}: ${a.size} B UDP ${formatMac(srcMac)} ${formatIPv4(a.srcIp)}:${a.sport} -> ` +
      `${formatMac(a.dstMac)} ${formatIPv4(a.dstIp)}:${a.dport}, ${a.count !== undefined ? `${a.count} frames` : `${a.duration} s`}\n`,
  );
  const r = await generate({
    dev: a.dev,
    count: a.count,
    durationSec: a.duration,
    frame,
    batch: a.batch,
    method: a.method as 'auto',
  });
  const pps = r.seconds > 0 ? r.packets / r.seconds : 0;
  if (r.packets > 0 && r.refused === r.packets) {
    const veth = native().ifInfo(a.dev).driver === 'veth';
    process.stderr.write(`gen: warning: ${a.dev} transmitted none of the ${r.packets} frames` +
      (veth ? '; a veth takes XDP frames only when its peer has NAPI: turn GRO on there (ethtool -K PEER gro on) or attach an XDP program to it' : '') + '\n');
  }
  if (a.json) {
    process.stdout.write(JSON.stringify({ dev: a.dev, size: a.size, ...r, pps }) + '\n');
  } else {
    out.write(`gen: sent ${r.packets} frames in ${r.seconds.toFixed(3)} s (${fmt(pps)} pps) by ${r.method}` +
      (r.refused ? `, ${r.refused} of them not transmitted by ${a.dev}` : '') +
      (r.fallbackReason ? ` (xdp-live failed: ${r.fallbackReason})` : '') + '\n');
  }
  return 0;
}
