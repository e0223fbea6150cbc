// NAT with kernel hosts: A (LAN, 10.1.0.2) — softnet (p0 10.1.0.1/24, p1 10.2.0.1/24) — B (WAN,
// 10.2.0.2) — C (10.4.0.2, behind B, a Linux router for the traceroute). B has no route back to
// the LAN: only translated traffic can be answered.
//   MASQUERADE: ping, UDP, curl to a kernel HTTP server on B; B's tcpdump sees only 10.2.0.1;
//     `softnet conntrack -L` shows the entries with the translated reply tuple.
//   DNAT of 10.2.0.1:8080 to A's HTTP server: curl from B; a closed port behind DNAT answers
//     B with a RST (connection refused), a closed UDP port with a port unreachable that B's
//     connected socket takes as ECONNREFUSED (both translated back to 10.2.0.1:port).
//   -P FORWARD DROP + ctstate ESTABLISHED,RELATED: replies pass, unsolicited WAN->LAN packets do
//     not; traceroute from A to C shows each hop (the RELATED time exceeded translated).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlPath } from '../../src/stack/control-socket.ts';
import { Stack } from '../../src/stack/stack.ts';
import { nsExec, type Lab as ToolLab } from '../../src/tools/lab.ts';
import { softnet } from '../support/cli.ts';
import { expectReplies, listening, peerProcess, pingSummary, tcpdump, udpAsk, udpEcho, udpProbe, type PeerProcess } from '../support/kernel-peer.ts';
import { freshLab, labTeardown } from '../support/lab-stack.ts';
import { Lab, run } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const LAB = 'nat';
let lab: ToolLab;
const extra = new Lab();
let stack: Stack;
let A: string;
let B: string;
let C: string;
let www: string;
let aHttp: PeerProcess;
const procs: PeerProcess[] = [];

// connect() from a kernel socket: 'refused' when a RST answered the SYN (ECONNREFUSED).
const TCP_CONNECT = `
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20); print('connected')
except ConnectionRefusedError: print('refused')
except OSError as e: print('error', e)
`;

function keep(p: PeerProcess): PeerProcess {
  procs.push(p);
  return p;
}

/** A kernel HTTP server in ns serving `dir` on port (python3 -m http.server), ready when listening. */
async function httpServer(ns: string, port: number, dir: string): Promise<PeerProcess> {
  const p = keep(peerProcess(ns, ['python3', '-m', 'http.server', '-b', '0.0.0.0', '-d', dir, String(port)]));
  await listening(ns, 'tcp', port);
  return p;
}

async function curl(ns: string, url: string): Promise<{ code: number; out: string; err: string }> {
  const r = await nsExec(ns, ['curl', '-sS', '--max-time', '30', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{speed_download}', url], { timeoutMs: 60_000 });
  return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
}

async function conntrackL(...filters: string[]): Promise<string> {
  const r = await softnet(['conntrack', '--name', LAB, '-L', ...filters]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  lab = await freshLab(LAB);
  A = lab.a.host.ns;
  B = lab.b.host.ns;
  C = extra.netns('nat-c');
  // C behind B (B a Linux router for 10.4.0.0/24); B knows no way back to the LAN.
  extra.routerLink({ dev: 'snnatc-b', routerNs: B, hostDev: 'snnatc-c', hostNs: C, net: '10.4.0' });
  run(B, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  run(B, 'ip', 'route', 'del', 'default');
  www = mkdtempSync(join(tmpdir(), 'sn-nat-www-'));
  writeFileSync(join(www, 'small'), 'x'.repeat(1000));
  writeFileSync(join(www, 'big'), Buffer.alloc(4 << 20, 7));
  stack = new Stack({ name: LAB, control: controlPath({ name: LAB }), sysctl: { icmp_ratelimit: 0 } });
  await stack.addPort({ name: 'p0', dev: lab.a.dev, mode: 'xdp-drv', addresses: ['10.1.0.1/24'] });
  await stack.addPort({ name: 'p1', dev: lab.b.dev, mode: 'xdp-drv', addresses: ['10.2.0.1/24'] });
  stack.route('add 10.4.0.0/24 via 10.2.0.2');
  stack.iptables('-t nat -A POSTROUTING -o p1 -j MASQUERADE');
  stack.iptables('-t nat -A PREROUTING -i p1 -p tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:8000');
  stack.iptables('-t nat -A PREROUTING -i p1 -p tcp --dport 8081 -j DNAT --to-destination 10.1.0.2:81');
  stack.iptables('-t nat -A PREROUTING -i p1 -p udp --dport 5353 -j DNAT --to-destination 10.1.0.2:5354');
  await stack.start();
  await httpServer(B, 8000, www);
  aHttp = await httpServer(A, 8000, www);
  keep(await udpEcho(B, 7777, true));
}, 60_000);

afterAll(async () => {
  for (const p of procs) p.stop();
  await Promise.all(procs.map((p) => p.exit));
  if (www) rmSync(www, { recursive: true, force: true });
  // C first: labTeardown checks that no sn-nat-* namespace is left.
  const left = extra.cleanup();
  await labTeardown(LAB, stack);
  expect(left).toEqual([]);
});

describe('MASQUERADE: LAN host A reaches WAN host B as 10.2.0.1', () => {
  it('ping, UDP and curl pass; B sees nothing but the router address; conntrack -L shows the reply tuples', async () => {
    const dump = await tcpdump(B, ['-i', lab.b.host.dev, '-Q', 'in', '-nn', 'ip']);
    let seen = '';
    let udp = '';
    try {
      // ping: echo id rewritten out, back on the reply
      expectReplies((await nsExec(A, ['ping', '-c', '3', '-i', '0.1', '-w', '20', '10.2.0.2'])).stdout, 3);
      // UDP: the echo server tells the address and port it saw
      const u = await udpAsk(A, '10.2.0.2', 7777, 'hello-nat');
      udp = `${u.sport} ${u.reply}`;
      expect(udp).toMatch(/^\d+ 10\.2\.0\.1:\d+ hello-nat$/);
      // TCP: curl to a kernel HTTP server
      const small = await curl(A, 'http://10.2.0.2:8000/small');
      expect(small.out, small.err).toMatch(/^200 1000 /);
      const big = await curl(A, 'http://10.2.0.2:8000/big');
      expect(big.out, big.err).toMatch(/^200 4194304 /);
      await waitFor('B to capture the last ACKs', () => (seen = dump.out()).split('\n').length > 20);
    } finally {
      dump.stop('SIGINT');
      await dump.exit;
      seen = dump.out();
    }
    const lines = seen.split('\n').filter((l) => / IP /.test(l));
    expect(lines.length).toBeGreaterThan(20);
    // Every IPv4 packet B received came from the router's WAN address.
    const foreign = lines.filter((l) => !/ IP 10\.2\.0\.1(\.\d+)? > 10\.2\.0\.2/.test(l));
    expect(foreign, foreign.slice(0, 5).join('\n')).toEqual([]);
    expect(seen).toMatch(/10\.2\.0\.1 > 10\.2\.0\.2: ICMP echo request/);
    expect(seen).toMatch(/10\.2\.0\.1\.\d+ > 10\.2\.0\.2\.7777: UDP/);
    expect(seen).toMatch(/10\.2\.0\.1\.\d+ > 10\.2\.0\.2\.8000: Flags \[S\]/);

    // The entries: original A -> B, reply B -> the router (its port as the UDP echo saw it).
    const [aPort, seenAt] = udp.split(' ');
    const natPort = seenAt.split(':')[1];
    const udpL = await conntrackL('-p', 'udp', '--dport', '7777');
    expect(udpL).toContain(`src=10.1.0.2 dst=10.2.0.2 sport=${aPort} dport=7777 src=10.2.0.2 dst=10.2.0.1 sport=7777 dport=${natPort}`);
    const tcpL = await conntrackL('-p', 'tcp', '--dport', '8000');
    expect(tcpL).toMatch(/^tcp +6 \d+ TIME_WAIT src=10\.1\.0\.2 dst=10\.2\.0\.2 sport=\d+ dport=8000 src=10\.2\.0\.2 dst=10\.2\.0\.1 sport=8000 dport=\d+ \[ASSURED\]/m);
    const icmpL = await conntrackL('-p', 'icmp');
    expect(icmpL).toMatch(/^icmp +1 \d+ src=10\.1\.0\.2 dst=10\.2\.0\.2 type=8 code=0 id=\d+ src=10\.2\.0\.2 dst=10\.2\.0\.1 type=0 code=0 id=\d+/m);
    console.log(`conntrack -L after MASQUERADE:\n${udpL}${tcpL}${icmpL}`);
  });
});

describe('DNAT: a router port forwarded to a LAN server', () => {
  it('curl from B to 10.2.0.1:8080 reaches A:8000; A sees B, B sees the router', async () => {
    const r = await curl(B, 'http://10.2.0.1:8080/small');
    expect(r.out, r.err).toMatch(/^200 1000 /);
    // A's server logged the WAN host itself as the client (no SNAT on the way in)
    await waitFor("A's HTTP server to log the request", () => /^10\.2\.0\.2 - - .*"GET \/small/m.test(aHttp.err()), { detail: () => aHttp.err() });
    const l = await conntrackL('-p', 'tcp', '--dport', '8080');
    expect(l).toMatch(/src=10\.2\.0\.2 dst=10\.2\.0\.1 sport=(\d+) dport=8080 src=10\.1\.0\.2 dst=10\.2\.0\.2 sport=8000 dport=\1 /);
  });

  it('a closed TCP port behind DNAT: the RST comes back translated (connection refused)', async () => {
    const r = await nsExec(B, ['python3', '-c', TCP_CONNECT, '10.2.0.1', '8081'], { check: true });
    expect(r.stdout.trim()).toBe('refused');
    // curl says the same (its text varies by version: exit 7, couldn't connect)
    expect((await nsExec(B, ['curl', '-sS', '--max-time', '20', 'http://10.2.0.1:8081/'])).code).toBe(7);
  });

  it('a closed UDP port behind DNAT: the port unreachable comes back translated (ECONNREFUSED)', async () => {
    expect(await udpProbe(B, '10.2.0.1', 5353)).toBe('port-unreachable');
    const l = await conntrackL('-p', 'udp', '--dport', '5353');
    expect(l).toMatch(/src=10\.2\.0\.2 dst=10\.2\.0\.1 sport=\d+ dport=5353 \[UNREPLIED\] src=10\.1\.0\.2 dst=10\.2\.0\.2 sport=5354/);
  });
});

describe('stateful FORWARD: -P DROP, ESTABLISHED,RELATED accepted, NEW from the LAN only', () => {
  beforeAll(() => {
    stack.iptables('-P FORWARD DROP');
    stack.iptables('-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT');
    stack.iptables('-A FORWARD -i p0 -o p1 -m conntrack --ctstate NEW -j ACCEPT');
    stack.iptables('-A FORWARD -i p1 -o p0 -m conntrack --ctstate DNAT -j ACCEPT');
  });
  afterAll(() => {
    stack.iptables('-F FORWARD');
    stack.iptables('-P FORWARD ACCEPT');
  });
  const policy = () => stack.netfilter.counters('filter', 'FORWARD').pkts;

  it('replies pass: ping, UDP, curl from A; DNAT from B', async () => {
    const p0 = policy();
    expectReplies((await nsExec(A, ['ping', '-c', '3', '-i', '0.1', '-w', '20', '10.2.0.2'])).stdout, 3);
    const u = await udpAsk(A, '10.2.0.2', 7777, 'stateful');
    expect(u.reply).toMatch(/10\.2\.0\.1:\d+ stateful/);
    expect((await curl(A, 'http://10.2.0.2:8000/small')).out).toMatch(/^200 1000 /);
    expect((await curl(B, 'http://10.2.0.1:8080/small')).out).toMatch(/^200 1000 /);
    expect(policy()).toBe(p0);
    expect(stack.netfilter.counters('filter', 'FORWARD', 1).pkts).toBeGreaterThan(10);
  });

  it('unsolicited WAN -> LAN packets are dropped by the policy', async () => {
    // Give B a route to the LAN: without NAT its packets would be forwarded as they are.
    run(B, 'ip', 'route', 'add', '10.1.0.0/24', 'via', '10.2.0.1');
    const l = keep(peerProcess(A, ['nc', '-u', '-l', '-W', '1', '6000']));
    try {
      await listening(A, 'udp', 6000);
      const p0 = policy();
      await nsExec(B, ['nc', '-u', '-w', '1', '10.1.0.2', '6000'], { input: 'unsolicited\n' });
      const ping = await nsExec(B, ['ping', '-c', '2', '-i', '0.1', '-W', '1', '10.1.0.2']);
      const syn = await nsExec(B, ['curl', '-sS', '--max-time', '2', 'http://10.1.0.2:8000/small']);
      await waitFor('the policy to drop the UDP datagram, 2 echo requests and the SYN', () => policy() >= p0 + 4);
      expect(pingSummary(ping.stdout).rx).toBe(0);
      expect(syn.code).not.toBe(0);
      expect(l.out()).toBe('');
    } finally {
      l.stop();
      run(B, 'ip', 'route', 'del', '10.1.0.0/24');
    }
  });

  it('traceroute from A to C through the NAT shows every hop (time exceeded translated, RELATED)', async () => {
    const r = await nsExec(A, ['traceroute', '-n', '-q', '1', '-w', '10', '-m', '5', '10.4.0.2'], { timeoutMs: 90_000 });
    expect(r.stdout).toMatch(/^\s*1\s+10\.1\.0\.1\s/m);
    expect(r.stdout).toMatch(/^\s*2\s+10\.2\.0\.2\s/m);
    expect(r.stdout).toMatch(/^\s*3\s+10\.4\.0\.2\s/m);
    // ICMP (-I) probes too: their echo ids are rewritten, the quoted id restored.
    const i = await nsExec(A, ['traceroute', '-I', '-n', '-q', '1', '-w', '10', '-m', '5', '10.4.0.2'], { timeoutMs: 90_000 });
    expect(i.stdout).toMatch(/^\s*2\s+10\.2\.0\.2\s/m);
    expect(i.stdout).toMatch(/^\s*3\s+10\.4\.0\.2\s/m);
    console.log(`traceroute through the NAT:\n${r.stdout}${i.stdout}`);
  });
});

describe('MASQUERADE follows the port (masq_device_event)', () => {
  it('p1 set down forgets the masqueraded connections (Nat.masq_flushed in softnet stat); up again, new ones are made', async () => {
    const u = await udpAsk(A, '10.2.0.2', 7777, 'before');
    expect(u.reply).toMatch(/10\.2\.0\.1:\d+ before/);
    const masqueraded = async () => (await conntrackL()).split('\n').filter((l) => /src=10\.1\.0\.2 .*src=\S+ dst=10\.2\.0\.1 /.test(l)).length;
    expect(await masqueraded()).toBeGreaterThan(0);
    const flushed = () => stack.stats().mib.Nat.masq_flushed;
    const f0 = flushed();
    const state = () => String(stack.stats().ports.p1.state);
    run(null, 'ip', 'link', 'set', lab.b.dev, 'down');
    try {
      await waitFor('p1 to go down and its masqueraded entries to be flushed', () => state() !== 'UP' && flushed() > f0, { detail: () => `${state()} ${flushed()}` });
      expect(await masqueraded()).toBe(0);
    } finally {
      run(null, 'ip', 'link', 'set', lab.b.dev, 'up');
    }
    await waitFor('p1 to come up', () => state() === 'UP', { detail: state });
    const again = await udpAsk(A, '10.2.0.2', 7777, 'after');
    expect(again.reply).toMatch(/10\.2\.0\.1:\d+ after/);
    const st = await softnet(['stat', '--name', LAB]);
    expect(st.stdout).toMatch(/Nat/);
    expect(st.stdout).toMatch(new RegExp(`masq_flushed:\\s+${flushed()}\\b`));
    console.log(`masqueraded entries flushed on p1 down: ${flushed() - f0}`);
  });
});
