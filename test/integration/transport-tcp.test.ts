// TCP on softnet with the Linux kernel as the peer: a softnet stack on a veth (xdp-drv), host A
// (a namespace) talks to it with curl and nc. node:http serves over softnet connections, a 100 MB
// download is checked by SHA-256, softnet connects out to a kernel `nc -l` and downloads from
// `python3 -m http.server` with node:http, hostile segments injected on a live connection are
// counted and harm nothing, a closed port is refused, and a download survives loss, reordering
// and delay (netem on the kernel side).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../src/stack/stack.ts';
import { nsExec, spawnInNs, type Lab } from '../../src/tools/lab.ts';
import type { TcpServer, TcpSocket } from '../../src/transport/index.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { TCP_ACK, TCP_CHECK, TCP_RST, TCP_SYN } from '../../src/wire/tcp.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { IPV4_HLEN } from '../../src/wire/ipv4.ts';
import { softnet } from '../support/cli.ts';
import { inject, listening, peerProcess } from '../support/kernel-peer.ts';
import { netem } from '../support/netem.ts';
import { synFlood } from '../support/syn-flood.ts';
import { labTeardown, labWithStack } from '../support/lab-stack.ts';
import { waitFor } from '../support/wait.ts';

const LAB = 'tcp';
let stack: Stack;
let A: string;
let lab: Lab;
let web: TcpServer;
/** 1 MiB of random bytes; downloads repeat it. */
const CHUNK = randomBytes(1 << 20);

function sha(mib: number): string {
  const h = createHash('sha256');
  for (let k = 0; k < mib; k++) h.update(CHUNK);
  return h.digest('hex');
}

beforeAll(async () => {
  const services = `services:
  - {proto: tcp, port: 7, kind: echo}
  - {proto: tcp, port: 8080, kind: http}`;
  const made = await labWithStack(LAB, services);
  stack = made.stack;
  lab = made.lab;
  A = lab.a.host.ns;
  // node:http fed with softnet connections: GET /N sends N MiB of CHUNK.
  const hs = http.createServer(async (req, res) => {
    const mib = Number((req.url ?? '/').slice(1)) || 0;
    res.writeHead(200, { 'content-length': String(mib === 0 ? 6 : mib << 20) });
    if (mib === 0) return void res.end('hello\n');
    for (let k = 0; k < mib; k++) if (!res.write(CHUNK)) await new Promise((r) => res.once('drain', r));
    res.end();
  });
  web = stack.tcp.createServer((c) => hs.emit('connection', c));
  web.listen(80);
});

afterAll(async () => {
  web?.close();
  await labTeardown(LAB, stack);
});

const mib = () => stack.stats().mib;

// A kernel client holding N connections: connects in rounds of 500, prints 'connected N', closes
// them all on a line from stdin, prints 'closed'.
const MANY = `
import resource, select, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
dst, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
p = select.poll()
for base in range(0, n, 500):
    batch = []
    for i in range(base, min(n, base + 500)):
        s = socket.socket(); s.setblocking(False); s.connect_ex((dst, port)); batch.append(s); p.register(s, select.POLLOUT)
    left = {s.fileno() for s in batch}
    while left:
        for fd, ev in p.poll(20000):
            if fd in left:
                left.discard(fd); p.unregister(fd)
    for s in batch:
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if e: print('error', e, flush=True); sys.exit(1)
    socks += batch
print('connected', len(socks), flush=True)
sys.stdin.readline()
for s in socks: s.close()
print('closed', flush=True)
`;

describe('softnet TCP with a kernel peer', () => {
  it('curl gets a page from node:http on softnet TCP, and from the http service', async () => {
    const r = await nsExec(A, ['curl', '-sS', '-m', '20', 'http://10.1.0.1/'], { check: true });
    expect(r.stdout).toBe('hello\n');
    const s = await nsExec(A, ['curl', '-sS', '-m', '20', 'http://10.1.0.1:8080/'], { check: true });
    expect(s.stdout).toBe('hello from softnet\n');
    expect(mib().Tcp.PassiveOpens).toBeGreaterThanOrEqual(2);
  });

  it('a 100 MB download with curl arrives intact (SHA-256)', { timeout: 90_000 }, async () => {
    const retrans0 = mib().Tcp.RetransSegs;
    const t0 = performance.now();
    const r = await nsExec(A, ['sh', '-c', 'curl -sS -m 60 http://10.1.0.1/100 | sha256sum'], { timeoutMs: 70_000, check: true });
    const s = (performance.now() - t0) / 1000;
    expect(r.stdout.slice(0, 64)).toBe(sha(100));
    console.log(`100 MiB softnet -> curl in ${s.toFixed(2)} s (${((100 * 8 * 1.048576) / s).toFixed(0)} Mbit/s), RetransSegs +${mib().Tcp.RetransSegs - retrans0}`);
  });

  it('an upload from the kernel arrives intact, and the echo service echoes', { timeout: 60_000 }, async () => {
    const got = new Promise<{ sum: string; n: number }>((res) => {
      const srv = stack.tcp.createServer((c) => {
        const h = createHash('sha256');
        let n = 0;
        c.on('data', (d: Buffer) => {
          h.update(d);
          n += d.length;
        });
        c.on('end', () => {
          res({ sum: h.digest('hex'), n });
          c.end();
          srv.close();
        });
      });
      srv.listen(9000);
    });
    await nsExec(A, ['sh', '-c', `head -c ${20 << 20} /dev/urandom > /tmp/sn-tcp-up && sha256sum /tmp/sn-tcp-up`], { check: true });
    const want = (await nsExec(A, ['sha256sum', '/tmp/sn-tcp-up'], { check: true })).stdout.slice(0, 64);
    await nsExec(A, ['sh', '-c', 'nc -N -w 20 10.1.0.1 9000 < /tmp/sn-tcp-up; rm -f /tmp/sn-tcp-up'], { timeoutMs: 40_000, check: true });
    const r = await got;
    expect(r.n).toBe(20 << 20);
    expect(r.sum).toBe(want);
    const e = await nsExec(A, ['sh', '-c', 'printf "ping over tcp" | nc -N -w 10 10.1.0.1 7'], { check: true });
    expect(e.stdout).toBe('ping over tcp');
  });

  it('softnet connects out to a kernel nc -l: both directions, FIN on both sides', async () => {
    const nc = peerProcess(A, ['sh', '-c', 'printf "from the kernel" | nc -l -N 5000']);
    try {
      await listening(A, 'tcp', 5000);
      const c: TcpSocket = stack.tcp.connect({ host: '10.1.0.2', port: 5000 });
      const chunks: Buffer[] = [];
      c.on('data', (d: Buffer) => chunks.push(d));
      await new Promise<void>((res, rej) => {
        c.once('connect', () => c.end('from softnet'));
        c.once('error', rej);
        c.once('close', () => res());
      });
      expect(Buffer.concat(chunks).toString()).toBe('from the kernel');
      await nc.exit;
      expect(nc.out()).toBe('from softnet');
      expect(mib().Tcp.ActiveOpens).toBeGreaterThanOrEqual(1);
    } finally {
      nc.stop();
    }
  });

  it('softnet as the client of python3 -m http.server: node:http over a softnet connection downloads a file intact', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sn-http-'));
    const srv = peerProcess(A, ['python3', '-m', 'http.server', '8000', '--bind', '10.1.0.2', '--directory', dir]);
    try {
      writeFileSync(join(dir, 'f.bin'), Buffer.concat([CHUNK, CHUNK, CHUNK, CHUNK]));
      await listening(A, 'tcp', 8000);
      const opens0 = mib().Tcp.ActiveOpens;
      const agent = new http.Agent();
      (agent as unknown as { createConnection: unknown }).createConnection = () => stack.tcp.connect({ host: '10.1.0.2', port: 8000 });
      const body = await new Promise<{ status: number; hash: string; len: number }>((res, rej) => {
        http
          .get({ host: '10.1.0.2', port: 8000, path: '/f.bin', agent }, (r) => {
            const h = createHash('sha256');
            let len = 0;
            r.on('data', (d: Buffer) => {
              h.update(d);
              len += d.length;
            });
            r.on('end', () => res({ status: r.statusCode ?? 0, hash: h.digest('hex'), len }));
            r.on('error', rej);
          })
          .on('error', rej);
      });
      agent.destroy();
      expect(body).toEqual({ status: 200, hash: sha(4), len: 4 << 20 });
      expect(mib().Tcp.ActiveOpens).toBe(opens0 + 1);
    } finally {
      srv.stop();
      await srv.exit;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hostile segments from the peer host on a live connection are counted and kill nothing: bad checksum, bad offset, lying options, an out-of-window RST, a SYN, strangers', { timeout: 60_000 }, async () => {
    // The kernel end: sends "first", waits for "go" from softnet, sends "second", then prints what it got until EOF.
    const py = [
      'import socket, sys',
      's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("10.1.0.2", 5002)); s.listen(1)',
      'c, _ = s.accept(); c.sendall(b"first"); got = b""',
      'while b"go" not in got: got += c.recv(100)',
      'c.sendall(b"second"); c.shutdown(socket.SHUT_WR)',
      'while True:',
      '    d = c.recv(100)',
      '    if not d: break',
      '    got += d',
      'print(got.decode(), flush=True)',
    ].join('\n');
    const peer = peerProcess(A, ['python3', '-c', py]);
    try {
      await listening(A, 'tcp', 5002);
      const c = stack.tcp.connect({ host: '10.1.0.2', port: 5002 });
      const errors: Error[] = [];
      c.on('error', (e) => errors.push(e));
      let got = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => (got += d));
      const ended = new Promise((r) => c.once('end', r));
      await waitFor('"first" from the kernel', () => got === 'first');
      const m0 = mib();
      const seg = (o: { seq?: number; flags?: number; doff?: number; options?: number[]; dport?: number; payload?: number }) =>
        buildFrame({
          dstMac: lab.a.mac,
          srcMac: lab.a.host.mac,
          ip: { src: '10.1.0.2', dst: '10.1.0.1' },
          tcp: { sport: o.dport === undefined ? 5002 : 40000, dport: o.dport ?? c.localPort!, seq: o.seq ?? 12345, ack: 0, flags: o.flags ?? TCP_ACK, window: 65535, doff: o.doff, options: o.options },
          payload: o.payload ?? 0,
        });
      const badCsum = seg({ payload: 100 });
      badCsum[ETH_HLEN + IPV4_HLEN + TCP_CHECK] ^= 0x55;
      const frames = [
        badCsum,
        seg({ doff: 3 }), // offset below the header
        seg({ options: [2, 40, 1, 1, 8, 0, 3, 99], payload: 10 }), // option lengths past the header, out of window
        seg({ flags: TCP_RST, seq: 0x7fff0000 }), // a RST far outside the window
        seg({ flags: TCP_SYN }), // a SYN on the established 4-tuple
        seg({ dport: 4444, flags: TCP_SYN }), // strangers: a closed port
        seg({ dport: 4445, payload: 20 }),
      ];
      expect(await inject(A, lab.a.host.dev, frames)).toBe(frames.length);
      await waitFor('the hostile segments to be counted', () => {
        const m = mib();
        return m.Tcp.InCsumErrors > m0.Tcp.InCsumErrors && m.Tcp.InErrs >= m0.Tcp.InErrs + 2 && m.TcpExt.TCPSYNChallenge > m0.TcpExt.TCPSYNChallenge && m.Tcp.OutRsts >= m0.Tcp.OutRsts + 2;
      }, { detail: () => JSON.stringify({ Tcp: mib().Tcp, before: m0.Tcp }) });
      // The connection is untouched: both directions still work and close cleanly.
      c.write('go');
      c.write('bye');
      // The kernel's FIN ends the stream; without allowHalfOpen ours follows (node:net's habit).
      await ended;
      expect(got).toBe('firstsecond');
      await peer.exit;
      expect(peer.out().trim()).toBe('gobye');
      expect(errors).toEqual([]);
      expect(mib().Tcp.EstabResets).toBe(m0.Tcp.EstabResets);
    } finally {
      peer.stop();
    }
  });

  it('a closed port answers RST: nc says refused; softnet connecting to a closed kernel port gets ECONNREFUSED', async () => {
    const rsts0 = mib().Tcp.OutRsts;
    const r = await nsExec(A, ['nc', '-z', '-v', '-w', '5', '10.1.0.1', '81']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/refused/);
    expect(mib().Tcp.OutRsts).toBe(rsts0 + 1);
    const err = await new Promise<NodeJS.ErrnoException>((res) => stack.tcp.connect({ host: '10.1.0.2', port: 5999 }).once('error', res));
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.message).toBe('connect ECONNREFUSED 10.1.0.2:5999');
  });

  it("a kernel firewall's REJECT (ICMP port unreachable, not a RST) fails softnet's connect at once with ECONNREFUSED, as it fails Linux's", async () => {
    const rule = ['INPUT', '-p', 'tcp', '--dport', '5998', '-j', 'REJECT'];
    await nsExec(A, ['iptables', '-A', ...rule], { check: true });
    try {
      // Without the ICMP error this would be ETIMEDOUT after the SYN retries (~2 min).
      const err = await new Promise<NodeJS.ErrnoException>((res) => stack.tcp.connect({ host: '10.1.0.2', port: 5998 }).once('error', res));
      expect(err.message).toBe('connect ECONNREFUSED 10.1.0.2:5998');
    } finally {
      await nsExec(A, ['iptables', '-D', ...rule]);
    }
  });

  it('softnet ss -ti and stat show the connection, tcp_info and the Tcp MIB', async () => {
    const nc = peerProcess(A, ['nc', '-l', '5001']);
    try {
      await listening(A, 'tcp', 5001);
      const c = stack.tcp.connect({ host: '10.1.0.2', port: 5001 });
      await new Promise((r) => c.once('connect', r));
      c.write('x');
      await waitFor('the byte to be acknowledged', () => stack.tcp.info(c)!.unacked === 0);
      const ss = await softnet(['ss', '-tni', '--name', LAB]);
      expect(ss.code).toBe(0);
      expect(ss.stdout).toMatch(/ESTAB\s+0\s+0\s+10\.1\.0\.1:\d+\s+10\.1\.0\.2:5001/);
      expect(ss.stdout).not.toMatch(/TIME-WAIT/);
      expect(ss.stdout).toMatch(/cong:cubic wscale:\d+,7 rto:\d+.* rtt:[\d.]+\/[\d.]+ mss:1448 .*cwnd:10/);
      const ls = await softnet(['ss', '-tln', '--name', LAB]);
      expect(ls.stdout).toMatch(/LISTEN\s+0\s+511\s+0\.0\.0\.0:80\b/);
      const st = await softnet(['stat', '--name', LAB]);
      expect(st.stdout).toMatch(/Tcp:\n(\s+\w+: \S+\n)*\s+CurrEstab: [1-9]/);
      expect(st.stdout).toMatch(/TcpExt:/);
      c.destroy();
    } finally {
      nc.stop();
    }
  });

  it('a download through 2% loss, 5% reordering and 5 ms delay (netem on the kernel side) arrives intact; softnet retransmits', { timeout: 120_000 }, async () => {
    const retrans0 = mib().Tcp.RetransSegs;
    const ne = await netem(A, '10.1.0.1', { loss: 0.02, reorder: 0.05, delayMs: 5 });
    try {
      const t0 = performance.now();
      const r = await nsExec(A, ['sh', '-c', 'curl -sS -m 90 http://10.1.0.1/10 | sha256sum'], { timeoutMs: 100_000, check: true });
      const s = (performance.now() - t0) / 1000;
      expect(r.stdout.slice(0, 64)).toBe(sha(10));
      const st = ne.stats();
      expect(st.dropped).toBeGreaterThan(0);
      expect(st.reordered).toBeGreaterThan(0);
      const m = mib();
      expect(m.Tcp.RetransSegs).toBeGreaterThan(retrans0);
      console.log(`10 MiB through netem in ${s.toFixed(2)} s (${((10 * 8 * 1.048576) / s).toFixed(1)} Mbit/s); netem ${JSON.stringify(st)}; RetransSegs +${m.Tcp.RetransSegs - retrans0}, SACK recoveries ${m.TcpExt.TCPSackRecovery}, timeouts ${m.TcpExt.TCPTimeouts}`);
    } finally {
      await ne.stop();
    }
  });

  it('a SYN flood from a raw socket fills the SYN queue; SYN cookies let curl through all the same', { timeout: 60_000 }, async () => {
    const m0 = mib().TcpExt;
    const flood = synFlood(A, '10.1.0.1', 8080, 4);
    await waitFor('the SYN queue to overflow (cookies sent)', () => mib().TcpExt.SyncookiesSent > m0.SyncookiesSent + 1000);
    const r = await nsExec(A, ['curl', '-sS', '-m', '10', 'http://10.1.0.1:8080/'], { check: true });
    expect(r.stdout).toBe('hello from softnet\n');
    const sent = await flood;
    const m = mib().TcpExt;
    expect(m.SyncookiesRecv - m0.SyncookiesRecv).toBeGreaterThanOrEqual(1);
    console.log(`SYN flood: ${sent} SYNs in 4 s, SyncookiesSent +${m.SyncookiesSent - m0.SyncookiesSent}, SyncookiesRecv +${m.SyncookiesRecv - m0.SyncookiesRecv}; curl answered`);
    // Half-open connections are bounded by the backlog (they time out after tcp_synack_retries).
    expect(stack.tcp.sockets().filter((x) => x.state === 'SYN-RECV').length).toBeLessThanOrEqual(512);
  });

  it('10k concurrent connections from the kernel are held and closed cleanly: every frame back in the pool', { timeout: 180_000 }, async () => {
    const N = 10_000;
    let accepted = 0;
    let closed = 0;
    const srv = stack.tcp.createServer((c) => {
      accepted++;
      c.on('error', () => undefined);
      c.on('close', () => closed++);
      c.resume();
    });
    srv.listen({ port: 7000, backlog: 4096 });
    const p = spawnInNs(A, ['python3', '-c', MANY, '10.1.0.1', '7000', String(N)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    try {
      await waitFor(`${N} connections`, () => /connected|error|Error/.test(out) && accepted >= N, { timeoutMs: 120_000, detail: () => `${out} accepted ${accepted}` });
      expect(out).toMatch(`connected ${N}`);
      expect(mib().Tcp.CurrEstab).toBeGreaterThanOrEqual(N);
      expect(stack.tcp.sockets().filter((x) => x.state === 'ESTAB' && x.localPort === 7000).length).toBe(N);
      const held = stack.frames();
      console.log(`${N} connections held: heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB, frames ${JSON.stringify(held)}`);
      p.stdin!.write('close\n');
      await waitFor(`${N} connections closed`, () => closed >= N, { timeoutMs: 60_000, detail: () => `closed ${closed}` });
      const left = () => stack.tcp.sockets().filter((x) => x.localPort === 7000 && x.state !== 'LISTEN');
      await waitFor('the table to empty', () => left().length === 0, { detail: () => JSON.stringify(left().slice(0, 3)) + ` and ${left().length} in all` });
      const f = stack.frames();
      expect(f.sockets).toBe(0);
      expect(f.lost).toBe(0);
      // (The neighbour queue may still hold SYN-ACKs of the flood, to hosts that never answer ARP.)
      expect(f.free + f.ports + f.neigh).toBe(f.total);
    } finally {
      p.kill();
      srv.close();
    }
  });
});
