// Kernel hosts in namespaces as test peers: traffic they send (a paced UDP flood through an
// ordinary socket, raw frames from a packet socket), what they see (tcpdump), and ping's summary.
// Asynchronous: softnet keeps running on this process's event loop meanwhile.
import { spawn } from 'node:child_process';
import { nsExec, spawnInNs } from '../../src/tools/lab.ts';
import { waitFor } from './wait.ts';

/**
 * Send `count` UDP datagrams from inside `ns` through an ordinary kernel socket, paced so a
 * receiver on a shared 2-core machine can keep up.
 */
export function udpBlast(ns: string, dstIp: string, dport: number, count: number, payload = 18): Promise<void> {
  const py = [
    'import socket, sys, time',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    `d = (${JSON.stringify(dstIp)}, ${dport}); p = b"x" * ${payload}`,
    `for i in range(${count}):`,
    '    while True:',
    '        try:',
    '            s.sendto(p, d); break',
    '        except BlockingIOError: time.sleep(0.001)',
    '        except OSError: time.sleep(0.001)',
    '    if i % 128 == 127: time.sleep(0.0004)',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', py], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => c.kill(), 120_000);
    c.on('error', reject);
    c.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`udpBlast exited ${code}: ${err}`));
    });
  });
}

const INJECT_PY = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
n = 0
for h in sys.stdin.read().split():
    s.send(bytes.fromhex(h))
    n += 1
print(n)
`;

/** Send raw Ethernet frames out of `dev` in namespace `ns` (a packet socket, as root). */
export async function inject(ns: string, dev: string, frames: Uint8Array[]): Promise<number> {
  const input = frames.map((f) => Buffer.from(f).toString('hex')).join('\n') + '\n';
  const r = await nsExec(ns, ['python3', '-c', INJECT_PY, dev], { input, check: true });
  return Number(r.stdout.trim());
}

/** Parse `ping` summary: transmitted, received, loss %. */
export function pingSummary(out: string): { tx: number; rx: number; loss: number } {
  const m = /(\d+) packets transmitted, (\d+) received.*?([\d.]+)% packet loss/.exec(out);
  if (!m) return { tx: 0, rx: 0, loss: 100 };
  return { tx: Number(m[1]), rx: Number(m[2]), loss: Number(m[3]) };
}

/** Start tcpdump in ns and wait until it is listening; `out()` is what it printed so far. */
export async function tcpdump(ns: string, args: string[]): Promise<{ out: () => string; done: Promise<void>; exited: () => boolean; stop: () => void }> {
  const p = spawnInNs(ns, ['tcpdump', '-l', ...args]);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  const done = new Promise<void>((r) => p.on('exit', () => r()));
  const stop = () => void (p.exitCode === null && p.signalCode === null && p.kill('SIGTERM'));
  try {
    await waitFor('tcpdump to listen', () => /listening on/.test(err) || p.exitCode !== null);
  } catch (e) {
    stop();
    throw e;
  }
  if (p.exitCode !== null) throw new Error(`tcpdump ${args.join(' ')} exited: ${err.trim()}`);
  // exited(): tcpdump -c N stops by itself once it has seen N packets: a condition to wait for.
  return { out: () => out, done, exited: () => p.exitCode !== null || p.signalCode !== null, stop };
}
