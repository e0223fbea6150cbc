// Issue 4 end to end: softnet routes between two kernel hosts (A 10.1.0.2 — softnet — B 10.2.0.2)
// on veths in xdp-drv mode: TTL, traceroute, PMTU discovery, UDP/TCP both ways, netfilter
// DROP/REJECT/policy with counters, ICMP errors, malformed IPv4 counted while traffic flows.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../src/stack.ts';
import { labDown, labUp, nsExec, spawnInNs, type Lab } from '../../src/tools/lab.ts';
import { eth, hasXdp, icmpEcho, inject, ipv4, namespaces, pingSummary, sleep, tcpdump, udp, waitFor } from './stack-helpers.ts';

const LAB = 't7r';
let lab: Lab;
let stack: Stack;
let A: string;
let B: string;

beforeAll(async () => {
  await labDown(LAB);
  lab = await labUp({ name: LAB });
  A = lab.a.host.ns;
  B = lab.b.host.ns;
  stack = new Stack({ name: LAB, sysctl: { icmp_ratelimit: 0 } });
  await stack.addPort({ name: 'p0', dev: lab.a.dev, mode: 'xdp-drv', addresses: ['10.1.0.1/24'] });
  await stack.addPort({ name: 'p1', dev: lab.b.dev, mode: 'xdp-drv', addresses: ['10.2.0.1/24'] });
  stack.route('add 10.3.0.0/16 via 10.2.0.2');
  await stack.start();
});

afterAll(async () => {
  try {
    if (stack) {
      const acct = await stack.stop();
      expect(acct.lost).toBe(0);
      expect(acct.free).toBe(acct.total);
      expect(await hasXdp(lab.a.dev)).toBe(false);
      expect(await hasXdp(lab.b.dev)).toBe(false);
    }
  } finally {
    await labDown(LAB);
  }
  expect(await namespaces(`sn-${LAB}-`)).toEqual([]);
});

/** Start a one-datagram UDP (or one-connection TCP) listener; resolves with what it received. */
function listen(ns: string, port: number, proto: 'udp' | 'tcp', ms = 2500): { ready: Promise<void>; got: Promise<string> } {
  const argv = proto === 'udp' ? ['nc', '-u', '-l', '-W', '1', String(port)] : ['nc', '-l', String(port)];
  const p: ChildProcess = spawnInNs(ns, argv);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  const got = new Promise<string>((res) => {
    const t = setTimeout(() => p.kill('SIGTERM'), ms);
    p.on('exit', () => {
      clearTimeout(t);
      res(out);
    });
  });
  // Ready once the socket is bound (ss), not after a guessed delay: the machine may be loaded.
  const ready = waitFor(`nc to listen on ${proto} ${port}`, async () => (await nsExec(ns, ['ss', '-Hln', proto === 'udp' ? '-u' : '-t', `sport = :${port}`])).stdout.trim() !== '');
  return { ready, got };
}

async function send(ns: string, dst: string, port: number, proto: 'udp' | 'tcp', text: string): Promise<void> {
  const argv = proto === 'udp' ? ['nc', '-u', '-w', '1', dst, String(port)] : ['nc', '-N', '-w', '2', dst, String(port)];
  await nsExec(ns, argv, { input: text + '\n', timeoutMs: 5000 });
}

/** Send one line from `from` to dst:port and return what the listener in `to` got ('' if nothing within ms). */
async function transfer(from: string, to: string, dst: string, port: number, proto: 'udp' | 'tcp', ms = 2500): Promise<string> {
  const l = listen(to, port, proto, ms);
  await l.ready;
  await send(from, dst, port, proto, `hello-${proto}-${port}`);
  return (await l.got).trim();
}

const UDP_PROBE = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.5)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b'probe')
try:
    s.recv(100); print('data')
except ConnectionRefusedError: print('port-unreachable')
except socket.timeout: print('timeout')
except OSError as e: print('error', e.errno)
`;

const UDP_FLOOD = `
import socket, sys, time
dst, rate, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
t0 = time.monotonic()
while time.monotonic() - t0 < secs:
    due = int((time.monotonic() - t0) * rate)
    while sent < due:
        try: s.sendto(b'x' * 18, (dst, 7000))
        except OSError: pass
        sent += 1
    time.sleep(0.0005)
print(sent)
`;

async function udpProbe(ns: string, dst: string, port: number): Promise<string> {
  return (await nsExec(ns, ['python3', '-c', UDP_PROBE, dst, String(port)])).stdout.trim();
}

describe('softnet forwards between two kernel hosts (xdp-drv)', () => {
  it('ping A -> B: replies, TTL decremented as B sees it', async () => {
    const dump = await tcpdump(B, ['-i', lab.b.host.dev, '-Q', 'in', '-nn', '-v', '-c', '3', 'icmp']);
    const r = await nsExec(A, ['ping', '-c', '50', '-i', '0.005', '-W', '1', '10.2.0.2']);
    await Promise.race([dump.done, sleep(3000)]);
    dump.stop();
    const seen = dump.out();
    expect(pingSummary(r.stdout)).toEqual({ tx: 50, rx: 50, loss: 0 });
    expect(r.stdout).toMatch(/ttl=63/);
    expect(seen).toMatch(/ttl 63.*\n.*10\.1\.0\.2 > 10\.2\.0\.2: ICMP echo request/);
    expect(stack.stats().mib.Ip.ForwDatagrams).toBeGreaterThanOrEqual(100);
  });

  it("traceroute from A shows softnet's hop", async () => {
    const r = await nsExec(A, ['traceroute', '-n', '-q', '1', '-w', '1', '-m', '4', '10.2.0.2'], { timeoutMs: 15_000 });
    expect(r.stdout).toMatch(/^\s*1\s+10\.1\.0\.1\s/m);
    expect(r.stdout).toMatch(/^\s*2\s+10\.2\.0\.2\s/m);
  });

  it('UDP and TCP pass in both directions', async () => {
    expect(await transfer(A, B, '10.2.0.2', 5000, 'udp')).toBe('hello-udp-5000');
    expect(await transfer(B, A, '10.1.0.2', 5000, 'udp')).toBe('hello-udp-5000');
    expect(await transfer(A, B, '10.2.0.2', 5001, 'tcp')).toBe('hello-tcp-5001');
    expect(await transfer(B, A, '10.1.0.2', 5001, 'tcp')).toBe('hello-tcp-5001');
  });

  it('a DROP rule on a UDP port blocks only that port, and its counter counts', async () => {
    stack.iptables('-A FORWARD -p udp --dport 5002 -j DROP');
    try {
      expect(await transfer(A, B, '10.2.0.2', 5002, 'udp', 1200)).toBe('');
      expect(await transfer(A, B, '10.2.0.2', 5003, 'udp')).toBe('hello-udp-5003');
      const l = stack.iptables('-L FORWARD -v -n');
      expect(l).toMatch(/^\s*1\s+\d+\s+DROP\s+udp\s+--\s+\*\s+\*\s+0\.0\.0\.0\/0\s+0\.0\.0\.0\/0\s+udp dpt:5002/m);
      expect(stack.ipv4.nf.counters('filter', 'FORWARD', 1).pkts).toBe(1);
    } finally {
      stack.iptables('-F FORWARD');
    }
  });

  it('REJECT yields ICMP port unreachable at the sender', async () => {
    stack.iptables('-A FORWARD -p udp --dport 5004 -j REJECT');
    try {
      expect(await udpProbe(A, '10.2.0.2', 5004)).toBe('port-unreachable');
      expect(stack.ipv4.nf.counters('filter', 'FORWARD', 1).pkts).toBe(1);
    } finally {
      stack.iptables('-F FORWARD');
    }
  });

  it('-P FORWARD DROP with an ACCEPT rule lets only what it names through', async () => {
    stack.iptables('-P FORWARD DROP');
    stack.iptables('-A FORWARD -p udp --dport 5005 -j ACCEPT');
    stack.iptables('-A FORWARD -p udp --sport 5005 -j ACCEPT');
    try {
      expect(await transfer(A, B, '10.2.0.2', 5005, 'udp')).toBe('hello-udp-5005');
      expect(await transfer(A, B, '10.2.0.2', 5006, 'udp', 1200)).toBe('');
      const p = await nsExec(A, ['ping', '-c', '2', '-i', '0.05', '-W', '1', '10.2.0.2']);
      expect(pingSummary(p.stdout).rx).toBe(0);
      expect(stack.ipv4.nf.counters('filter', 'FORWARD', 1).pkts).toBe(1);
      expect(stack.iptables('-L FORWARD -v -n')).toMatch(/Chain FORWARD \(policy DROP \d+ packets/);
    } finally {
      stack.iptables('-P FORWARD ACCEPT');
      stack.iptables('-F FORWARD');
    }
  });

  it('no route -> net unreachable; TTL 1 -> time exceeded', async () => {
    const nr = await nsExec(A, ['ping', '-c', '1', '-W', '1', '10.9.9.9']);
    expect(nr.stdout).toMatch(/From 10\.1\.0\.1 icmp_seq=1 Destination Net Unreachable/);
    const tx = await nsExec(A, ['ping', '-c', '1', '-W', '1', '-t', '1', '10.2.0.2']);
    expect(tx.stdout).toMatch(/From 10\.1\.0\.1 icmp_seq=1 Time to live exceeded/);
    const m = stack.stats().mib;
    expect(m.Icmp.OutDestUnreachs).toBeGreaterThanOrEqual(1);
    expect(m.Icmp.OutTimeExcds).toBeGreaterThanOrEqual(1);
  });

  it('path MTU discovery across a smaller egress MTU', async () => {
    const p1 = stack.devs.get('p1');
    p1.mtu = 1400;
    try {
      const big = await nsExec(A, ['ping', '-M', 'do', '-s', '1472', '-c', '2', '-i', '0.2', '-W', '1', '10.2.0.2']);
      expect(big.stdout + big.stderr).toMatch(/mtu ?= ?1400/);
      const route = await nsExec(A, ['ip', 'route', 'get', '10.2.0.2']);
      expect(route.stdout).toMatch(/mtu 1400/);
      const fits = await nsExec(A, ['ping', '-M', 'do', '-s', '1372', '-c', '3', '-i', '0.05', '-W', '1', '10.2.0.2']);
      expect(pingSummary(fits.stdout).loss).toBe(0);
      // DF clear: softnet fragments (FragCreates), B reassembles and answers. A must forget the
      // path MTU it learned first, or it fragments by itself.
      await nsExec(A, ['ip', 'route', 'flush', 'cache']);
      const frag = await nsExec(A, ['ping', '-M', 'dont', '-s', '1472', '-c', '3', '-i', '0.05', '-W', '1', '10.2.0.2']);
      expect(pingSummary(frag.stdout).loss).toBe(0);
      expect(stack.stats().mib.Ip.FragCreates).toBeGreaterThanOrEqual(6);
    } finally {
      p1.mtu = 1500;
      await nsExec(A, ['ip', 'route', 'flush', 'cache']);
    }
  });

  it('routes added and deleted during a flood: a deleted route forwards nothing after the call returns', async () => {
    const flood = nsExec(A, ['python3', '-c', UDP_FLOOD, '10.3.0.5', '20000', '2.5'], { timeoutMs: 10_000 });
    const fwd = () => stack.stats().mib.Ip.ForwDatagrams;
    await sleep(300);
    let cycles = 0;
    for (let k = 0; k < 8; k++) {
      stack.route('del 10.3.0.0/16');
      const frozen = fwd();
      await sleep(60);
      expect(fwd()).toBe(frozen);
      stack.route('add 10.3.0.0/16 via 10.2.0.2');
      const before = fwd();
      await sleep(60);
      expect(fwd()).toBeGreaterThan(before);
      cycles++;
    }
    expect(Number((await flood).stdout.trim())).toBeGreaterThan(10_000);
    expect(cycles).toBe(8);
    expect(stack.route('show')).toContain('10.3.0.0/16 via 10.2.0.2 dev p1');
    expect(stack.frames().lost).toBe(0);
  });

  it('malformed IPv4 from a peer: each counted under its MIB name, good traffic keeps flowing', async () => {
    const me = lab.a.mac;
    const peer = lab.a.host.mac;
    const src = '10.1.0.2';
    const dst = '10.2.0.2';
    const good = (o = {}) => ipv4({ src, dst, proto: 1, ...o }, icmpEcho(32));
    const cases = {
      version6: eth(me, peer, 0x0800, ipv4({ src, dst, proto: 1, version: 6 }, icmpEcho(32))),
      ihl4: eth(me, peer, 0x0800, good({ ihl: 4 })),
      badCsum: eth(me, peer, 0x0800, good({ badCsum: true })),
      totalTooLong: eth(me, peer, 0x0800, good({ totalLen: 400 })),
      totalBelowHeader: eth(me, peer, 0x0800, good({ totalLen: 16 })),
      headerCut: eth(me, peer, 0x0800, good().subarray(0, 12)),
      unknownProto: eth(me, peer, 0x0800, ipv4({ src, dst: '10.1.0.1', proto: 99 }, udp(1, 2, [1, 2, 3]))),
    };
    // Where Linux's ip_rcv_core / ip_local_deliver count each case.
    const expected: Record<keyof typeof cases, string[]> = {
      version6: ['InHdrErrors'],
      ihl4: ['InHdrErrors'],
      badCsum: ['InCsumErrors', 'InHdrErrors'],
      totalTooLong: ['InTruncatedPkts'],
      totalBelowHeader: ['InHdrErrors'],
      headerCut: ['InHdrErrors'],
      unknownProto: ['InUnknownProtos'],
    };
    const watched = ['InHdrErrors', 'InCsumErrors', 'InTruncatedPkts', 'InUnknownProtos'];
    const flood = nsExec(A, ['ping', '-q', '-c', '300', '-i', '0.002', '-W', '1', dst]);
    const reps = 3;
    const got: Record<string, Record<string, number>> = {};
    const want: Record<string, Record<string, number>> = {};
    for (const [name, frame] of Object.entries(cases)) {
      const before = stack.stats().mib.Ip;
      const processed = stack.stats().softnet[0].processed;
      await inject(A, lab.a.host.dev, Array(reps).fill(frame));
      await waitFor(`${name} to be processed`, () => stack.stats().softnet[0].processed >= processed + reps);
      const after = stack.stats().mib.Ip;
      got[name] = Object.fromEntries(watched.map((k) => [k, after[k] - before[k]]));
      want[name] = Object.fromEntries(watched.map((k) => [k, expected[name as keyof typeof cases].includes(k) ? reps : 0]));
    }
    const r = await flood;
    expect(pingSummary(r.stdout)).toEqual({ tx: 300, rx: 300, loss: 0 });
    expect(got).toEqual(want);
    expect(stack.frames().lost).toBe(0);
  });
});
