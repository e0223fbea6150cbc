// The TCP state machine's edges with crafted segments (a memory stack, a manual clock).
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpSocket } from '../../src/transport/tcp/socket.ts';
import { ACK, FIN, PSH, RST, SYN, tcpLab, type Sent, type TcpLab } from '../support/transport-tcp.ts';
import { pattern } from '../support/rng.ts';

let lab: TcpLab;
afterEach(async () => {
  await lab?.stop();
});

const P = 1000; // the peer's ISS

/** Listen on :80, complete a handshake (no timestamps unless asked), return our ISS and the socket. */
async function accepted(l: TcpLab, o: { ts?: boolean; sack?: boolean; win?: number } = {}) {
  const got: TcpSocket[] = [];
  l.s.tcp.createServer((c) => got.push(c)).listen(80);
  await l.settle();
  await l.rx(l.seg({ seq: P, flags: SYN, mss: 1460, wscale: 0, sackOk: o.sack ?? true, ts: o.ts ? [100, 0] : undefined }));
  const [sa] = await l.tx();
  await l.rx(l.seg({ seq: P + 1, ack: sa.seq + 1, win: o.win ?? 65535, ts: o.ts ? [101, sa.opts.tsVal] : undefined }));
  expect(got.length).toBe(1);
  return { s: got[0], iss: sa.seq, synack: sa };
}

const state = (l: TcpLab) => l.s.tcp.sockets().filter((r) => r.state !== 'LISTEN').map((r) => r.state);
const dataOf = (x: Sent[]) => Buffer.concat(x.map((s) => s.payload));

describe('RFC 5961 and validation in synchronized states', () => {
  it('a RST at rcv_nxt resets (ECONNRESET); one elsewhere in the window draws a challenge ACK; outside, nothing', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    let err: NodeJS.ErrnoException | null = null;
    s.on('error', (e) => (err = e));
    await lab.rx(lab.seg({ seq: P + 1 + 500, flags: RST }));
    const [ch] = await lab.tx();
    expect(ch.flags).toBe(ACK);
    expect(ch.ack).toBe(P + 1);
    expect(ch.seq).toBe(iss + 1);
    expect(lab.ext('TCPChallengeACK')).toBe(1);
    await lab.rx(lab.seg({ seq: P + 1 + 1_000_000, flags: RST }));
    expect(await lab.tx()).toEqual([]);
    expect(state(lab)).toEqual(['ESTAB']);
    await lab.rx(lab.seg({ seq: P + 1, flags: RST }));
    expect(state(lab)).toEqual([]);
    expect(err!.code).toBe('ECONNRESET');
    expect(lab.mib('EstabResets')).toBe(1);
    expect(lab.mib('CurrEstab')).toBe(0);
  });

  it('a SYN on an established connection draws a challenge ACK (TCPSYNChallenge), the connection stays', async () => {
    lab = await tcpLab();
    await accepted(lab);
    await lab.rx(lab.seg({ seq: P + 77, flags: SYN }));
    const [ch] = await lab.tx();
    expect(ch.flags).toBe(ACK);
    expect(ch.ack).toBe(P + 1);
    expect(lab.ext('TCPSYNChallenge')).toBe(1);
    expect(state(lab)).toEqual(['ESTAB']);
  });

  it('an ACK for data never sent is answered and dropped; old data is acknowledged again', async () => {
    lab = await tcpLab();
    const { iss } = await accepted(lab);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1000 }));
    const [a] = await lab.tx();
    expect(a.ack).toBe(P + 1);
    expect(lab.drops('tcp.ack_unsent_data')).toBe(1);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, payload: 'abc' }));
    await lab.tx();
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, payload: 'abc' }));
    const [dup] = await lab.tx();
    expect(dup.ack).toBe(P + 4);
    expect(lab.drops('tcp.old_data')).toBe(1);
  });

  it('PAWS: a segment with an older timestamp is dropped and acknowledged (PAWSEstab)', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab, { ts: true });
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, ts: [200, 0], payload: 'new' }));
    await lab.tx();
    await lab.rx(lab.seg({ seq: P + 4, ack: iss + 1, ts: [150, 0], payload: 'old' }));
    const [a] = await lab.tx();
    expect(a.ack).toBe(P + 4);
    expect(a.opts.tsEcr).toBe(200);
    expect(lab.ext('PAWSEstab')).toBe(1);
    expect(Buffer.concat(got).toString()).toBe('new');
  });
});

describe('receiving', () => {
  it('out-of-order data waits in its frame, a dup ACK with SACK goes at once, the hole fills in order', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    const got: Buffer[] = [];
    s.on('data', (d) => got.push(d));
    const d = pattern(3000);
    await lab.rx(lab.seg({ seq: P + 1 + 2000, ack: iss + 1, payload: d.subarray(2000) }));
    let [a] = await lab.tx();
    expect(a.ack).toBe(P + 1);
    expect(a.opts.sackN).toBe(1);
    expect([...a.opts.sack.subarray(0, 2)]).toEqual([P + 1 + 2000, P + 1 + 3000]);
    expect(lab.s.frames().sockets).toBe(1);
    expect(got.length).toBe(0);
    await lab.rx(lab.seg({ seq: P + 1 + 1000, ack: iss + 1, payload: d.subarray(1000, 2000) }));
    [a] = await lab.tx();
    expect([...a.opts.sack.subarray(0, 4)]).toEqual([P + 1 + 1000, P + 1 + 3000, 0, 0].slice(0, a.opts.sackN * 2).concat(a.opts.sackN === 1 ? [0, 0] : []));
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, payload: d.subarray(0, 1000) }));
    [a] = await lab.tx();
    expect(a.ack).toBe(P + 1 + 3000);
    expect(a.opts.sackN).toBe(0);
    expect(Buffer.concat(got)).toEqual(Buffer.from(d));
    expect(lab.ext('TCPOFOQueue')).toBe(2);
    expect(lab.s.frames().sockets).toBe(0);
  });

  it('a FIN out of order waits for the data before it', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    let ended = false;
    s.on('end', () => (ended = true));
    s.resume();
    await lab.rx(lab.seg({ seq: P + 4, ack: iss + 1, flags: ACK | FIN, payload: 'def' }));
    expect(ended).toBe(false);
    expect(state(lab)).toEqual(['ESTAB']);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, payload: 'abc' }));
    expect(ended).toBe(true);
    expect(state(lab)).toEqual(['LAST-ACK']); // allowHalfOpen false: our FIN followed
  });

  it('delayed ACK: after the quickack segments, a lone small segment is acknowledged after 40 ms (DelayedACKs)', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    s.resume();
    let seq = P + 1;
    for (let k = 0; k < 16; k++) {
      await lab.rx(lab.seg({ seq, ack: iss + 1, payload: 'x' }));
      seq++;
      expect((await lab.tx()).length).toBe(1);
    }
    await lab.rx(lab.seg({ seq, ack: iss + 1, payload: 'y' }));
    expect(await lab.tx()).toEqual([]);
    await lab.advance(39);
    expect(await lab.tx()).toEqual([]);
    await lab.advance(2);
    const [a] = await lab.tx();
    expect(a.ack).toBe(seq + 1);
    expect(lab.ext('DelayedACKs')).toBe(1);
  });

  it('a reader that stops closes the window; reading reopens it with a window update', async () => {
    lab = await tcpLab({ sysctl: { tcp_rmem: [4096, 16384, 16384] } });
    const { s, iss } = await accepted(lab);
    s.pause();
    let seq = P + 1;
    let last: Sent | undefined;
    for (let k = 0; k < 40 && (last === undefined || last.win > 0); k++) {
      await lab.rx(lab.seg({ seq, ack: iss + 1, flags: ACK | PSH, payload: 1000 }));
      seq += 1000;
      const out = await lab.tx();
      if (out.length) last = out[out.length - 1];
    }
    expect(last!.win).toBe(0);
    expect(lab.ext('TCPToZeroWindowAdv')).toBe(1);
    // Beyond a zero window: dropped (TCPZeroWindowDrop) and acknowledged.
    await lab.rx(lab.seg({ seq: last!.ack, ack: iss + 1, payload: 1000 }));
    const [z] = await lab.tx();
    expect(z.win).toBe(0);
    expect(z.ack).toBe(last!.ack);
    expect(lab.ext('TCPZeroWindowDrop')).toBeGreaterThanOrEqual(1);
    s.read();
    while (s.read() !== null);
    s.resume();
    const [upd] = await lab.tx();
    expect(upd.win).toBeGreaterThan(2000);
    expect(lab.ext('TCPFromZeroWindowAdv')).toBe(1);
  });
});

describe('sending and retransmission', () => {
  it('sends within cwnd (10) and the peer window, PSH on the last; RTO retransmits the head with backoff', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    const data = pattern(20 * 1460);
    s.write(data);
    let out = await lab.tx();
    expect(out.length).toBe(10);
    expect(out.every((x) => x.payload.length === 1460 && x.csumOk)).toBe(true);
    expect(out[0].seq).toBe(iss + 1);
    expect(dataOf(out)).toEqual(Buffer.from(data.subarray(0, 14600)));
    // The RTO: the handshake measured ~0 ms, so SRTT + max(4 RTTVAR, 200 ms) = 201 ms.
    await lab.advance(200);
    expect(await lab.tx()).toEqual([]);
    await lab.advance(2);
    out = await lab.tx();
    expect(out.length).toBe(1);
    expect(out[0].seq).toBe(iss + 1);
    expect(lab.mib('RetransSegs')).toBe(1);
    expect(lab.ext('TCPTimeouts')).toBe(1);
    const info = lab.s.tcp.info(s)!;
    expect(info.cwnd).toBe(1);
    expect(info.caState).toBe('loss');
    // Backed off: the next one after twice that.
    await lab.advance(400);
    expect(await lab.tx()).toEqual([]);
    await lab.advance(2);
    expect((await lab.tx()).length).toBe(1);
    // The ACK of everything sent (10 segments): slow start from cwnd 1 up to ssthresh (7).
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1 + 14600 }));
    out = await lab.tx();
    expect(out.length).toBe(7);
    expect(out[0].seq).toBe(iss + 1 + 14600);
    expect(lab.s.tcp.info(s)!.caState).toBe('open');
  });

  it('three dup ACKs with SACK: fast retransmit of the hole (TCPSackRecovery), recovery ends at the recovery point', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    s.write(pattern(10 * 1460));
    await lab.tx();
    const base = iss + 1;
    // Segment 0 is lost; 1, 2, 3 arrive: three dup ACKs, each SACKing more.
    for (let k = 1; k <= 3; k++) await lab.rx(lab.seg({ seq: P + 1, ack: base, sack: [[base + 1460, base + 1460 * (k + 1)]] }));
    const out = await lab.tx();
    expect(out[0].seq).toBe(base);
    expect(out[0].payload.length).toBe(1460);
    expect(lab.ext('TCPSackRecovery')).toBe(1);
    expect(lab.ext('TCPFastRetrans')).toBeGreaterThanOrEqual(1);
    const info = lab.s.tcp.info(s)!;
    expect(info.caState).toBe('recovery');
    expect(info.ssthresh).toBe(7); // CUBIC: 10 * 0.7
    await lab.rx(lab.seg({ seq: P + 1, ack: base + 10 * 1460 }));
    await lab.tx();
    expect(lab.s.tcp.info(s)!.caState).toBe('open');
    // cwnd = ssthresh on leaving recovery (the same ACK may then grow it by one, as Linux may).
    expect(lab.s.tcp.info(s)!.cwnd).toBeGreaterThanOrEqual(7);
    expect(lab.s.tcp.info(s)!.cwnd).toBeLessThanOrEqual(8);
  });

  it('without SACK (NewReno): three dup ACKs retransmit, a partial ACK retransmits the next hole', async () => {
    lab = await tcpLab({ sysctl: { tcp_congestion_control: 'reno' } });
    const { s, iss } = await accepted(lab, { sack: false });
    s.write(pattern(10 * 1460));
    await lab.tx();
    const base = iss + 1;
    for (let k = 0; k < 3; k++) await lab.rx(lab.seg({ seq: P + 1, ack: base }));
    let out = await lab.tx();
    expect(out[0].seq).toBe(base);
    expect(lab.ext('TCPRenoRecovery')).toBe(1);
    expect(lab.s.tcp.info(s)!.ssthresh).toBe(5);
    // Partial ACK: segments 0 and 1 arrived, 2 was lost too.
    await lab.rx(lab.seg({ seq: P + 1, ack: base + 2 * 1460 }));
    out = await lab.tx();
    expect(out.some((x) => x.seq === base + 2 * 1460)).toBe(true);
  });

  it('a zero window stops sending; probes (seq snd_una - 1) back off; the opened window lets data go', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab, { win: 0 });
    s.write('held back');
    expect(await lab.tx()).toEqual([]);
    await lab.advance(1001);
    const [p] = await lab.tx();
    expect(p.seq).toBe(iss); // snd_una - 1
    expect(p.payload.length).toBe(0);
    expect(lab.ext('TCPWinProbe')).toBe(1);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, win: 1000 }));
    const [d] = await lab.tx();
    expect(Buffer.from(d.payload).toString()).toBe('held back');
  });

  it('Nagle holds a small segment while data is unacknowledged; noDelay sends it', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    s.write('a');
    expect((await lab.tx()).length).toBe(1);
    s.write('b');
    expect(await lab.tx()).toEqual([]);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 2 }));
    const [b] = await lab.tx();
    expect(Buffer.from(b.payload).toString()).toBe('b');
    s.setNoDelay(true);
    s.write('c');
    s.write('d');
    expect((await lab.tx()).map((x) => Buffer.from(x.payload).toString()).join('')).toBe('cd');
  });

  it('a writer is held back at the send buffer and resumes as ACKs free it (backpressure)', async () => {
    lab = await tcpLab({ sysctl: { tcp_wmem: [4096, 16384, 16384] } });
    const { s, iss } = await accepted(lab);
    let drained = false;
    const big = pattern(64 * 1024);
    expect(s.write(big)).toBe(false);
    s.once('drain', () => (drained = true));
    const out = await lab.tx();
    expect(out.length).toBe(10);
    expect(drained).toBe(false);
    let acked = iss + 1;
    for (let k = 0; k < 60 && !drained; k++) {
      acked += 1460 * 10;
      if (acked > iss + 1 + big.length) acked = iss + 1 + big.length;
      await lab.rx(lab.seg({ seq: P + 1, ack: acked }));
      await lab.tx();
    }
    expect(drained).toBe(true);
  });
});

describe('active open and closing', () => {
  it('connect: SYN with our options; SYN-ACK -> ESTABLISHED, connect event; data queued before it goes after', async () => {
    lab = await tcpLab();
    const c = lab.s.tcp.connect({ host: '10.1.0.2', port: 5000 });
    let connected = false;
    c.on('connect', () => (connected = true));
    c.write('early');
    const [syn] = await lab.tx();
    expect(syn.flags).toBe(SYN);
    expect(syn.opts.mss).toBe(1460);
    expect(syn.opts.sackOk).toBe(true);
    expect(syn.opts.hasTs).toBe(true);
    expect(syn.opts.wscale).toBeGreaterThan(0);
    expect(syn.sport).toBeGreaterThanOrEqual(32768);
    expect(lab.mib('ActiveOpens')).toBe(1);
    await lab.rx(lab.seg({ sport: 5000, dport: syn.sport, seq: 9000, ack: syn.seq + 1, flags: SYN | ACK, mss: 1400, ts: [7, syn.opts.tsVal] }));
    const out = await lab.tx();
    expect(connected).toBe(true);
    expect(out.length).toBe(1);
    expect(out[0].ack).toBe(9001);
    expect(Buffer.from(out[0].payload).toString()).toBe('early');
    expect(lab.s.tcp.info(c)!.mss).toBe(1400 - 12);
    expect(lab.mib('CurrEstab')).toBe(1);
  });

  it('connect to a port that answers RST: ECONNREFUSED (AttemptFails)', async () => {
    lab = await tcpLab();
    const c = lab.s.tcp.connect({ host: '10.1.0.2', port: 5000 });
    const err = new Promise<NodeJS.ErrnoException>((r) => c.once('error', r));
    const [syn] = await lab.tx();
    await lab.rx(lab.seg({ sport: 5000, dport: syn.sport, seq: 0, ack: syn.seq + 1, flags: RST | ACK }));
    const e = await err;
    expect(e.code).toBe('ECONNREFUSED');
    expect(e.syscall).toBe('connect');
    expect(lab.mib('AttemptFails')).toBe(1);
  });

  it('an unanswered SYN is retransmitted at 1, 2, 4 s and then times out (ETIMEDOUT)', async () => {
    lab = await tcpLab({ sysctl: { tcp_syn_retries: 2 } });
    const c = lab.s.tcp.connect({ host: '10.1.0.2', port: 5000 });
    let err: NodeJS.ErrnoException | null = null;
    c.on('error', (e) => (err = e));
    expect((await lab.tx()).length).toBe(1);
    for (const wait of [1000, 2000]) {
      await lab.advance(wait - 1);
      expect(await lab.tx()).toEqual([]);
      await lab.advance(2);
      const [r] = await lab.tx();
      expect(r.flags).toBe(SYN);
    }
    await lab.advance(4001);
    expect(err!.code).toBe('ETIMEDOUT');
    expect(lab.mib('RetransSegs')).toBe(2);
  });

  it('simultaneous open: our SYN crosses theirs -> SYN-RECEIVED, SYN-ACK; their SYN-ACK -> ESTABLISHED', async () => {
    lab = await tcpLab();
    const c = lab.s.tcp.connect({ host: '10.1.0.2', port: 5000, localPort: 6000 });
    let connected = false;
    c.on('connect', () => (connected = true));
    const [syn] = await lab.tx();
    await lab.rx(lab.seg({ sport: 5000, dport: 6000, seq: 300, flags: SYN, mss: 1460 }));
    const [sa] = await lab.tx();
    expect(sa.flags).toBe(SYN | ACK);
    expect(sa.seq).toBe(syn.seq);
    expect(sa.ack).toBe(301);
    expect(state(lab)).toEqual(['SYN-RECV']);
    await lab.rx(lab.seg({ sport: 5000, dport: 6000, seq: 300, ack: syn.seq + 1, flags: SYN | ACK, mss: 1460 }));
    await lab.tx();
    // Their SYN-ACK repeats the SYN: a challenge; the ACK completes it.
    await lab.rx(lab.seg({ sport: 5000, dport: 6000, seq: 301, ack: syn.seq + 1 }));
    expect(state(lab)).toEqual(['ESTAB']);
    expect(connected).toBe(true);
  });

  it('active close: FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT (retransmitted FIN re-ACKed), gone after 60 s (TW)', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    s.resume();
    s.end();
    const [fin] = await lab.tx();
    expect(fin.flags).toBe(ACK | FIN);
    expect(state(lab)).toEqual(['FIN-WAIT-1']);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 2 }));
    expect(state(lab)).toEqual(['FIN-WAIT-2']);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 2, flags: ACK | FIN }));
    const [a] = await lab.tx();
    expect(a.ack).toBe(P + 2);
    expect(state(lab)).toEqual(['TIME-WAIT']);
    await lab.advance(30_000);
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 2, flags: ACK | FIN }));
    expect((await lab.tx())[0].ack).toBe(P + 2);
    await lab.advance(59_000);
    expect(state(lab)).toEqual(['TIME-WAIT']);
    await lab.advance(2000);
    expect(state(lab)).toEqual([]);
    expect(lab.ext('TW')).toBe(1);
  });

  it('beyond tcp_max_tw_buckets the FIN of the peer is still acknowledged, then the connection is gone (TCPTimeWaitOverflow)', async () => {
    lab = await tcpLab({ sysctl: { tcp_max_tw_buckets: 0 } });
    const { s, iss } = await accepted(lab);
    s.resume();
    s.end();
    await lab.tx();
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 2 }));
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 2, flags: ACK | FIN }));
    const [a] = await lab.tx();
    expect(a.flags).toBe(ACK);
    expect(a.ack).toBe(P + 2);
    expect(state(lab)).toEqual([]);
    expect(lab.ext('TCPTimeWaitOverflow')).toBe(1);
  });

  it('simultaneous close: FIN-WAIT-1 -> CLOSING -> TIME-WAIT', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    s.resume();
    s.end();
    await lab.tx();
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1, flags: ACK | FIN }));
    expect(state(lab)).toEqual(['CLOSING']);
    await lab.tx();
    await lab.rx(lab.seg({ seq: P + 2, ack: iss + 2 }));
    expect(state(lab)).toEqual(['TIME-WAIT']);
  });

  it('a new SYN with a higher sequence number takes over a TIME-WAIT connection (TWRecycled)', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    s.resume();
    s.end();
    await lab.tx();
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 2, flags: ACK | FIN }));
    await lab.tx();
    expect(state(lab)).toEqual(['TIME-WAIT']);
    await lab.rx(lab.seg({ seq: P + 100_000, flags: SYN, mss: 1460 }));
    const [sa] = await lab.tx();
    expect(sa.flags).toBe(SYN | ACK);
    expect(lab.ext('TWRecycled')).toBe(1);
    expect(state(lab)).toEqual(['SYN-RECV']);
  });

  it('close with unread data in the connection resets it (TCPAbortOnClose); resetAndDestroy sends RST too', async () => {
    lab = await tcpLab();
    const { s, iss } = await accepted(lab);
    s.pause();
    // More than the stream buffers (16 KiB): the rest stays in the connection, unread.
    let seq = P + 1;
    for (let k = 0; k < 20; k++, seq += 1460) await lab.rx(lab.seg({ seq, ack: iss + 1, payload: 1460 }));
    await lab.tx();
    expect(lab.s.tcp.info(s)!.recvQ).toBeGreaterThan(s.readableLength);
    s.destroy();
    const [r] = await lab.tx();
    expect(r.flags).toBe(RST | ACK);
    expect(lab.ext('TCPAbortOnClose')).toBe(1);
    expect(state(lab)).toEqual([]);
    lab.s.tcp.createServer((c) => c.resetAndDestroy()).listen(81);
    await lab.settle();
    await lab.rx(lab.seg({ dport: 81, seq: 1, flags: SYN }));
    const [sa] = await lab.tx();
    await lab.rx(lab.seg({ dport: 81, seq: 2, ack: sa.seq + 1 }));
    const [r2] = await lab.tx();
    expect(r2.flags).toBe(RST | ACK);
    expect(lab.mib('OutRsts')).toBe(2);
  });

  it('keepalive: idle probes, then ETIMEDOUT and a RST when none is answered', async () => {
    lab = await tcpLab({ sysctl: { tcp_keepalive_intvl: 1, tcp_keepalive_probes: 2 } });
    const { s, iss } = await accepted(lab);
    let err: NodeJS.ErrnoException | null = null;
    s.on('error', (e) => (err = e));
    s.setKeepAlive(true, 5000);
    await lab.advance(5001);
    const [p1] = await lab.tx();
    expect(p1.seq).toBe(iss); // snd_una - 1
    expect(lab.ext('TCPKeepAlive')).toBe(1);
    // An answer resets the count.
    await lab.rx(lab.seg({ seq: P + 1, ack: iss + 1 }));
    await lab.advance(5001);
    expect((await lab.tx()).length).toBe(1);
    await lab.advance(1001);
    expect((await lab.tx()).length).toBe(1);
    await lab.advance(1001);
    const [r] = await lab.tx();
    expect(r.flags).toBe(RST | ACK);
    expect(err!.code).toBe('ETIMEDOUT');
  });

  it('listen: EADDRINUSE on a taken port; port 0 picks an ephemeral one; a full SYN queue drops (ListenDrops) without cookies', async () => {
    lab = await tcpLab({ sysctl: { tcp_syncookies: 0 } });
    const a = lab.s.tcp.createServer().listen(80);
    const b = lab.s.tcp.createServer();
    const e = new Promise<NodeJS.ErrnoException>((r) => b.once('error', r));
    b.listen(80);
    expect((await e).code).toBe('EADDRINUSE');
    const c = lab.s.tcp.createServer().listen(0);
    expect(c.address()!.port).toBeGreaterThanOrEqual(32768);
    a.close();
    const d = lab.s.tcp.createServer().listen({ port: 81, backlog: 1 });
    await lab.settle();
    await lab.rx(lab.seg({ dport: 81, sport: 1, seq: 1, flags: SYN }), lab.seg({ dport: 81, sport: 2, seq: 1, flags: SYN }));
    expect((await lab.tx()).length).toBe(1);
    expect(lab.ext('ListenDrops')).toBe(1);
    d.close();
    c.close();
  });

  it('SYN cookies: a full SYN queue answers with a cookie (no state); its ACK makes the connection; a forged ACK gets RST', async () => {
    lab = await tcpLab();
    const got: TcpSocket[] = [];
    lab.s.tcp.createServer((c) => got.push(c)).listen({ port: 82, backlog: 1 });
    await lab.settle();
    await lab.rx(lab.seg({ dport: 82, sport: 1, seq: 10, flags: SYN, mss: 1460 }));
    await lab.tx();
    const rows = () => lab.s.tcp.sockets().length;
    const before = rows();
    await lab.rx(lab.seg({ dport: 82, sport: 2, seq: 5000, flags: SYN, mss: 1400, wscale: 7, sackOk: true, ts: [9, 0] }));
    const [c] = await lab.tx();
    expect(c.flags).toBe(SYN | ACK);
    expect(c.ack).toBe(5001);
    expect(c.opts.mss).toBe(1460);
    expect([c.opts.wscale, c.opts.sackOk, c.opts.hasTs]).toEqual([-1, false, false]);
    expect(c.csumOk).toBe(true);
    expect(rows()).toBe(before); // nothing was kept
    expect(lab.ext('SyncookiesSent')).toBe(1);
    // A forged ACK (wrong cookie): RST, counted.
    await lab.rx(lab.seg({ dport: 82, sport: 3, seq: 7001, ack: 12345 }));
    const [r] = await lab.tx();
    expect(r.flags).toBe(RST);
    expect(lab.ext('SyncookiesFailed')).toBe(1);
    // The real ACK, with data: the connection exists now and the data is delivered.
    await lab.rx(lab.seg({ dport: 82, sport: 2, seq: 5001, ack: c.seq + 1, flags: ACK | PSH, payload: 'through a cookie' }));
    expect(lab.ext('SyncookiesRecv')).toBe(1);
    expect(got.length).toBe(1);
    const data: Buffer[] = [];
    got[0].on('data', (d) => data.push(d));
    await lab.settle();
    expect(Buffer.concat(data).toString()).toBe('through a cookie');
    const [a] = await lab.tx();
    expect(a.ack).toBe(5001 + 16);
    expect(lab.s.tcp.info(got[0])!.mss).toBe(1300); // the cookie's MSS table entry at or below 1400
  });
});
