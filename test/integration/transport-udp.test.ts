// UDP sockets on softnet with the Linux kernel as the peer: a softnet stack on a veth (xdp-drv)
// runs the config's UDP echo and discard services; host A (a namespace) talks to it with nc and
// python sockets. The same sockets on both sides pick the same receivers (lookup differential).
// Port unreachable reaches the kernel (and the kernel's ICMP errors a connected softnet socket),
// a kernel broadcast and a joined multicast group reach the matching sockets, a slow reader is
// counted and does not starve the NIC, and `softnet ss` / `softnet stat` show the sockets and the
// Udp MIB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../src/stack/stack.ts';
import { nsExec } from '../../src/tools/lab.ts';
import { UdpViews } from '../../src/transport/index.ts';
import { softnet } from '../support/cli.ts';
import { listening, peerProcess, udpBlast, udpProbe } from '../support/kernel-peer.ts';
import { labTeardown, labWithStack } from '../support/lab-stack.ts';
import { waitFor } from '../support/wait.ts';

const LAB = 'udp';
let stack: Stack;
let A: string;

/** The kernel's Icmp InDestUnreachs in a namespace (/proc/net/snmp). */
async function inDestUnreachs(ns: string): Promise<number> {
  const lines = (await nsExec(ns, ['cat', '/proc/net/snmp'], { check: true })).stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/));
  return Number(values[names.indexOf('InDestUnreachs')]);
}

// A kernel UDP socket: prints "<len> <sha-ish sum>" per datagram received, until stopped.
const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(('0.0.0.0', int(sys.argv[1])))
while True:
    d, a = s.recvfrom(70000)
    print(len(d), sum(d) & 0xffffffff, a[0], a[1], d[:16].hex(), flush=True)
`;

beforeAll(async () => {
  const services = `services:
  - {proto: udp, port: 7, kind: echo}
  - {proto: udp, port: 9, kind: discard}`;
  const made = await labWithStack(LAB, services);
  stack = made.stack;
  A = made.lab.a.host.ns;
});

afterAll(() => labTeardown(LAB, stack));

describe('UDP with a kernel peer', () => {
  it('nc -u to the softnet echo service gets its line back', async () => {
    // -W 1: nc exits after one datagram back; -w: a deadline only.
    for (const line of ['hello softnet', 'x'.repeat(1400)]) {
      const r = await nsExec(A, ['nc', '-u', '-W', '1', '-w', '20', '10.1.0.1', '7'], { input: line + '\n', check: true, timeoutMs: 30_000 });
      expect(r.stdout).toBe(line + '\n');
    }
    expect(stack.stats().mib.Udp.OutDatagrams).toBeGreaterThanOrEqual(2);
  });

  it('a kernel UDP socket receives from a softnet socket: single sends, a batch, a 5000-byte datagram in fragments', async () => {
    const rx = peerProcess(A, ['python3', '-c', RECEIVER, '9999']);
    try {
      await listening(A, 'udp', 9999);
      const s = stack.udp.createSocket().bind(4000);
      s.send('from softnet', 9999, '10.1.0.2');
      const batch = Array.from({ length: 50 }, (_, k) => Buffer.from(`batch ${k}`));
      expect(s.sendBatch(batch, 9999, '10.1.0.2')).toBe(50);
      const big = Buffer.alloc(5000);
      for (let k = 0; k < big.length; k++) big[k] = (k * 13) & 255;
      s.send(big, 9999, '10.1.0.2');
      const lines = () => rx.out().trim().split('\n').filter((l) => l !== '');
      await waitFor('the kernel socket to receive 52 datagrams', () => lines().length >= 52, { detail: () => rx.out() + rx.err() });
      const got = lines().map((l) => l.split(' '));
      expect(got[0]).toEqual(['12', String([...Buffer.from('from softnet')].reduce((a, b) => a + b)), '10.1.0.1', '4000', Buffer.from('from softnet').toString('hex')]);
      expect(got.slice(1, 51).map((g) => Buffer.from(g[4], 'hex').toString())).toEqual(batch.map(String));
      // The kernel reassembled the fragments and its UDP checksum check passed.
      expect(got[51].slice(0, 2)).toEqual(['5000', String(big.reduce((a, b) => a + b, 0))]);
      s.close();
    } finally {
      rx.stop();
      await rx.exit;
    }
  });

  it('a closed port: the kernel gets ICMP port unreachable (Icmp InDestUnreachs; a connected socket sees ECONNREFUSED)', async () => {
    const before = await inDestUnreachs(A);
    const noPorts0 = stack.stats().mib.Udp.NoPorts;
    // nc -u sends the line; OpenBSD nc then quits quietly on the error, so the kernel's counter
    // and a connected python socket (recv raises ConnectionRefusedError) say what happened.
    await nsExec(A, ['nc', '-u', '-W', '1', '-w', '20', '10.1.0.1', '4242'], { input: 'anyone?\n', timeoutMs: 30_000 });
    await waitFor('the kernel to count the port unreachable', async () => (await inDestUnreachs(A)) > before);
    expect(await udpProbe(A, '10.1.0.1', 4243)).toBe('port-unreachable');
    expect(await inDestUnreachs(A)).toBe(before + 2);
    expect(stack.stats().mib.Udp.NoPorts - noPorts0).toBe(2);
    expect(stack.stats().mib.Icmp.OutDestUnreachs).toBeGreaterThanOrEqual(2);
    expect(stack.stats().mib.Ip.InUnknownProtos).toBe(0);
  });

  it('socket lookup, differential: the same four sockets on the kernel and on softnet pick the same receivers for the same datagrams', async () => {
    // Sockets on port 6020: [0] wildcard, [1] our address, [2] wildcard connected to peer:7001
    // (connect fills in our address, as ip4_datagram_connect does), [3] our address connected to
    // peer:7002. The peer sends from 7001/7002/7003 to our address, then to the subnet broadcast.
    const sends: Array<[string, number, string]> = [
      ['u7001', 7001, 'uni'],
      ['u7002', 7002, 'uni'],
      ['u7003', 7003, 'uni'],
      ['b7001', 7001, 'bcast'],
      ['b7003', 7003, 'bcast'],
    ];
    const receivers = (lines: string[]) => {
      const m: Record<string, number[]> = {};
      for (const l of lines) {
        const [k, msg] = l.split(' ');
        (m[msg] ??= []).push(Number(k));
      }
      for (const v of Object.values(m)) v.sort();
      return m;
    };
    // The kernel's answer: the sockets in host A, softnet sending.
    const KSOCKS = [
      'import select, socket, sys',
      'own, peer, P = "10.1.0.2", "10.1.0.1", 6020',
      'def mk(addr, conn=None):',
      '    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((addr, P))',
      '    if conn: s.connect((peer, conn))',
      '    return s',
      'socks = [mk("0.0.0.0"), mk(own), mk("0.0.0.0", 7001), mk(own, 7002)]',
      'while True:',
      '    for s in select.select(socks, [], [])[0]: print(socks.index(s), s.recv(100).decode(), flush=True)',
    ].join('\n');
    const k = peerProcess(A, ['python3', '-c', KSOCKS]);
    let kernel: Record<string, number[]>;
    try {
      await listening(A, 'udp', 6020);
      const from = new Map([7001, 7002, 7003].map((p) => [p, stack.udp.createSocket().bind(p)]));
      for (const [msg, sport, kind] of sends) {
        const u = from.get(sport)!;
        u.setBroadcast(true);
        u.send(msg, 6020, kind === 'uni' ? '10.1.0.2' : '10.1.0.255');
      }
      await waitFor('the last datagram in host A', () => k.out().includes('b7003'), { detail: () => k.out() + k.err() });
      for (const u of from.values()) u.close();
      kernel = receivers(k.out().trim().split('\n'));
    } finally {
      k.stop();
      await k.exit;
    }
    // softnet's answer: the same sockets on softnet, the kernel sending from host A.
    const mk = (addr: string, conn?: number) => {
      const s = stack.udp.createSocket({ reuseAddr: true }).bind(6020, addr);
      if (conn !== undefined) s.connect(conn, '10.1.0.2');
      return s;
    };
    const socks = [mk('0.0.0.0'), mk('10.1.0.1'), mk('0.0.0.0', 7001), mk('10.1.0.1', 7002)];
    const lines: string[] = [];
    socks.forEach((s, n) => s.on('message', (m) => lines.push(`${n} ${String(m)}`)));
    const KSEND = [
      'import socket',
      'out = {}',
      'for p in (7001, 7002, 7003):',
      '    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1); s.bind(("10.1.0.2", p)); out[p] = s',
      ...sends.map(([msg, sport, kind]) => `out[${sport}].sendto(b"${msg}", ("${kind === 'uni' ? '10.1.0.1' : '10.1.0.255'}", 6020))`),
    ].join('\n');
    await nsExec(A, ['python3', '-c', KSEND], { check: true });
    await waitFor('the last datagram on softnet', () => lines.some((l) => l.endsWith('b7003')), { detail: () => lines.join(', ') });
    for (const s of socks) s.close();
    expect(receivers(lines)).toEqual(kernel);
    // What Linux decided, for the reader: the address-bound socket beats the wildcard ones, the
    // connected one takes its peer's datagrams, a broadcast goes to every wildcard socket left.
    expect(kernel).toEqual({ u7001: [2], u7002: [3], u7003: [1], b7001: [0], b7003: [0] });
  });

  it("a kernel host's subnet broadcast reaches every wildcard socket on the port (copies), not one bound to the unicast address", async () => {
    const socks = [stack.udp.createSocket({ reuseAddr: true }).bind(6000), stack.udp.createSocket({ reuseAddr: true }).bind(6000), stack.udp.createSocket({ reuseAddr: true }).bind(6000, '10.1.0.1')];
    const got: string[][] = socks.map(() => []);
    socks.forEach((s, k) => s.on('message', (m) => got[k].push(String(m))));
    const ignored0 = stack.stats().mib.Udp.IgnoredMulti;
    // Numbered broadcasts until stopped: the test waits for arrival, not for a guessed delay.
    const py = 'import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)\nfor i in range(200):\n    s.sendto(b"to all %d" % i, ("10.1.0.255", 6000)); time.sleep(0.05)';
    const tx = peerProcess(A, ['python3', '-c', py]);
    try {
      await waitFor('both wildcard sockets to get a broadcast', () => got[0].length > 0 && got[1].length > 0, { detail: () => JSON.stringify(got) });
    } finally {
      tx.stop();
      await tx.exit;
    }
    await waitFor('the last broadcast to reach both', () => got[0].length === got[1].length, { detail: () => JSON.stringify(got) });
    expect(got[1]).toEqual(got[0]);
    expect(got[0][0]).toMatch(/^to all \d+$/);
    expect(got[2]).toEqual([]);
    expect(stack.stats().mib.Udp.IgnoredMulti).toBe(ignored0);
    // Unicast to the port: the socket bound to the address beats the wildcard ones.
    await nsExec(A, ['nc', '-u', '-w', '1', '10.1.0.1', '6000'], { input: 'just you\n', timeoutMs: 30_000 });
    await waitFor('the unicast datagram', () => got[2].length > 0);
    expect(got[2]).toEqual(['just you\n']);
    for (const s of socks) s.close();
    expect(stack.frames().sockets).toBe(0);
  });

  it('a kernel host sending to a multicast group reaches the softnet sockets that joined it (addMembership), and nothing before', async () => {
    const s = stack.udp.createSocket().bind(6010);
    const got: string[] = [];
    s.on('message', (m) => got.push(String(m)));
    const mcast0 = stack.stats().mib.Ip.InMcastPkts;
    const py = 'import socket, sys, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("10.1.0.2"))\nfor i in range(400):\n    s.sendto(b"group %d" % i, ("239.1.1.1", 6010)); time.sleep(0.05)';
    const tx = peerProcess(A, ['python3', '-c', py]);
    try {
      await waitFor('group datagrams to arrive (and be dropped: not joined)', () => stack.stats().mib.Ip.InMcastPkts > mcast0 + 1);
      expect(got).toEqual([]);
      s.addMembership('239.1.1.1', '10.1.0.1');
      await waitFor('a group datagram on the socket', () => got.length >= 2, { detail: () => JSON.stringify(got) });
      expect(got[0]).toMatch(/^group \d+$/);
    } finally {
      tx.stop();
      await tx.exit;
    }
    s.close();
    expect(stack.ipv4.ctx.mc.list()).toEqual([]);
  });

  it("a connected softnet socket hears the kernel's ICMP errors: port unreachable ECONNREFUSED, admin-prohibited EHOSTUNREACH (node:dgram's 'error' from recvmsg)", async () => {
    // Port 6002 gets REJECT --reject-with icmp-admin-prohibited (code 13, a hard error like the port's).
    await nsExec(A, ['iptables', '-A', 'INPUT', '-p', 'udp', '--dport', '6002', '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'], { check: true });
    try {
      for (const [port, code] of [
        [6001, 'ECONNREFUSED'],
        [6002, 'EHOSTUNREACH'],
      ] as const) {
        const s = stack.udp.createSocket().connect(port, '10.1.0.2');
        const errs: NodeJS.ErrnoException[] = [];
        s.on('error', (e) => errs.push(e));
        // Sent again until the error arrives (a datagram may be lost on a loaded machine).
        const again = setInterval(() => s.send('anyone?'), 500);
        s.send('anyone?');
        try {
          await waitFor(`${code} on the socket`, () => errs.length > 0);
        } finally {
          clearInterval(again);
        }
        expect(errs[0]).toMatchObject({ code, syscall: 'recvmsg', message: `recvmsg ${code}` });
        s.close();
      }
    } finally {
      await nsExec(A, ['iptables', '-D', 'INPUT', '-p', 'udp', '--dport', '6002', '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited']);
    }
    expect(stack.stats().mib.Icmp.InDestUnreachs).toBeGreaterThanOrEqual(2);
  });

  it('a slow reader: RcvbufErrors counted, its frames bounded and accounted, the NIC keeps receiving', { timeout: 120_000 }, async () => {
    const s = stack.udp.createSocket().bind(5000);
    const m0 = stack.stats().mib.Udp;
    const port0 = stack.stats().ports.p0;
    const count = 3000;
    await udpBlast(A, '10.1.0.1', 5000, count, 32);
    // Every datagram the kernel sent was either polled by softnet or dropped by the veth's XDP
    // path for want of fill-ring frames (a loaded 2-core machine polls late; counted rx_dropped).
    const port = () => stack.stats().ports.p0;
    const seen = () => (port().rx_packets as number) - (port0.rx_packets as number) + (port().rx_dropped as number) - (port0.rx_dropped as number);
    await waitFor('softnet to receive or count the whole blast', () => seen() >= count, { detail: () => JSON.stringify({ seen: seen(), port: port(), udp: stack.stats().mib.Udp }) });
    const driverDrops = (port().rx_dropped as number) - (port0.rx_dropped as number);
    const m = stack.stats().mib.Udp;
    const queued = s.queued;
    // SO_RCVBUF (rmem_default 212992) / one 2 KiB frame per datagram: 105 held, the rest refused.
    expect(queued).toBe(105);
    expect(m.RcvbufErrors - m0.RcvbufErrors).toBe(count - driverDrops - queued);
    expect(s.drops).toBe(count - driverDrops - queued);
    console.log(`slow reader: ${count} sent, ${queued} queued, ${m.RcvbufErrors - m0.RcvbufErrors} RcvbufErrors, ${driverDrops} dropped by the driver (fill ring empty under load)`);
    const acct = stack.frames();
    expect(acct.lost).toBe(0);
    expect(acct.sockets).toBe(queued);
    // The rest of the pool is the NIC's: the fill ring is full again.
    expect(port().fill_held).toBeGreaterThan(512);
    // The NIC still receives while the reader sleeps: the echo service answers.
    const r = await nsExec(A, ['nc', '-u', '-W', '1', '-w', '20', '10.1.0.1', '7'], { input: 'still here\n', check: true, timeoutMs: 30_000 });
    expect(r.stdout).toBe('still here\n');
    // The reader wakes up: a zero-copy batch read returns every held frame to the pool.
    const v = new UdpViews(64);
    let n = 0;
    for (let k; (k = s.recvBatch(v)) > 0; ) n += k;
    s.release();
    expect(n).toBe(queued);
    expect(stack.frames().sockets).toBe(0);
    // Raising rmem_max lets a socket hold more (still within sock_frames_max, pool/4).
    stack.sysctl('net.core.rmem_max', 4 << 20);
    s.setRecvBufferSize(1 << 20);
    await udpBlast(A, '10.1.0.1', 5000, 600, 32);
    await waitFor('600 more datagrams queued', () => s.queued >= 600, { detail: () => `queued ${s.queued}` });
    s.close();
    expect(stack.frames().sockets).toBe(0);
  });

  it('softnet ss -uln lists the services; softnet stat shows the Udp MIB', async () => {
    const ss = await softnet(['ss', '--name', LAB, '-uln']);
    expect(ss.code).toBe(0);
    const lines = ss.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^State\s+Recv-Q\s+Send-Q\s+Local Address:Port\s+Peer Address:Port$/);
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/))).toEqual(
      expect.arrayContaining([
        ['UNCONN', '0', '0', '0.0.0.0:7', '0.0.0.0:*'],
        ['UNCONN', '0', '0', '0.0.0.0:9', '0.0.0.0:*'],
      ]),
    );
    // Without -l: only non-listening (connected) sockets; a connected one shows ESTAB.
    const c = stack.udp.createSocket();
    c.connect(53, '10.1.0.2');
    const est = await softnet(['ss', '--name', LAB, '-un']);
    expect(est.stdout).toMatch(new RegExp(`^ESTAB\\s+0\\s+0\\s+10\\.1\\.0\\.1:${c.address().port}\\s+10\\.1\\.0\\.2:53$`, 'm'));
    expect(est.stdout).not.toMatch(/UNCONN/);
    c.close();
    const st = await softnet(['stat', '--name', LAB]);
    expect(st.stdout).toMatch(/\nUdp:\n(\s+\w+: \d+\n)*\s+InDatagrams: [1-9]/);
    expect(st.stdout).toMatch(/\n\s+RcvbufErrors: [1-9]/);
  });
});
