// The troubleshooting story of the README ("Where did my packet go?"), end to end with a kernel
// host sending: what a person runs, against a stack on a veth (xdp-drv).
// 1. A UDP service on port 5000 that reads steadily (50 datagrams every 100 ms) but whose
//    SO_RCVBUF request (1 MiB) is capped by net.core.rmem_max; the host sends bursts of 400
//    a second. `softnet dropwatch` shows udp.RcvbufErrors climbing at udp-rcv; `softnet trace
//    'udp port 5000'` shows datagrams reaching the socket and dropped there; `softnet sysctl -w
//    net.core.rmem_max=1048576` and the service asking again for its buffer: the drops stop.
// 2. A firewall rule added at runtime: trace names the rule, dropwatch counts it.
// 3. A missing route: trace shows ip-rcv answering net unreachable, sent back on p0; the kernel
//    host counts the ICMP destination unreachable (its connected socket ignores it: net
//    unreachable is not a hard error for UDP without IP_RECVERR, as in Linux).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../src/stack/stack.ts';
import type { TraceRecord } from '../../src/stack/trace.ts';
import type { UdpSocket } from '../../src/transport/udp-socket.ts';
import { nsExec } from '../../src/tools/lab.ts';
import { softnet } from '../support/cli.ts';
import { peerProcess, udpAsk, type PeerProcess } from '../support/kernel-peer.ts';
import { labTeardown, labWithStack } from '../support/lab-stack.ts';
import { waitFor } from '../support/wait.ts';

const LAB = 'story';
let stack: Stack;
let A: string;

beforeAll(async () => {
  const made = await labWithStack(LAB, 'sysctl: {ip_forward: 1}');
  stack = made.stack;
  A = made.lab.a.host.ns;
});

afterAll(() => labTeardown(LAB, stack));

// Bursts of N datagrams to PORT, one burst a second, until stopped.
const BURSTS = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, port = int(sys.argv[1]), int(sys.argv[2])
while True:
    for i in range(n):
        try: s.sendto(b'x' * 32, ('10.1.0.1', port))
        except OSError: pass
    time.sleep(1)
`;

interface Drop {
  stage: string;
  counter: string;
  detail: string;
  rate: number;
}

async function dropwatch(samples: number): Promise<Drop[][]> {
  const r = await softnet(['dropwatch', '--name', LAB, '--json', '--count', String(samples), '--interval', '1']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { drops: Drop[] }).drops);
}

async function trace(filter: string, count: number): Promise<TraceRecord[]> {
  const r = await softnet(['trace', '--name', LAB, '--json', '--count', String(count), filter]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as TraceRecord);
}

describe('the troubleshooting story', () => {
  it('a slow UDP reader: dropwatch shows RcvbufErrors, trace shows the drop at the socket, raising rmem_max stops it', { timeout: 180_000 }, async () => {
    // The service: asks for 1 MiB, gets min(1 MiB, rmem_max) doubled; reads 50 every 100 ms.
    const sock: UdpSocket = stack.udp.createSocket().bind(5000);
    sock.setRecvBufferSize(1 << 20);
    let read = 0;
    const reader = setInterval(() => {
      for (let k = 0; k < 50 && sock.recv() !== null; k++) read++;
    }, 100);
    let bursts: PeerProcess | null = peerProcess(A, ['python3', '-c', BURSTS, '400', '5000']);
    try {
      await waitFor('RcvbufErrors to climb', () => stack.stats().mib.Udp.RcvbufErrors > 100, { detail: () => bursts!.err() });
      // dropwatch: the socket's drops, at udp-rcv, on top.
      const dw = await dropwatch(3);
      const seen = dw.flat().filter((d) => d.counter === 'udp.RcvbufErrors');
      expect(seen.length, JSON.stringify(dw)).toBeGreaterThan(0);
      expect(seen[0].stage).toBe('udp-rcv');
      // trace: datagrams that reach the socket and are dropped there (the burst's tail).
      const recs = await trace('udp port 5000', 600);
      const dropped = recs.filter((r) => r.end.startsWith('dropped'));
      expect(dropped.length).toBeGreaterThan(0);
      const d = dropped[0];
      expect(d.steps.map((s) => s.stage)).toEqual(['eth-input', 'ip-rcv', 'ip-local-deliver', 'udp-rcv']);
      expect(d.end).toMatch(/^dropped: udp\.RcvbufErrors udp socket 0\.0\.0\.0:5000 \(UNCONN, Recv-Q \d+\)$/);
      expect(d.steps.at(-1)!.counters).toEqual(expect.arrayContaining(['Udp.RcvbufErrors', 'Udp.InErrors']));
      expect(recs.some((r) => r.end.startsWith('delivered to udp socket 0.0.0.0:5000'))).toBe(true);
      // What a person sees (the README's walkthrough shows these).
      const plain = await softnet(['dropwatch', '--name', LAB, '--count', '2']);
      const text = await softnet(['trace', '--name', LAB, '--count', '400', 'udp port 5000']);
      const blocks = text.stdout.split(/(?=^#\d+ )/m);
      console.log(`$ softnet dropwatch --name ${LAB}\n${plain.stdout}\n$ softnet trace --name ${LAB} 'udp port 5000'\n${blocks[0]}...\n${blocks.find((b) => b.includes('dropped')) ?? ''}`);

      // The fix: rmem_max up, and the service asks again (as it would on restart).
      const s = await softnet(['sysctl', '--name', LAB, '-w', 'net.core.rmem_max=1048576']);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toBe('net.core.rmem_max = 1048576\n');
      sock.setRecvBufferSize(1 << 20);
      expect(sock.getRecvBufferSize()).toBe(2 << 20);
      // Three bursts later, none dropped.
      const before = stack.stats().mib.Udp.RcvbufErrors;
      const after = await dropwatch(3);
      expect(after.flat().filter((x) => x.counter === 'udp.RcvbufErrors'), JSON.stringify(after)).toEqual([]);
      expect(stack.stats().mib.Udp.RcvbufErrors).toBe(before);
      expect(read).toBeGreaterThan(0);
    } finally {
      bursts?.stop();
      await bursts?.exit;
      bursts = null;
      clearInterval(reader);
      sock.close();
    }
  });

  it('a firewall rule: trace names it, dropwatch counts it', { timeout: 120_000 }, async () => {
    const r = await softnet(['iptables', '--name', LAB, '-A', 'INPUT', '-p', 'udp', '--dport', '6000', '-j', 'DROP']);
    expect(r.code, r.stderr).toBe(0);
    const bursts = peerProcess(A, ['python3', '-c', BURSTS, '100', '6000']);
    try {
      const recs = await trace('udp dst port 6000', 3);
      for (const rec of recs) {
        expect(rec.end).toBe('dropped: netfilter.drop');
        const last = rec.steps.at(-1)!;
        expect(last.stage).toBe('ip-local-deliver');
        expect(last.rules).toEqual(['-A INPUT -p udp -m udp --dport 6000 -j DROP']);
      }
      const dw = await dropwatch(2);
      const nf = dw.flat().find((d) => d.counter === 'netfilter.drop');
      expect(nf, JSON.stringify(dw)).toMatchObject({ stage: 'ip-local-deliver', detail: '-A INPUT -p udp -m udp --dport 6000 -j DROP' });
    } finally {
      bursts.stop();
      await bursts.exit;
    }
  });

  it('a missing route: trace shows ip-rcv answering net unreachable, back out on p0', { timeout: 120_000 }, async () => {
    // Host A's default route is softnet (10.1.0.1), which has no route to 10.2.0.0/24 (no p1).
    const tr = softnet(['trace', '--name', LAB, '--json', '--count', '1', 'udp dst port 33434 and dst host 10.2.0.2']);
    await waitFor('the trace to be running', () => stack.graph.tracer !== null);
    const unreach0 = await inDestUnreachs(A);
    // Linux reports no net unreachable to a UDP socket without IP_RECVERR: the answer is a
    // timeout whatever the wait, so a short one; InDestUnreachs below says the ICMP arrived.
    const { reply: answer } = await udpAsk(A, '10.2.0.2', 33434, 'probe', 2);
    const r = await tr;
    expect(r.code, r.stderr).toBe(0);
    const rec = JSON.parse(r.stdout.trim()) as TraceRecord;
    const rcv = rec.steps.find((s) => s.stage === 'ip-rcv')!;
    expect(rcv.verdict).toBe('-> ip-output');
    expect(rcv.rewrites).toEqual(expect.arrayContaining(['proto udp->icmp', 'icmp type 3 code 0']));
    expect(rcv.counters).toEqual(expect.arrayContaining(['Ip.InNoRoutes', 'Icmp.OutDestUnreachs']));
    expect(rec.end).toMatch(/^tx on p0 /);
    expect(answer).toBe('timeout');
    await waitFor('host A to count the ICMP net unreachable', async () => (await inDestUnreachs(A)) > unreach0);
  });
});

/** The kernel's Icmp InDestUnreachs in a namespace (/proc/net/snmp). */
async function inDestUnreachs(ns: string): Promise<number> {
  const lines = (await nsExec(ns, ['cat', '/proc/net/snmp'], { check: true })).stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/));
  return Number(values[names.indexOf('InDestUnreachs')]);
}
