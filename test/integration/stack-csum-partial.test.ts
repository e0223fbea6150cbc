// Partial checksums end to end: kernel hosts on veths with their default offloads (tx checksumming ON,
// no `ethtool -K tx off`) hand softnet UDP/TCP with partial checksums. With csum_partial on (the
// default for veth) softnet completes them and every datagram and byte arrives; with it off the
// receiving kernel drops them (Udp InCsumErrors), which is what the option fixes.
//
//   ns sn-csum-a                      root ns (softnet)                     ns sn-csum-b
//   sncsum-a1 10.1.0.2  <--veth-->  sncsum-a0 (p0)   sncsum-b0 (p1)  <--veth-->  sncsum-b1 10.2.0.2
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../src/stack/stack.ts';
import { nsExec } from '../../src/tools/lab.ts';
import { listening, peerProcess } from '../support/kernel-peer.ts';
import { expectStopped } from '../support/lab-stack.ts';
import { Lab, ip, run } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const lab = new Lab();
let A = '';
let B = '';
const A_DEV = 'sncsum-a0';
const B_DEV = 'sncsum-b0';

beforeAll(() => {
  A = lab.netns('csum-a');
  B = lab.netns('csum-b');
  lab.veth(A_DEV, 'sncsum-a1', A, '10.1.0.1', '10.1.0.2');
  lab.veth(B_DEV, 'sncsum-b1', B, '10.2.0.1', '10.2.0.2');
  ip('-n', A, 'route', 'add', 'default', 'via', '10.1.0.1');
  ip('-n', B, 'route', 'add', 'default', 'via', '10.2.0.1');
  // The point of the test: hosts keep veth's default offloads. Check, do not assume.
  for (const [ns, dev] of [[A, 'sncsum-a1'], [B, 'sncsum-b1']]) expect(run(ns, 'ethtool', '-k', dev)).toMatch(/^tx-checksumming: on/m);
});

afterAll(() => {
  expect(lab.cleanup()).toEqual([]);
});

async function router(csum?: 'on' | 'off', log?: (line: string) => void): Promise<Stack> {
  const s = new Stack({ name: 'sncsum', ...(log ? { log } : {}) });
  try {
    await s.addPort({ name: 'p0', dev: A_DEV, mode: 'xdp-drv', addresses: ['10.1.0.1/24'], ...(csum ? { csum_partial: csum } : {}) });
    await s.addPort({ name: 'p1', dev: B_DEV, mode: 'xdp-drv', addresses: ['10.2.0.1/24'], ...(csum ? { csum_partial: csum } : {}) });
    await s.start();
  } catch (e) {
    await s.stop();
    throw e;
  }
  return s;
}

/** `Udp:` counters of a namespace's /proc/net/snmp (InDatagrams, InCsumErrors...). */
function udpMib(ns: string): Record<string, number> {
  const lines = run(ns, 'cat', '/proc/net/snmp').split('\n').filter((l) => l.startsWith('Udp:'));
  const keys = lines[0].split(/\s+/).slice(1);
  const vals = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, vals[i]]));
}

// Counts datagrams as they arrive: prints the running count, one line each. A 4 MiB buffer
// (SO_RCVBUFFORCE, we are root) so a slow receiver on a loaded machine never drops (RcvbufErrors).
const UDP_COUNT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 4 << 20)
s.bind(('0.0.0.0', int(sys.argv[1])))
n = 0
while True:
    s.recv(2048); n += 1
    print(n, flush=True)
`;

const lastCount = (out: string) => Number(out.trim().split('\n').at(-1) || 0);

// Sends argv[3] datagrams of argv[4] bytes, one per millisecond at most (a rate, not a guess).
const UDP_SEND = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d = (sys.argv[1], int(sys.argv[2])); p = b"x" * int(sys.argv[4])
for i in range(int(sys.argv[3])):
    s.sendto(p, d); time.sleep(0.001)
`;

async function udpSend(ns: string, dst: string, port: number, count: number, size: number): Promise<void> {
  await nsExec(ns, ['python3', '-c', UDP_SEND, dst, String(port), String(count), String(size)], { check: true, timeoutMs: 120_000 });
}

/**
 * Resolve softnet's neighbour entries both ways first (ping A -> B until one answer comes back):
 * an unresolved entry queues only unres_qlen (3) packets, and losing the rest of a burst to ARP
 * is not what this test is about.
 */
async function primeArp(): Promise<void> {
  await waitFor('a ping from A to B to be answered', async () => (await nsExec(A, ['ping', '-c', '1', '-W', '1', '10.2.0.2'])).code === 0);
}

// One TCP connection: prints how many bytes arrived before EOF.
const TCP_SINK = `
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('0.0.0.0', int(sys.argv[1]))); l.listen(1)
c, _ = l.accept(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
print(n, flush=True)
`;

const TCP_SEND = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(bytes(range(256)) * (int(sys.argv[3]) // 256)); s.shutdown(socket.SHUT_WR)
s.recv(1); s.close()
`;

describe('veth hosts with tx checksumming on, through softnet', () => {
  it('csum_partial auto on veth: the start-up warning names the peer, its netns and the ethtool command', async () => {
    const warn: string[] = [];
    const s = await router(undefined, (m) => void warn.push(m));
    try {
      const [p0] = s.portInfo();
      expect(p0.report).toContain('csum_partial: on (auto, driver veth; peer sends partial checksums, see the warning)');
      const w = warn.find((m) => m.includes('(sncsum-a0)'));
      expect(w).toMatch(/^softnet: warning: port p0 \(sncsum-a0\): veth peer sncsum-a1 in netns sn-csum-a \(netnsid \d+\) has tx checksumming on/);
      expect(w).toContain('softnet completes them meanwhile');
      expect(w).toContain('ip netns exec sn-csum-a ethtool -K sncsum-a1 tx off');
      expect(warn.filter((m) => m.includes('sncsum-a1'))).toHaveLength(1);
      expect(warn.some((m) => m.includes('sncsum-b1'))).toBe(true);
    } finally {
      await expectStopped(s);
    }
  });

  it('csum_partial on (the veth default): every UDP datagram and every TCP byte arrives', async () => {
    const s = await router();
    const rx = peerProcess(B, ['python3', '-c', UDP_COUNT, '5001']);
    const sink = peerProcess(B, ['python3', '-c', TCP_SINK, '5002']);
    try {
      await listening(B, 'udp', 5001);
      await listening(B, 'tcp', 5002);
      await primeArp();
      const before = udpMib(B);
      const SENT = 300;
      await udpSend(A, '10.2.0.2', 5001, SENT, 100);
      await waitFor(`${SENT} datagrams at B`, () => lastCount(rx.out()) >= SENT, { detail: () => `got ${lastCount(rx.out())}, B Udp ${JSON.stringify(udpMib(B))}` });
      expect(lastCount(rx.out())).toBe(SENT);
      expect(udpMib(B).InCsumErrors - before.InCsumErrors).toBe(0);
      const BYTES = 256 * 800;
      await nsExec(A, ['python3', '-c', TCP_SEND, '10.2.0.2', '5002', String(BYTES)], { check: true, timeoutMs: 60_000 });
      await waitFor('the TCP sink to report', () => sink.out().trim() !== '');
      expect(Number(sink.out().trim())).toBe(BYTES);
      const st = s.stats().ports;
      // Every datagram plus the TCP segments of A (and B's ACKs on p1) were completed.
      expect(Number(st.p0.csum_partial_completed)).toBeGreaterThan(SENT);
      expect(Number(st.p1.csum_partial_completed)).toBeGreaterThan(0);
    } finally {
      rx.stop();
      sink.stop();
      await expectStopped(s);
    }
  });

  it('csum_partial off: the same datagrams leave softnet with partial checksums and B drops them', async () => {
    const s = await router('off');
    const rx = peerProcess(B, ['python3', '-c', UDP_COUNT, '5003']);
    try {
      await listening(B, 'udp', 5003);
      await primeArp();
      const before = udpMib(B);
      const fwd0 = s.stats().mib.Ip.ForwDatagrams;
      const SENT = 100;
      await udpSend(A, '10.2.0.2', 5003, SENT, 100);
      // Conditions, not a window of silence: all went through softnet, then all were refused by B.
      await waitFor(`softnet to forward ${SENT}`, () => s.stats().mib.Ip.ForwDatagrams - fwd0 >= SENT);
      await waitFor(`B to count ${SENT} UDP checksum errors`, () => udpMib(B).InCsumErrors - before.InCsumErrors >= SENT, { detail: () => JSON.stringify(udpMib(B)) });
      expect(lastCount(rx.out())).toBe(0);
      expect(s.stats().ports.p0.csum_partial_completed).toBeUndefined();
    } finally {
      rx.stop();
      await expectStopped(s);
    }
  });
});
