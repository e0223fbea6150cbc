import { expect } from 'vitest';
// Kernel hosts in namespaces as test peers: traffic they send (a paced UDP flood through an
// ordinary socket, raw frames from a packet socket), processes they run (listeners, floods, ping,
// tcpdump), and ping's summary. Asynchronous: softnet keeps running on this process's event loop
// meanwhile.
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


/**
 * One datagram to dst:port from a connected kernel UDP socket in ns, then a receive: 'data', or
 * 'port-unreachable' (an ICMP port unreachable made recv fail with ECONNREFUSED), 'error ERRNO'
 * for another ICMP error, 'timeout'.
 */
export async function udpProbe(ns: string, dst: string, port: number): Promise<string> {
  // 20 s is a deadline only: an ICMP error comes at once. ECONNREFUSED is errno 111 on Linux.
  const { reply } = await udpAsk(ns, dst, port, 'probe', 20);
  if (reply === 'timeout' || reply.startsWith('error ')) return reply === 'error 111' ? 'port-unreachable' : reply;
  return 'data';
}

/** Parse `ping` summary: transmitted, received, loss %. */
export function pingSummary(out: string): { tx: number; rx: number; dup: number; loss: number } {
  const m = /(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?.*?([\d.]+)% packet loss/.exec(out);
  if (!m) return { tx: 0, rx: 0, dup: 0, loss: 100 };
  return { tx: Number(m[1]), rx: Number(m[2]), dup: Number(m[3] ?? 0), loss: Number(m[4]) };
}

/**
 * `ping -c N -w D` got its N replies. With a deadline ping sends again for requests whose reply
 * was lost (kernel or veth, under load), and replies already in flight when the Nth arrives are
 * counted too: so rx may pass N, never tx, and no reply may come twice.
 */
export function expectReplies(out: string, n: number): void {
  const p = pingSummary(out);
  expect(p.rx, out).toBeGreaterThanOrEqual(n);
  expect(p.rx, out).toBeLessThanOrEqual(p.tx);
  expect(p.dup, out).toBe(0);
}

/** A process started in a namespace, its output kept; stopped by its PID. */
export interface PeerProcess {
  /** What it printed so far on stdout and on stderr. */
  out: () => string;
  err: () => string;
  running: () => boolean;
  /** Resolves once it has exited. */
  exit: Promise<void>;
  /** Signal it (default SIGTERM) unless it has exited; await `exit` to know it is gone. */
  stop: (signal?: NodeJS.Signals) => void;
}

/** Start argv in ns, keeping what it prints: a listener, a flood, a ping that runs until stopped. */
export function peerProcess(ns: string, argv: string[]): PeerProcess {
  const p = spawnInNs(ns, argv);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  const running = () => p.exitCode === null && p.signalCode === null;
  const exit = new Promise<void>((r) => p.on('exit', () => r()));
  return { out: () => out, err: () => err, running, exit, stop: (signal = 'SIGTERM') => void (running() && p.kill(signal)) };
}

/** Wait until a socket listens on `port` in ns (ss): a listener is ready by a condition, not a delay. */
export async function listening(ns: string, proto: 'udp' | 'tcp', port: number): Promise<void> {
  const flag = proto === 'udp' ? '-u' : '-t';
  await waitFor(`a socket on ${proto} ${port} in ${ns}`, async () => (await nsExec(ns, ['ss', '-Hln', flag, `sport = :${port}`])).stdout.trim() !== '');
}

/** Start tcpdump in ns and wait until it is listening. With -c N it stops by itself after N packets. */
export async function tcpdump(ns: string, args: string[]): Promise<PeerProcess> {
  const p = peerProcess(ns, ['tcpdump', '-l', ...args]);
  try {
    await waitFor('tcpdump to listen', () => /listening on/.test(p.err()) || !p.running());
  } catch (e) {
    p.stop();
    throw e;
  }
  if (!p.running()) throw new Error(`tcpdump ${args.join(' ')} exited: ${p.err().trim()}`);
  return p;
}

// argv: port [tell]. 'tell': each answer starts with 'ADDR:PORT ' of the datagram's sender.
const UDP_ECHO = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', int(sys.argv[1])))
tell = len(sys.argv) > 2
print('ready', flush=True)
while True:
    d, a = s.recvfrom(2048)
    s.sendto(('%s:%d ' % a).encode() + d if tell else d, a)
`;

/**
 * A kernel UDP echo server on `port` in ns, bound when this resolves. `tell`: each answer starts
 * with 'ADDR:PORT ' of its sender, so a test sees what a NAT made of the source.
 */
export async function udpEcho(ns: string, port: number, tell = false): Promise<PeerProcess> {
  const p = peerProcess(ns, ['python3', '-c', UDP_ECHO, String(port), ...(tell ? ['tell'] : [])]);
  await waitFor(`the UDP echo server on ${port} in ${ns}`, () => p.out().includes('ready') || !p.running());
  if (!p.running()) throw new Error(`UDP echo server in ${ns} exited: ${p.err().trim()}`);
  return p;
}

// argv: dst port text timeout. Prints the local port and the answer, 'timeout' or 'error ERRNO'.
const UDP_ASK = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[4]))
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(sys.argv[3].encode())
try:
    r = s.recv(2048).decode()
except socket.timeout:
    r = 'timeout'
except OSError as e:
    r = 'error %d' % e.errno
print(s.getsockname()[1], r)
`;

/**
 * One datagram `text` from a connected kernel UDP socket in ns to dst:port: the socket's source
 * port and the answer, or the answer 'timeout' after timeoutS seconds ('error ERRNO' after an ICMP error).
 */
export async function udpAsk(ns: string, dst: string, port: number, text: string, timeoutS = 20): Promise<{ sport: number; reply: string }> {
  const out = (await nsExec(ns, ['python3', '-c', UDP_ASK, dst, String(port), text, String(timeoutS)], { check: true })).stdout.trim();
  const sp = out.indexOf(' ');
  return { sport: Number(out.slice(0, sp)), reply: out.slice(sp + 1) };
}
