// HTTP keep-alive over softnet TCP with a manual clock: a peer that behaves like a kernel client in
// pingpong mode (its ACK rides on its next request, else comes after its 40 ms delayed-ACK timer)
// must get every response whole without waiting for a timer.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { respond } from '../../src/transport/tcp/services.ts';
import type { TcpServerOptions } from '../../src/transport/tcp/server.ts';
import { ACK, PSH, SYN, tcpLab, type Sent, type TcpLab } from '../support/transport-tcp.ts';

let lab: TcpLab;
afterEach(async () => {
  await lab?.stop();
});

const P = 1000; // the peer's ISS
const REQ = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';

/** node:http on :80 over softnet connections; a handshake; returns the peer's next seq and ack. */
async function httpConn(l: TcpLab, handler: http.RequestListener, o: TcpServerOptions = {}) {
  const hs = http.createServer(handler);
  l.s.tcp.createServer(o, (c) => hs.emit('connection', c)).listen(80);
  await l.settle();
  await l.rx(l.seg({ seq: P, flags: SYN, mss: 1460, wscale: 7, sackOk: true }));
  const [sa] = await l.tx();
  await l.rx(l.seg({ seq: P + 1, ack: sa.seq + 1, win: 65535 }));
  return { seq: P + 1, ack: sa.seq + 1 };
}

const bytes = (x: Sent[]) => x.reduce((n, s) => n + s.payload.length, 0);
const text = (x: Sent[]) => Buffer.concat(x.map((s) => s.payload)).toString();

describe('HTTP keep-alive (Nagle, delayed ACK, pingpong)', () => {
  it("a corked response (node:http's head and body in one writev) leaves whole; after the first reply the request's ACK rides on it (pingpong)", async () => {
    lab = await tcpLab();
    let { seq, ack } = await httpConn(lab, respond);
    for (let k = 0; k < 20; k++) {
      // The peer's ACK for the previous response rides on this request, as a kernel client's does.
      await lab.rx(lab.seg({ seq, ack, flags: ACK | PSH, payload: REQ }));
      seq += REQ.length;
      const out = await lab.tx(); // no clock advance: nothing may wait for an ACK or a timer
      const t = text(out);
      expect(t.startsWith('HTTP/1.1 200 OK')).toBe(true);
      expect(t.endsWith('hello from softnet\n\r\n0\r\n\r\n')).toBe(true);
      // Before the fix the first piece left alone and Nagle held the rest until the next ACK.
      const data = out.filter((s) => s.payload.length > 0);
      expect(data.length).toBe(1);
      // The first request is quick-acked (quickack mode after the handshake); then the reply
      // carries the ACK: no pure ACK per request (tcp_in_quickack_mode is off in pingpong).
      if (k > 0) expect(out.length).toBe(1);
      expect(data[0].ack).toBe(seq);
      ack = data[0].seq + data[0].payload.length;
    }
    expect(lab.ext('DelayedACKs')).toBe(0);
  });

  it('pingpong ends when the delayed-ACK timer has to send the ACK: the next data is quick-acked again', async () => {
    lab = await tcpLab();
    let { seq, ack } = await httpConn(lab, respond);
    for (let k = 0; k < 2; k++) {
      await lab.rx(lab.seg({ seq, ack, flags: ACK | PSH, payload: REQ }));
      seq += REQ.length;
      const out = await lab.tx();
      ack = Math.max(...out.map((s) => s.seq + s.payload.length));
    }
    // A partial request: no reply comes, so the ACK waits for the delayed-ACK timer.
    await lab.rx(lab.seg({ seq, ack, flags: ACK | PSH, payload: 'GET / HTTP/1.1\r\n' }));
    seq += 16;
    expect(await lab.tx()).toEqual([]);
    await lab.advance(41);
    const [d] = await lab.tx();
    expect(d.ack).toBe(seq);
    expect(lab.ext('DelayedACKs')).toBe(1);
    // Out of pingpong, still in quickack mode: the next segment is acknowledged at once.
    await lab.rx(lab.seg({ seq, ack, flags: ACK | PSH, payload: 'X-A: 1\r\n' }));
    seq += 8;
    const [q] = await lab.tx();
    expect(q.ack).toBe(seq);
    expect(q.payload.length).toBe(0);
  });

  it('writes in two ticks: Nagle holds the second until the ACK; noDelay (what node:http sets on node:net, and the http service) sends it at once', async () => {
    const twoTicks: http.RequestListener = (_req, res) => {
      res.writeHead(200, { 'content-length': '5' });
      res.flushHeaders();
      setImmediate(() => res.end('later'));
    };
    for (const noDelay of [false, true]) {
      lab = await tcpLab();
      const { seq, ack } = await httpConn(lab, twoTicks, { noDelay });
      await lab.rx(lab.seg({ seq, ack, flags: ACK | PSH, payload: REQ }));
      const out = await lab.tx();
      expect(text(out).endsWith('later')).toBe(noDelay);
      if (!noDelay) {
        // The peer's ACK of the head releases the body.
        const head = out.filter((s) => s.payload.length > 0)[0];
        await lab.rx(lab.seg({ seq: seq + REQ.length, ack: head.seq + head.payload.length }));
        expect(text(await lab.tx())).toBe('later');
      }
      expect(bytes(out)).toBeGreaterThan(0);
      await lab.stop();
      lab = undefined as unknown as TcpLab;
    }
  });
});
