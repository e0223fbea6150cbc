// TCP's zero-copy receive (a server made with recvBatch: true): in-order bytes stay in their
// frames until the reader releases them, the window counts them, out-of-order frames join the
// queue when the hole fills, EOF follows the last of them, and every frame returns to the pool.
import { afterEach, describe, expect, it } from 'vitest';
import { TcpViews } from '../../src/transport/tcp/rcv-frames.ts';
import type { TcpSocket } from '../../src/transport/tcp/socket.ts';
import { ACK, FIN, PSH, RST, SYN, tcpLab, type TcpLab } from '../support/transport-tcp.ts';
import { pattern } from '../support/rng.ts';

let lab: TcpLab;
afterEach(async () => {
  await lab?.stop(); // throws unless every frame is back in the pool
});

const P = 1000; // the peer's ISS

async function accepted(l: TcpLab) {
  const got: TcpSocket[] = [];
  l.s.tcp.createServer({ recvBatch: true }, (c) => got.push(c)).listen(80);
  await l.settle();
  await l.rx(l.seg({ seq: P, flags: SYN, mss: 1460, wscale: 0, sackOk: true }));
  const [sa] = await l.tx();
  await l.rx(l.seg({ seq: P + 1, ack: sa.seq + 1 }));
  expect(got.length).toBe(1);
  return { s: got[0], iss: sa.seq };
}

/** The bytes of a recvBatch, copied out. */
const bytesOf = (v: TcpViews) => Buffer.concat(Array.from({ length: v.n }, (_, k) => v.bytes(k)));

describe('zero-copy receive (recvBatch)', () => {
  it('hands in-order bytes out of their frames; they close the window until released', async () => {
    lab = await tcpLab({ sysctl: { tcp_rmem: [4096, 16384, 16384] } });
    const { s, iss } = await accepted(lab);
    const d = pattern(2000);
    let told = 0;
    s.on('segments', () => told++);
    s.on('data', () => expect.unreachable('a zero-copy socket emits no data'));
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, payload: d.subarray(0, 1000) }), lab.seg({ seq: P + 1001, ack: iss + 1, flags: ACK | PSH, payload: d.subarray(1000) }));
    expect(told).toBe(1);
    expect(lab.s.frames().sockets).toBe(2);
    const [a] = await lab.tx();
    expect(a.ack).toBe(P + 2001);
    const scale = 4; // our window scale: rmem_max's
    expect(a.win * scale).toBe(16384 - 2000);
    const v = new TcpViews(1);
    expect(s.recvBatch(v)).toBe(1);
    expect(bytesOf(v)).toEqual(Buffer.from(d.subarray(0, 1000)));
    expect(s.recvBatch(v)).toBe(1); // releases the first
    expect(lab.s.frames().sockets).toBe(1);
    expect(bytesOf(v)).toEqual(Buffer.from(d.subarray(1000)));
    expect(s.recvBatch(v)).toBe(0);
    expect(s.bytesRead).toBe(2000);
    s.release();
    expect(lab.s.frames().sockets).toBe(0);
    // Released: the next ACK offers the whole buffer again.
    await lab.rx(lab.seg({ seq: P + 2001, ack: iss + 1, payload: 'x' }));
    await lab.advance(50);
    const out = await lab.tx();
    expect(out[out.length - 1].win).toBe((16384 - 1) >> 2);
    s.recvBatch(v);
    s.release();
  });

  it('out-of-order frames join the queue when the hole fills; EOF after the last bytes are handed out', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    const d = pattern(3000);
    let ended = false;
    s.on('end', () => (ended = true));
    s.resume();
    const v = new TcpViews(8);
    const got: Buffer[] = [];
    s.on('segments', () => {
      while (s.recvBatch(v) > 0) got.push(bytesOf(v));
      s.release();
    });
    await lab.rx(lab.seg({ seq: P + 1 + 2000, ack: iss + 1, flags: ACK | FIN, payload: d.subarray(2000) }));
    await lab.rx(lab.seg({ seq: P + 1 + 1000, ack: iss + 1, payload: d.subarray(1000, 2000) }));
    expect(got.length).toBe(0);
    expect(lab.s.frames().sockets).toBe(2);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, payload: d.subarray(0, 1000) }));
    expect(Buffer.concat(got)).toEqual(Buffer.from(d));
    expect(lab.s.frames().sockets).toBe(0);
    await lab.settle();
    expect(ended).toBe(true);
  });

  it('closing with bytes not handed out resets (TCPAbortOnClose) and frees their frames', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, payload: 500 }), lab.seg({ seq: P + 501, ack: iss + 1, payload: 500 }));
    await lab.tx();
    const v = new TcpViews(1);
    expect(s.recvBatch(v)).toBe(1); // one lent, one still queued
    expect(lab.s.frames().sockets).toBe(2);
    s.destroy();
    await lab.settle();
    expect(lab.s.frames().sockets).toBe(0);
    expect(lab.ext('TCPAbortOnClose')).toBe(1);
    expect((await lab.tx()).some((x) => (x.flags & RST) !== 0)).toBe(true);
  });

  it('a reset from the peer frees the frames held for the reader', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    s.on('error', () => undefined);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, payload: 700 }));
    expect(lab.s.frames().sockets).toBe(1);
    await lab.rx(lab.seg({ seq: P + 701, flags: RST }));
    expect(lab.s.frames().sockets).toBe(0);
  });
});
