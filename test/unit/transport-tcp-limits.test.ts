// TCP's bounds and measurement rules with crafted segments (a memory stack, a manual clock):
// Karn's rule (no RTT sample from retransmitted data), a full accept queue (ListenOverflows),
// a full connection table (tcp_max_conns: SYNs dropped or answered with cookies, connect EAGAIN).
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../src/transport/tcp/socket.ts';
import { SYN, tcpLab, type TcpLab } from '../support/transport-tcp.ts';

let lab: TcpLab;
afterEach(async () => {
  await lab?.stop();
});

const P = 1000; // the peer's ISS

describe('TCP limits and rules', () => {
  it("Karn's rule: the ACK of retransmitted data gives no RTT sample; fresh data does (RFC 6298 3)", async () => {
    lab = await tcpLab();
    const got: TcpSocket[] = [];
    lab.s.tcp.createServer((c) => got.push(c)).listen(80);
    await lab.settle();
    await lab.advance(10);
    await lab.rx(lab.seg({ seq: P, flags: SYN, mss: 1460 }));
    const [sa] = await lab.tx();
    await lab.advance(10);
    await lab.rx(lab.seg({ seq: P + 1, ack: sa.seq + 1 }));
    const s = got[0];
    const rtt0 = lab.s.tcp.info(s)!.rtt;
    s.write(Buffer.alloc(1000, 1));
    expect((await lab.tx()).length).toBe(1);
    // The RTO fires and the segment goes again; its ACK comes 300 ms after the first send.
    await lab.advance(300);
    expect((await lab.tx()).length).toBe(1);
    expect(lab.mib('RetransSegs')).toBe(1);
    await lab.rx(lab.seg({ seq: P + 1, ack: sa.seq + 1 + 1000 }));
    expect(lab.s.tcp.info(s)!.rtt).toBe(rtt0);
    // New data acknowledged 80 ms later is measured.
    s.write(Buffer.alloc(1000, 2));
    expect((await lab.tx()).length).toBe(1);
    await lab.advance(80);
    await lab.rx(lab.seg({ seq: P + 1, ack: sa.seq + 1 + 2000 }));
    expect(lab.s.tcp.info(s)!.rtt).toBeGreaterThan(rtt0 + 5);
  });

  it('a full accept queue drops the SYN (ListenOverflows, ListenDrops)', async () => {
    lab = await tcpLab({ sysctl: { tcp_syncookies: 0 } });
    // The server takes connections off the accept queue on a microtask after the dispatch: the
    // handshake's ACK and the next SYN arrive in one dispatch, so the SYN finds the queue full.
    lab.s.tcp.createServer().listen({ port: 80, backlog: 1 });
    await lab.settle();
    await lab.rx(lab.seg({ sport: 1, seq: P, flags: SYN }));
    const [sa] = await lab.tx();
    await lab.rx(lab.seg({ sport: 1, seq: P + 1, ack: sa.seq + 1 }), lab.seg({ sport: 2, seq: P, flags: SYN }));
    expect(await lab.tx()).toEqual([]);
    expect(lab.ext('ListenOverflows')).toBe(1);
    expect(lab.ext('ListenDrops')).toBe(1);
  });

  it('tcp_max_conns bounds the table: a SYN beyond it is dropped (or answered with a cookie), connect() fails EAGAIN', async () => {
    lab = await tcpLab({ sysctl: { tcp_max_conns: 2, tcp_syncookies: 0 } });
    lab.s.tcp.createServer().listen(80);
    await lab.settle();
    await lab.rx(lab.seg({ sport: 1, seq: P, flags: SYN }), lab.seg({ sport: 2, seq: P, flags: SYN }), lab.seg({ sport: 3, seq: P, flags: SYN }));
    expect((await lab.tx()).length).toBe(2);
    expect(lab.ext('ListenDrops')).toBe(1);
    const c = lab.s.tcp.connect({ host: '10.1.0.2', port: 5000 });
    const e = await new Promise<NodeJS.ErrnoException>((r) => c.once('error', r));
    expect(e.code).toBe('EAGAIN');
    lab.s.sysctl('tcp_syncookies', 1);
    await lab.rx(lab.seg({ sport: 4, seq: P, flags: SYN }));
    expect((await lab.tx()).length).toBe(1);
    expect(lab.ext('SyncookiesSent')).toBe(1);
    expect(lab.s.tcp.sockets().filter((r) => r.state !== 'LISTEN').length).toBe(2);
  });
});
