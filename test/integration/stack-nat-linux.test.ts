// NAT and stateful filtering, softnet against Linux: one iptables-restore file loaded into a Linux
// router namespace (iptables-restore) and into softnet (Stack.iptablesRestore, as `softnet
// iptables-restore` does), two identical labs (same addresses and MACs), the same traffic script
// through each: NEW, ESTABLISHED and RELATED packets (a UDP exchange, ping, curl both ways
// through MASQUERADE and DNAT, a port unreachable from behind DNAT), INVALID ones (a lone ACK,
// with nf_conntrack_tcp_loose 1 and 0), unsolicited WAN->LAN packets, and UDP expiry (a short
// nf_conntrack_udp_timeout on both: a late reply after expiry is the router's own, not A's).
// tcpdump on B (WAN) and on A (LAN) records what arrived; the distinct packets (addresses, ports,
// ICMP text with its quoted header, TCP flags class) must be the same for both routers. Ports
// are fixed on A's side and both routers keep them (the original port is free), so no
// normalisation is needed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../src/stack/stack.ts';
import { labDown, labUp, nsExec, type Lab } from '../../src/tools/lab.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { TCP_ACK } from '../../src/wire/tcp.ts';
import { inject, listening, peerProcess, tcpdump, type PeerProcess } from '../support/kernel-peer.ts';
import { namespaces, run } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const RULES = `# one ruleset for both routers (no interface names: they differ)
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.2.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:8000
-A PREROUTING -d 10.2.0.1/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.1.0.2:5354
-A POSTROUTING -s 10.1.0.0/24 -d 10.2.0.0/24 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -s 10.1.0.0/24 -m conntrack --ctstate NEW -j ACCEPT
-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT
COMMIT
`;
const UDP_TIMEOUT = 2;

// B's UDP echo server on 7777: echoes each datagram; 'later' is remembered, and a datagram from
// B itself (127.0.0.1) makes it send 'late' to the remembered address: a reply of the flow sent
// when the test wants it (after the router's entry expired).
const UDP_ECHO = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 7777))
later = None
print('ready', flush=True)
while True:
    d, a = s.recvfrom(2048)
    if a[0] == '127.0.0.1':
        if later: s.sendto(b'late', later)
        continue
    if d == b'later': later = a
    s.sendto(d, a)
`;

// A's UDP client: bound to a fixed port, sends each argument, prints every datagram it receives.
const UDP_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', int(sys.argv[1])))
for m in sys.argv[3:]: s.sendto(m.encode(), (sys.argv[2], 7777))
while True:
    print(s.recv(2048).decode(), flush=True)
`;

// udpProbe of kernel-peer.ts from a fixed port (40500): the packets' ports are then the same in both runs.
const UDP_PROBE = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(20)
s.bind(('0.0.0.0', 40500))
s.connect(('10.2.0.1', 5353))
s.send(b'probe')
try:
    s.recv(100); print('data')
except ConnectionRefusedError: print('port-unreachable')
except socket.timeout: print('timeout')
`;

interface Router {
  label: string;
  lab: Lab;
  /** Set a net.netfilter sysctl on this router. */
  sysctl: (k: string, v: number) => Promise<void>;
  /** This router's conntrack table as text (conntrack -L / /proc/net/nf_conntrack). */
  table: () => Promise<string>;
}

let soft: Lab;
let linux: Lab;
let stack: Stack | null = null;
let www: string;
const procs: PeerProcess[] = [];
const keep = (p: PeerProcess) => (procs.push(p), p);

beforeAll(async () => {
  await labDown('natd');
  await labDown('natl');
  soft = await labUp({ name: 'natd' });
  linux = await labUp({ name: 'natl', linuxRouter: true });
  www = mkdtempSync(join(tmpdir(), 'sn-natl-www-'));
  writeFileSync(join(www, 'small'), 'x'.repeat(1000));
  writeFileSync(join(www, 'rules.v4'), RULES);
  await nsExec(linux.router!, ['iptables-restore', join(www, 'rules.v4')], { check: true });
  stack = new Stack({ name: 'natd', sysctl: { icmp_ratelimit: 0 } });
  await stack.addPort({ name: 'p0', dev: soft.a.dev, mode: 'xdp-drv', addresses: ['10.1.0.1/24'] });
  await stack.addPort({ name: 'p1', dev: soft.b.dev, mode: 'xdp-drv', addresses: ['10.2.0.1/24'] });
  stack.iptablesRestore(RULES);
  await stack.start();
  for (const l of [soft, linux]) {
    // B knows no way to the LAN; A and B run the servers and the echo
    run(l.b.host.ns, 'ip', 'route', 'del', 'default');
    for (const ns of [l.a.host.ns, l.b.host.ns]) {
      keep(peerProcess(ns, ['python3', '-m', 'http.server', '-b', '0.0.0.0', '-d', www, '8000']));
      await listening(ns, 'tcp', 8000);
    }
    const echo = keep(peerProcess(l.b.host.ns, ['python3', '-c', UDP_ECHO]));
    await waitFor('the UDP echo server', () => echo.out().includes('ready'));
  }
}, 60_000);

afterAll(async () => {
  for (const p of procs) p.stop();
  await Promise.all(procs.map((p) => p.exit));
  if (www) rmSync(www, { recursive: true, force: true });
  try {
    if (stack) expect((await stack.stop()).lost).toBe(0);
  } finally {
    await labDown('natd');
    await labDown('natl');
  }
  expect(namespaces('sn-natd-').concat(namespaces('sn-natl-'))).toEqual([]);
});

/**
 * A tcpdump line as the comparison sees it: addresses and ports, UDP, the ICMP text (with the
 * quoted header's addresses and port), TCP's flags as a class (S, S., R, R., F for any FIN, . for
 * the rest: how ACKs and data are cut into segments is timing).
 */
function event(line: string): string | null {
  const m = /^IP (\S+) > (\S+): (.*)$/.exec(line.trim());
  if (!m) return null;
  const [, src, dst, rest] = m;
  let what: string;
  const f = /^Flags \[([^\]]*)\]/.exec(rest);
  if (f) {
    const fl = f[1];
    what = `tcp ${fl.includes('F') ? 'F' : fl.startsWith('S') || fl.startsWith('R') ? fl.slice(0, 1) + (fl.includes('.') ? '.' : '') : '.'}`;
  } else if (rest.startsWith('UDP')) what = 'udp';
  else what = rest.replace(/, (seq|length) \d+/g, '');
  return `${src} > ${dst.replace(/:$/, '')} ${what}`;
}

function events(out: string): string[] {
  return [...new Set(out.split('\n').map(event).filter((e): e is string => e !== null))].sort();
}

async function lineWith(p: PeerProcess, text: string): Promise<void> {
  await waitFor(`'${text}' from ${p.out()}`, () => p.out().includes(text), { detail: () => p.out() + p.err() });
}

/** The traffic script against one router; what A and B received (distinct events) and the verdicts A saw. */
async function script(r: Router): Promise<{ onB: string[]; onA: string[]; verdicts: Record<string, string> }> {
  const { lab } = r;
  const A = lab.a.host.ns;
  const B = lab.b.host.ns;
  const v: Record<string, string> = {};
  const dumpB = await tcpdump(B, ['-i', lab.b.host.dev, '-Q', 'in', '-nn', '-t', 'ip']);
  const dumpA = await tcpdump(A, ['-i', lab.a.host.dev, '-Q', 'in', '-nn', '-t', 'ip']);
  try {
    // NEW + ESTABLISHED: two datagrams of one UDP flow and their echoes
    const c = keep(peerProcess(A, ['python3', '-c', UDP_CLIENT, '40000', '10.2.0.2', 'one', 'two']));
    await lineWith(c, 'two');
    c.stop();
    v.udp = c.out().trim().replace(/\n/g, ',');
    // ping with a fixed id: rewritten only if taken
    const ping = await nsExec(A, ['ping', '-n', '-e', '4242', '-c', '2', '-i', '0.2', '-w', '20', '10.2.0.2']);
    v.ping = /(\d+) received/.exec(ping.stdout)?.[1] ?? '?';
    // TCP out through MASQUERADE, in through DNAT
    const curl = async (ns: string, url: string, port: number) =>
      (await nsExec(ns, ['curl', '-sS', '--max-time', '20', '--local-port', String(port), '-o', '/dev/null', '-w', '%{http_code}', url])).stdout.trim();
    v.curlOut = await curl(A, 'http://10.2.0.2:8000/small', 40100);
    v.curlDnat = await curl(B, 'http://10.2.0.1:8080/small', 40101);
    // RELATED: A's port unreachable for a datagram DNATed to a closed port
    v.udpDnatClosed = (await nsExec(B, ['python3', '-c', UDP_PROBE], { check: true })).stdout.trim();
    // INVALID or not: a lone ACK from A for no connection, with tcp_loose 1 (picked up) then 0 (INVALID)
    const ack = (sport: number) =>
      buildFrame({ dstMac: lab.a.mac, srcMac: lab.a.host.mac, ip: { src: '10.1.0.2', dst: '10.2.0.2', df: true }, tcp: { sport, dport: 8000, flags: TCP_ACK, seq: 1000, ack: 2000 } });
    await inject(A, lab.a.host.dev, [ack(40200)]);
    // Picked up: B answers the ACK with a RST that comes back to A (an event to wait for).
    await waitFor(`${r.label}: the RST for the picked-up ACK`, () => /10\.2\.0\.2\.8000 > 10\.1\.0\.2\.40200: Flags \[R\]/.test(dumpA.out()), { detail: () => dumpA.out() });
    await r.sysctl('nf_conntrack_tcp_loose', 0);
    await inject(A, lab.a.host.dev, [ack(40201)]);
    // Unsolicited WAN -> LAN: B gets a route to the LAN for it
    run(B, 'ip', 'route', 'add', '10.1.0.0/24', 'via', '10.2.0.1');
    try {
      await nsExec(B, ['python3', '-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"unsolicited", ("10.1.0.2", 6000))'], { check: true });
    } finally {
      run(B, 'ip', 'route', 'del', '10.1.0.0/24');
    }
    // UDP expiry: a flow, its entry gone after nf_conntrack_udp_timeout, then B's late reply
    await r.sysctl('nf_conntrack_udp_timeout', UDP_TIMEOUT);
    await r.sysctl('nf_conntrack_udp_timeout_stream', UDP_TIMEOUT);
    const e = keep(peerProcess(A, ['python3', '-c', UDP_CLIENT, '40300', '10.2.0.2', 'later']));
    await lineWith(e, 'later');
    await waitFor(`${r.label}: the UDP entry of port 40300 to expire`, async () => !/sport=40300 /.test(await r.table()), { everyMs: 200 });
    await nsExec(B, ['python3', '-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"fire", ("127.0.0.1", 7777))'], { check: true });
    // The late datagram reaches the router, which has no entry and no socket: port unreachable to B.
    await waitFor(`${r.label}: B to get the port unreachable for the late datagram`, () => /ICMP 10\.2\.0\.1 udp port 40300 unreachable/.test(dumpB.out()), { detail: () => dumpB.out() });
    e.stop();
    v.late = e.out().split('\n').includes('late') ? 'reached A' : 'not forwarded';
    // A marker last: everything above has been forwarded (or not) before it arrives.
    const m = keep(peerProcess(A, ['python3', '-c', UDP_CLIENT, '40400', '10.2.0.2', 'marker']));
    await lineWith(m, 'marker');
    m.stop();
    await waitFor('both captures to see the marker', () => /\.40400 /.test(dumpB.out()) && /\.40400: UDP/.test(dumpA.out()));
  } finally {
    dumpA.stop('SIGINT');
    dumpB.stop('SIGINT');
    await Promise.all([dumpA.exit, dumpB.exit]);
  }
  return { onB: events(dumpB.out()), onA: events(dumpA.out()), verdicts: v };
}

describe('one iptables-restore ruleset, one traffic script: softnet against a Linux router', () => {
  it('the same verdicts, and the same packets with the same translated headers on both sides', async () => {
    const routers: Router[] = [
      {
        label: 'linux',
        lab: linux,
        sysctl: async (k, val) => void (await nsExec(linux.router!, ['sysctl', '-qw', `net.netfilter.${k}=${val}`], { check: true })),
        table: async () => (await nsExec(linux.router!, ['cat', '/proc/net/nf_conntrack'])).stdout,
      },
      {
        label: 'softnet',
        lab: soft,
        sysctl: async (k, val) => void stack!.sysctl(`net.netfilter.${k}`, val),
        table: async () => stack!.conntrack(['-L']).output,
      },
    ];
    const res: Record<string, Awaited<ReturnType<typeof script>>> = {};
    for (const r of routers) res[r.label] = await script(r);
    console.log(`NAT differential, verdicts: ${JSON.stringify(res.softnet.verdicts)}\nB received (softnet):\n${res.softnet.onB.join('\n')}\nA received (softnet):\n${res.softnet.onA.join('\n')}`);
    expect(res.softnet.verdicts).toEqual(res.linux.verdicts);
    expect(res.softnet.onB).toEqual(res.linux.onB);
    expect(res.softnet.onA).toEqual(res.linux.onA);
    // What the comparison rests on, spelled out (the same for both, checked above):
    const L = res.linux;
    expect(L.verdicts).toMatchObject({ udp: 'one,two', ping: '2', curlOut: '200', curlDnat: '200', udpDnatClosed: 'port-unreachable', late: 'not forwarded' });
    expect(L.onB.every((e) => e.startsWith('10.2.0.1'))).toBe(true);
    expect(L.onB).toContain('10.2.0.1.40000 > 10.2.0.2.7777 udp');
    expect(L.onB).toContain('10.2.0.1.40200 > 10.2.0.2.8000 tcp .');
    expect(L.onB.some((e) => e.includes('40201'))).toBe(false);
    expect(L.onA.some((e) => e.includes('unsolicited') || e.includes('.6000'))).toBe(false);
  }, 180_000);
});
