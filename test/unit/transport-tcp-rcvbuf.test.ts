// Receive buffer autotuning (tcp_rcv_space_adjust) and the out-of-order queue bounded in bytes,
// with crafted segments and a manual clock: the peer sends what our window allows every RTT.
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../src/transport/tcp/socket.ts';
import type { TcpSysctl } from '../../src/transport/tcp/sysctl.ts';
import { SYN, tcpLab, type Sent, type TcpLab } from '../support/transport-tcp.ts';

let lab: TcpLab;
afterEach(async () => {
  await lab?.stop();
});

const P = 1000;
const MSS = 1448;

async function accepted(l: TcpLab) {
  const got: TcpSocket[] = [];
  l.s.tcp.createServer((c) => got.push(c)).listen(80);
  await l.settle();
  await l.rx(l.seg({ seq: P, flags: SYN, mss: 1460, wscale: 7, sackOk: true }));
  const [sa] = await l.tx();
  await l.rx(l.seg({ seq: P + 1, ack: sa.seq + 1, win: 65535 }));
  return { s: got[0], iss: sa.seq, ws: sa.opts.wscale };
}

/** `rounds` RTTs of 1 ms, each filling the window we advertised; the app reads (or not). Returns the last right edge offered. */
async function bulk(l: TcpLab, c: { iss: number; ws: number }, rounds: number): Promise<{ seq: number; edge: number }> {
  let seq = P + 1;
  let edge = seq + 65535;
  for (let r = 0; r < rounds; r++) {
    const frames: Uint8Array[] = [];
    while (edge - seq >= MSS) {
      frames.push(l.seg({ seq, ack: c.iss + 1, payload: MSS }));
      seq += MSS;
    }
    let out: Sent[] = [];
    for (let k = 0; k < frames.length; k += 64) {
      await l.rx(...frames.slice(k, k + 64));
      out = out.concat(await l.tx());
    }
    await l.advance(1);
    out = out.concat(await l.tx());
    for (const a of out) edge = Math.max(edge, a.ack + a.win * (1 << c.ws));
  }
  return { seq, edge };
}

describe('receive buffer autotuning', () => {
  it('a reader that keeps up grows the window past tcp_rmem[1] within tcp_rmem[2] and half the sockets frame share', async () => {
    lab = await tcpLab();
    const c = await accepted(lab);
    c.s.resume();
    const { seq, edge } = await bulk(lab, c, 12);
    const t = c.s.tcb!;
    const cap = Math.min(6291456, (lab.s.transport.sysctl.sock_frames_max >>> 1) * 1460); // advmss: no timestamps here
    expect(t.rcvbuf).toBeGreaterThan(131072);
    expect(t.rcvbuf).toBeLessThanOrEqual(cap);
    expect(edge - seq).toBeGreaterThan(131072); // the peer was offered the larger window
    expect(lab.ext('TCPOFODrop')).toBe(0);
  });

  it('stays at tcp_rmem[1] with tcp_moderate_rcvbuf 0, and for a reader that does not read', async () => {
    for (const [sys, read] of [[{ tcp_moderate_rcvbuf: 0 }, true], [{}, false]] as Array<[Partial<TcpSysctl>, boolean]>) {
      lab = await tcpLab({ sysctl: sys });
      const c = await accepted(lab);
      if (read) c.s.resume();
      await bulk(lab, c, 8);
      expect(c.s.tcb!.rcvbuf).toBe(131072);
      await lab.stop();
      lab = undefined as unknown as TcpLab;
    }
  });
});

describe('out-of-order queue bounded in bytes', () => {
  it('frames are charged at their truesize: small segments stop at twice the buffer in frames (TCPOFODrop), not at a segment count', async () => {
    lab = await tcpLab({ sysctl: { tcp_rmem: [4096, 65536, 65536] } });
    const c = await accepted(lab);
    const frames = [];
    // Every other 100-byte piece ahead of rcv_nxt, inside the window: none can be delivered.
    for (let k = 0; k < 300; k++) frames.push(lab.seg({ seq: P + 1 + 1000 + k * 200, ack: c.iss + 1, payload: 100 }));
    for (let k = 0; k < 300; k += 100) await lab.rx(...frames.slice(k, k + 100));
    await lab.tx();
    const truesize = lab.s.transport.mem.truesize;
    expect(lab.s.frames().sockets).toBe(Math.floor((2 * 65536) / truesize));
    expect(lab.ext('TCPOFODrop')).toBe(300 - lab.s.frames().sockets);
  });

  it('a window of full-sized segments out of order is held whole (more than the 128 segments of the old bound)', async () => {
    lab = await tcpLab({ sysctl: { tcp_rmem: [4096, 1 << 20, 1 << 22], tcp_moderate_rcvbuf: 0 } });
    lab.s.transport.sysctl.sock_frames_max = 4096;
    const c = await accepted(lab);
    const got: Buffer[] = [];
    c.s.on('data', (d) => got.push(d));
    // Segment 0 opens the window (its ACK offers the 1 MiB); segment 1 is lost, 300 after it
    // arrive (434 KB, inside the window).
    await lab.rx(lab.seg({ seq: P + 1, ack: c.iss + 1, payload: MSS }));
    await lab.tx();
    const frames = [];
    for (let k = 2; k <= 301; k++) frames.push(lab.seg({ seq: P + 1 + k * MSS, ack: c.iss + 1, payload: MSS }));
    for (let k = 0; k < 300; k += 50) await lab.rx(...frames.slice(k, k + 50));
    await lab.tx();
    expect(lab.ext('TCPOFODrop')).toBe(0);
    expect(lab.s.frames().sockets).toBe(300);
    await lab.rx(lab.seg({ seq: P + 1 + MSS, ack: c.iss + 1, payload: MSS }));
    const out = await lab.tx();
    expect(out[out.length - 1].ack).toBe(P + 1 + 302 * MSS);
    expect(Buffer.concat(got).length).toBe(302 * MSS);
    expect(lab.s.frames().sockets).toBe(0);
  });
});
