// `softnet capture`: asks a running stack to tap frames (ptype_all, like tcpdump's packet
// socket) and stream them here; writes a classic pcap file tcpdump/tshark read.
import { controlPath, controlRequest } from '../stack/control-socket.ts';
import { PcapWriter } from '../tools/pcap.ts';
import { describeFlags, parseArgs, UsageError } from './args.ts';

const spec = {
  name: { type: 'string', metavar: 'NAME', help: 'stack name (control socket /run/softnet/NAME.sock)' },
  control: { type: 'string', metavar: 'PATH', help: 'control socket path (instead of --name)' },
  dev: { type: 'string', metavar: 'PORT', help: 'capture on this port only (default: all ports)' },
  write: { type: 'string', metavar: 'FILE', help: 'pcap file to write' },
  count: { type: 'int', min: 1, metavar: 'K', help: 'stop after K frames' },
  duration: { type: 'number', min: 0.001, metavar: 'S', help: 'stop after S seconds' },
  snaplen: { type: 'int', min: 1, max: 262144, default: 65535, metavar: 'BYTES', help: 'bytes kept per frame' },
  tx: { type: 'bool', help: 'also capture transmitted frames' },
} as const;

export const usage = `usage: softnet capture --name NAME [--dev PORT] --write FILE [--count K | --duration S]

Capture frames a running stack receives (and with --tx, sends) into a pcap file
(read it with tcpdump -r FILE). Without --count or --duration, runs until Ctrl-C.

options:
${describeFlags(spec)}
`;

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, spec);
  if (a._.length > 0) throw new UsageError(`unexpected argument '${a._[0]}'`);
  if (a.write === undefined) throw new UsageError('--write FILE is required');
  const path = controlPath({ name: a.name, control: a.control });
  const w = new PcapWriter(a.write, { snaplen: a.snaplen });
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  process.stderr.write(`capturing on ${a.name ?? path}${a.dev ? ` port ${a.dev}` : ''}, writing ${a.write}\n`);
  let result: { packets: number; dropped: number } | null = null;
  try {
    result = (await controlRequest(
      path,
      'capture',
      { dev: a.dev, count: a.count, duration: a.duration, snaplen: a.snaplen, tx: a.tx },
      {
        timeoutMs: 0,
        signal: ac.signal,
        onEvent: (e) => {
          const frames = (e as { frames?: Array<[number, number, number, string]> }).frames ?? [];
          for (const [sec, usec, , b64] of frames) {
            const data = Buffer.from(b64, 'base64');
            w.write(data, 0, data.length, sec, usec);
          }
        },
      },
    )) as { packets: number; dropped: number } | null;
  } finally {
    w.close();
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
  process.stderr.write(`${w.packets} packets captured${result && result.dropped ? `, ${result.dropped} dropped (capture queue full)` : ''}\n`);
  return 0;
}
