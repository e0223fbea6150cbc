// Hostile segments against an established connection: bad checksums and offsets, garbage options,
// out-of-window data, RSTs and SYNs, segments for nobody. All counted; none may kill the
// connection (only an exact in-window RST may), none may leak a frame or throw.
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../src/transport/tcp/socket.ts';
import { ACK, FIN, PSH, RST, SYN, tcpLab, type TcpLab } from '../support/transport-tcp.ts';

let lab: TcpLab;
afterEach(async () => {
  await lab?.stop();
});

function rng(seed: number) {
  let x = seed >>> 0;
  return (n: number) => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    x = (x ^ (x >>> 12)) >>> 0;
    return x % n;
  };
}

const P = 1000;

async function established(l: TcpLab) {
  const got: TcpSocket[] = [];
  l.s.tcp.createServer((c) => got.push(c)).listen(80);
  await l.settle();
  await l.rx(l.seg({ seq: P, flags: SYN, mss: 1460, sackOk: true, ts: [100, 0] }));
  const [sa] = await l.tx();
  await l.rx(l.seg({ seq: P + 1, ack: sa.seq + 1, ts: [101, sa.opts.tsVal] }));
  const data: Buffer[] = [];
  got[0].on('data', (d) => data.push(d));
  let err: Error | null = null;
  got[0].on('error', (e) => (err = e));
  return { s: got[0], iss: sa.seq, tsEcr: sa.opts.tsVal, data, err: () => err };
}

describe('hostile segments', () => {
  it('5000 random segments outside the window (any flags, garbage options) leave the connection working', { timeout: 60_000 }, async () => {
    lab = await tcpLab();
    const c = await established(lab);
    const r = rng(42);
    const far = () => (P + 1 + 0x10000000 + r(0x40000000)) >>> 0; // well outside any window
    const frames: Uint8Array[] = [];
    for (let k = 0; k < 5000; k++) {
      const flags = r(256) & ~0; // every combination, RST/SYN/FIN/URG included
      const rawOpts = r(3) === 0 ? Array.from({ length: r(40) }, () => r(256)) : undefined;
      frames.push(lab.seg({ seq: far(), ack: r(2) ? c.iss + 1 : r(0x100000000), flags, payload: r(4) === 0 ? r(1400) : 0, rawOpts, ts: rawOpts ? undefined : [50 + r(100), c.tsEcr] }));
      if (frames.length === 200) {
        await lab.rx(...frames.splice(0));
        await lab.tx();
      }
    }
    await lab.rx(...frames);
    await lab.tx();
    expect(c.err()).toBe(null);
    expect(lab.s.tcp.info(c.s)!.state).toBe('ESTAB');
    // Still a working connection, both ways.
    await lab.rx(lab.seg({ seq: P + 1, ack: c.iss + 1, flags: ACK | PSH, payload: 'still here', ts: [300, c.tsEcr] }));
    expect(Buffer.concat(c.data).toString()).toBe('still here');
    c.s.write('and me');
    const out = await lab.tx();
    expect(out.some((x) => Buffer.from(x.payload).toString() === 'and me')).toBe(true);
    // The challenge ACKs were rate limited (tcp_challenge_ack_limit per second).
    expect(lab.ext('TCPChallengeACK')).toBeLessThanOrEqual(1000);
    expect(lab.s.frames().sockets).toBe(0);
  });

  it('corrupt segments are counted and dropped before they touch the connection, even a RST at rcv_nxt', async () => {
    lab = await tcpLab();
    const c = await established(lab);
    await lab.rx(
      lab.seg({ seq: P + 1, ack: c.iss + 1, flags: RST, badCsum: true }),
      lab.seg({ seq: P + 1, ack: c.iss + 1, flags: ACK, doff: 3, payload: 'x' }), // offset below 5
      lab.seg({ seq: P + 1, ack: c.iss + 1, flags: ACK, doff: 15 }), // offset past the segment
      lab.seg({ seq: P + 1, ack: c.iss + 1, flags: ACK | FIN, payload: 'bad', badCsum: true }),
    );
    expect(lab.mib('InCsumErrors')).toBe(2);
    expect(lab.mib('InErrs')).toBe(4);
    expect(lab.s.tcp.info(c.s)!.state).toBe('ESTAB');
    expect(c.data.length).toBe(0);
  });

  it('options that lie (lengths past the header, zero, one) parse safely; the data still arrives', async () => {
    lab = await tcpLab();
    const c = await established(lab);
    let seq = P + 1;
    for (const opts of [[8, 40, 1, 2], [2, 0, 0, 0], [2, 1, 5, 180], [5, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [3, 3, 255, 1], [1, 1, 1, 0]]) {
      await lab.rx(lab.seg({ seq, ack: c.iss + 1, flags: ACK | PSH, rawOpts: opts, payload: 'ok' }));
      seq += 2;
    }
    await lab.settle();
    expect(Buffer.concat(c.data).toString()).toBe('ok'.repeat(6));
    expect(lab.s.tcp.info(c.s)!.state).toBe('ESTAB');
  });

  it('SACK blocks for data never sent or below snd_una are ignored (TCPSACKDiscard, D-SACK)', async () => {
    lab = await tcpLab();
    const c = await established(lab);
    c.s.write(Buffer.alloc(3000, 1));
    await lab.tx();
    const base = c.iss + 1;
    // (Each a window update, so they are not dup ACKs: three of those would rightly start recovery.)
    await lab.rx(
      lab.seg({ seq: P + 1, ack: base, win: 60000, sack: [[base + 5000, base + 9000]], ts: [200, c.tsEcr] }),
      lab.seg({ seq: P + 1, ack: base, win: 60001, sack: [[base - 500, base]], ts: [201, c.tsEcr] }),
      lab.seg({ seq: P + 1, ack: base, win: 60002, sack: [[base + 100, base + 50]], ts: [202, c.tsEcr] }),
    );
    expect(lab.s.tcp.info(c.s)!.sacked).toBe(0);
    expect(lab.ext('TCPSACKDiscard')).toBe(2);
    expect(lab.ext('TCPDSACKRecv')).toBe(1);
    expect(lab.s.tcp.info(c.s)!.caState).toBe('open');
  });

  it('segments for unknown connections get RSTs (never for a RST), create nothing, hold no frame', async () => {
    lab = await tcpLab();
    await established(lab);
    const r = rng(7);
    const frames = [];
    for (let k = 0; k < 300; k++) frames.push(lab.seg({ sport: 1 + r(65535), dport: 1000 + r(60000), seq: r(0x100000000), ack: r(0x100000000), flags: k % 3 === 0 ? RST : ACK, payload: r(100) }));
    await lab.rx(...frames);
    const out = await lab.tx();
    expect(out.filter((x) => x.sport !== 80).length, JSON.stringify(out.filter((x) => x.flags !== (RST | ACK) && x.flags !== RST))).toBe(200);
    expect(out.filter((x) => (x.flags & RST) === 0 || !x.csumOk).map((x) => [x.sport, x.dport, x.flags, x.csumOk])).toEqual([]);
    expect(lab.s.tcp.sockets().length).toBe(2); // the listener and the one connection
    expect(lab.drops('tcp.no_socket')).toBe(100);
    expect(lab.s.frames().sockets).toBe(0);
  });

  it('a flood of out-of-order segments is bounded: the frames sockets may hold, then TCPOFODrop', async () => {
    lab = await tcpLab({ sysctl: { tcp_rmem: [4096, 1 << 20, 1 << 22] } });
    lab.s.transport.sysctl.sock_frames_max = 200;
    const c = await established(lab);
    const frames = [];
    // Every other 100-byte piece, far ahead of rcv_nxt: none can be delivered.
    for (let k = 0; k < 400; k++) frames.push(lab.seg({ seq: P + 1 + 1000 + k * 200, ack: c.iss + 1, payload: 100, ts: [200, c.tsEcr] }));
    for (let k = 0; k < 400; k += 100) await lab.rx(...frames.slice(k, k + 100));
    await lab.tx();
    const held = lab.s.frames().sockets;
    expect(held).toBe(200); // the sockets' frame share (the socket's own bound, 2 x rcvbuf at truesize, is 1024 frames)
    expect(lab.ext('TCPOFODrop')).toBeGreaterThan(0);
    expect(lab.s.tcp.info(c.s)!.state).toBe('ESTAB');
    // Closing the connection gives them all back (checked by stop()).
  });
});
