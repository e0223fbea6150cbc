import { afterEach, describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../src/transport/tcp/socket.ts';
import { ACK, FIN, PSH, RST, SYN, tcpLab, type TcpLab } from '../support/transport-tcp.ts';

let lab: TcpLab;
afterEach(async () => {
  await lab?.stop();
});

/** A listener on :80 whose accepted sockets are collected. */
async function listen(l: TcpLab, port = 80) {
  const accepted: TcpSocket[] = [];
  const server = l.s.tcp.createServer((c) => accepted.push(c));
  server.listen(port);
  await l.settle();
  return { server, accepted };
}

/** The peer's handshake with options; returns our ISN. */
async function handshake(l: TcpLab, o: { sport?: number; iss?: number; ts?: boolean } = {}) {
  const iss = o.iss ?? 1000;
  await l.rx(l.seg({ sport: o.sport ?? 40000, seq: iss, flags: SYN, mss: 1460, wscale: 7, sackOk: true, ts: o.ts === false ? undefined : [5000, 0] }));
  const [synack] = await l.tx();
  await l.rx(l.seg({ sport: o.sport ?? 40000, seq: iss + 1, ack: synack.seq + 1, flags: ACK, win: 502, ts: o.ts === false ? undefined : [5001, synack.opts.tsVal] }));
  return { synack, iss: synack.seq };
}

describe('tcp: closed ports and validation', () => {
  it('a SYN to a closed port gets RST|ACK (ack = seq + 1), an ACK gets RST (seq = its ack), a RST nothing', async () => {
    lab = await tcpLab();
    await lab.rx(lab.seg({ dport: 81, seq: 100, flags: SYN }));
    let [r] = await lab.tx();
    expect(r.flags).toBe(RST | ACK);
    expect(r.ack).toBe(101);
    expect(r.seq).toBe(0);
    expect(r.sport).toBe(81);
    expect(r.dport).toBe(40000);
    expect(r.csumOk).toBe(true);
    await lab.rx(lab.seg({ dport: 81, seq: 100, ack: 7777, flags: ACK, payload: 'x' }));
    [r] = await lab.tx();
    expect(r.flags).toBe(RST);
    expect(r.seq).toBe(7777);
    await lab.rx(lab.seg({ dport: 81, seq: 100, flags: RST }));
    expect(await lab.tx()).toEqual([]);
    expect(lab.mib('OutRsts')).toBe(2);
    expect(lab.mib('InSegs')).toBe(3);
    expect(lab.drops('tcp.no_socket')).toBe(1);
  });

  it('bad checksums and data offsets are counted (InCsumErrors, InErrs) and dropped', async () => {
    lab = await tcpLab();
    await lab.rx(lab.seg({ dport: 81, flags: SYN, badCsum: true }), lab.seg({ dport: 81, flags: SYN, doff: 4 }), lab.seg({ dport: 81, flags: SYN, doff: 15 }));
    expect(await lab.tx()).toEqual([]);
    expect(lab.mib('InCsumErrors')).toBe(1);
    expect(lab.mib('InErrs')).toBe(3);
    expect(lab.drops('tcp.InCsumErrors')).toBe(1);
    expect(lab.drops('tcp.InErrs')).toBe(2);
  });
});

describe('tcp: passive open', () => {
  it('SYN -> SYN-ACK with MSS, SACK-permitted, timestamps, window scale; ACK -> ESTABLISHED and a connection', async () => {
    lab = await tcpLab();
    const { accepted } = await listen(lab);
    await lab.rx(lab.seg({ seq: 1000, flags: SYN, mss: 1460, wscale: 7, sackOk: true, ts: [5000, 0] }));
    const [sa] = await lab.tx();
    expect(sa.flags).toBe(SYN | ACK);
    expect(sa.ack).toBe(1001);
    expect(sa.opts.mss).toBe(1460);
    expect(sa.opts.sackOk).toBe(true);
    expect(sa.opts.hasTs).toBe(true);
    expect(sa.opts.tsEcr).toBe(5000);
    expect(sa.opts.wscale).toBe(7);
    expect(sa.df).toBe(true);
    expect(sa.csumOk).toBe(true);
    expect(lab.s.tcp.sockets().map((r) => r.state)).toEqual(['LISTEN', 'SYN-RECV']);
    expect(accepted.length).toBe(0);
    await lab.rx(lab.seg({ seq: 1001, ack: sa.seq + 1, flags: ACK, win: 502, ts: [5001, sa.opts.tsVal] }));
    expect(accepted.length).toBe(1);
    const c = accepted[0];
    expect(c.remoteAddress).toBe('10.1.0.2');
    expect(c.remotePort).toBe(40000);
    expect(c.localPort).toBe(80);
    expect(lab.mib('PassiveOpens')).toBe(1);
    expect(lab.mib('CurrEstab')).toBe(1);
    const info = lab.s.tcp.info(c)!;
    expect(info.state).toBe('ESTAB');
    expect(info.mss).toBe(1448);
    expect(info.sndWscale).toBe(7);
    expect(info.sndWnd).toBe(502 * 128);
  });

  it('data in order reaches the application; a second full segment is acknowledged at once', async () => {
    lab = await tcpLab();
    const { accepted } = await listen(lab);
    const { iss } = await handshake(lab, { ts: false });
    const got: Buffer[] = [];
    accepted[0].on('data', (d) => got.push(d));
    const a = Buffer.alloc(1460, 1);
    const b = Buffer.alloc(1460, 2);
    await lab.rx(lab.seg({ seq: 1001, ack: iss + 1, payload: a }), lab.seg({ seq: 2461, ack: iss + 1, flags: ACK | PSH, payload: b }));
    expect(Buffer.concat(got)).toEqual(Buffer.concat([a, b]));
    const acks = await lab.tx();
    expect(acks.length).toBe(1);
    expect(acks[0].ack).toBe(1001 + 2920);
    expect(acks[0].flags).toBe(ACK);
  });

  it('the FIN: CLOSE-WAIT and end on the socket; end() sends our FIN (LAST-ACK); its ACK closes', async () => {
    lab = await tcpLab();
    const { accepted } = await listen(lab);
    const { iss } = await handshake(lab, { ts: false });
    const c = accepted[0];
    let ended = false;
    let closed = false;
    c.on('end', () => (ended = true));
    c.on('close', () => (closed = true));
    c.resume();
    await lab.rx(lab.seg({ seq: 1001, ack: iss + 1, flags: ACK | FIN, payload: 'bye' }));
    // allowHalfOpen false: the end of the readable side ends the writable side -> our FIN.
    const out = await lab.tx();
    expect(ended).toBe(true);
    const fin = out.find((x) => x.flags & FIN)!;
    expect(fin.seq).toBe(iss + 1);
    expect(fin.ack).toBe(1001 + 3 + 1);
    expect(lab.s.tcp.sockets().find((r) => r.localPort === 80 && r.state !== 'LISTEN')!.state).toBe('LAST-ACK');
    await lab.rx(lab.seg({ seq: 1005, ack: iss + 2, flags: ACK }));
    await lab.settle();
    expect(closed).toBe(true);
    expect(lab.s.tcp.sockets().map((r) => r.state)).toEqual(['LISTEN']);
    expect(lab.mib('CurrEstab')).toBe(0);
    expect(lab.mib('EstabResets')).toBe(0);
  });
});
