// UDP receive and send through a stack on memory ports, with crafted frames: validation counters,
// port unreachable, queue bounds (SO_RCVBUF, the sockets' share of the pool), zero-copy batch
// receive, broadcasts, and what send puts on the wire (checksums, DF, fragments).
import { afterEach, describe, expect, it } from 'vitest';
import { UdpViews } from '../../src/transport/index.ts';
import { formatIPv4, parseIPv4 } from '../../src/wire/addr.ts';
import { udpCsumOk } from '../../src/wire/udp.ts';
import { parseSent, udpLab, type UdpLab } from '../support/transport-udp.ts';

let L: UdpLab | null = null;
afterEach(async () => {
  await L?.stop();
  L = null;
});

const mib = (l: UdpLab) => l.s.stats().mib.Udp;
const drops = (l: UdpLab) => l.s.stats().drops;

describe('udp-rcv: validation and closed ports', () => {
  it('bad length -> InErrors, bad checksum -> InCsumErrors + InErrors, zero checksum accepted', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().bind(9);
    const got: string[] = [];
    s.on('message', (m) => got.push(String(m)));
    const good = L.udp({ dport: 9, payload: 'ok' });
    const nocsum = L.udp({ dport: 9, payload: 'none', csum: false });
    const badcsum = L.udp({ dport: 9, payload: 'bad' });
    badcsum[14 + 20 + 6] ^= 0x40;
    const long = L.udp({ dport: 9, payload: 'long' });
    long[14 + 20 + 5] += 10; // UDP length beyond the IP payload
    const short = L.udp({ dport: 9, payload: 'short' });
    short[14 + 20 + 4] = 0;
    short[14 + 20 + 5] = 7; // below the header
    await L.rx(good, nocsum, badcsum, long, short);
    expect(got).toEqual(['ok', 'none']);
    expect(mib(L)).toMatchObject({ InDatagrams: 2, InErrors: 3, InCsumErrors: 1, NoPorts: 0 });
    expect(drops(L)['udp.InCsumErrors']).toBe(1);
    expect(drops(L)['udp.InErrors']).toBe(2);
    s.close();
  });

  it('a closed port: NoPorts and ICMP port unreachable (not protocol unreachable) quoting the datagram', async () => {
    L = await udpLab();
    await L.rx(L.udp({ sport: 33000, dport: 4242, payload: 'knock' }));
    const out = await L.tx();
    expect(out.length).toBe(1);
    const p = parseSent(out[0]);
    expect(p.proto).toBe(1);
    expect([p.icmpType, p.icmpCode]).toEqual([3, 3]);
    expect(formatIPv4(p.src)).toBe('10.1.0.1');
    expect(formatIPv4(p.dst)).toBe('10.1.0.2');
    // The quote: the original IP header (proto 17) and the UDP header with its ports.
    const q = out[0].subarray(p.l4 + 8);
    expect(q[9]).toBe(17);
    expect((q[20] << 8) | q[21]).toBe(33000);
    expect((q[22] << 8) | q[23]).toBe(4242);
    expect(mib(L).NoPorts).toBe(1);
    expect(L.s.stats().mib.Ip.InUnknownProtos).toBe(0);
    expect(L.s.stats().mib.Icmp.OutDestUnreachs).toBe(1);
  });

  it('port unreachable is rate-limited by icmp_send; the rest are dropped as udp.NoPorts', async () => {
    L = await udpLab();
    const frames = [];
    for (let k = 0; k < 20; k++) frames.push(L.udp({ dport: 4242 }));
    await L.rx(...frames);
    const out = await L.tx();
    // inet_peer_xrlim_allow: a burst of 6 per destination, then one per icmp_ratelimit.
    expect(out.length).toBe(6);
    expect(mib(L).NoPorts).toBe(20);
    expect(drops(L)['udp.NoPorts']).toBe(14);
  });
});

describe('receive queues', () => {
  it('a socket that never reads holds SO_RCVBUF worth of frames; the rest are RcvbufErrors; the NIC keeps its frames', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().bind(5000);
    expect(s.getRecvBufferSize()).toBe(212992);
    const frames = [];
    for (let k = 0; k < 200; k++) frames.push(L.udp({ dport: 5000, payload: 16 }));
    await L.rx(...frames);
    // 212992 / 2048 = 104 frames fill it; the kernel's check (over the limit before this one)
    // lets one more cross it.
    expect(s.queued).toBe(105);
    expect(s.drops).toBe(95);
    expect(mib(L)).toMatchObject({ RcvbufErrors: 95, InErrors: 95, InDatagrams: 0 });
    const acct = L.s.frames();
    expect(acct.sockets).toBe(105);
    expect(acct.lost).toBe(0);
    expect(acct.free).toBe(acct.total - 105);
    expect(L.s.sockets()[0]).toMatchObject({ state: 'UNCONN', recvQ: 105 * 2048, drops: 95 });
    // Reading frees them.
    let n = 0;
    while (s.recv() !== null) n++;
    expect(n).toBe(105);
    expect(mib(L).InDatagrams).toBe(105);
    expect(L.s.frames().sockets).toBe(0);
    s.close();
  });

  it('setRecvBufferSize doubles the request (capped by rmem_max) as the kernel does', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().bind(5000);
    s.setRecvBufferSize(4096);
    expect(s.getRecvBufferSize()).toBe(8192);
    const frames = [];
    for (let k = 0; k < 10; k++) frames.push(L.udp({ dport: 5000 }));
    await L.rx(...frames);
    expect(s.queued).toBe(5);
    L.s.sysctl('net.core.rmem_max', 1 << 20);
    s.setRecvBufferSize(1 << 22);
    expect(s.getRecvBufferSize()).toBe(1 << 21);
    L.s.sysctl('rmem_default', 4096);
    expect(L.s.udp.createSocket().getRecvBufferSize()).toBe(4096);
    s.close();
  });

  it('sockets together hold at most sock_frames_max frames: MemErrors, and received frames still come back', async () => {
    L = await udpLab('sysctl: {sock_frames_max: 10}');
    const a = L.s.udp.createSocket().bind(5000);
    const b = L.s.udp.createSocket().bind(5001);
    const frames = [];
    for (let k = 0; k < 8; k++) frames.push(L.udp({ dport: 5000 }), L.udp({ dport: 5001 }));
    await L.rx(...frames);
    expect(a.queued + b.queued).toBe(10);
    expect(mib(L)).toMatchObject({ MemErrors: 6, InErrors: 6, RcvbufErrors: 0 });
    expect(drops(L)['udp.MemErrors']).toBe(6);
    expect(L.s.frames().sockets).toBe(10);
    expect(L.s.pool.available).toBe(L.s.pool.total - 10);
    a.close();
    expect(L.s.frames().sockets).toBe(b.queued);
    b.close();
  });

  it('recvBatch lends the frames (views into the UMEM) until release; InDatagrams counts what was read', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().bind(6000);
    await L.rx(L.udp({ sport: 1111, dport: 6000, payload: 'one' }), L.udp({ sport: 2222, dport: 6000, payload: 'two!' }), L.udp({ dport: 6000, payload: 'three' }));
    const v = new UdpViews(2);
    expect(s.recvBatch(v)).toBe(2);
    expect(v.n).toBe(2);
    expect(Buffer.from(v.u8.subarray(v.addr[0], v.addr[0] + v.len[0])).toString()).toBe('one');
    expect(Buffer.from(v.payload(1)).toString()).toBe('two!');
    expect([formatIPv4(v.saddr[0]), v.sport[0], v.sport[1]]).toEqual(['10.1.0.2', 1111, 2222]);
    // Lent frames stay held and charged.
    expect(L.s.frames().sockets).toBe(3);
    expect(s.queued).toBe(1);
    expect(mib(L).InDatagrams).toBe(2);
    // The next call releases the previous views first.
    expect(s.recvBatch(v)).toBe(1);
    expect(L.s.frames().sockets).toBe(1);
    expect(Buffer.from(v.payload(0)).toString()).toBe('three');
    s.release();
    expect(L.s.frames().sockets).toBe(0);
    expect(s.recvBatch(v)).toBe(0);
    s.close();
  });

  it("'message' gets a Buffer copy and rinfo; 'for await' yields datagrams and ends on close", async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().bind(6001);
    const seen: unknown[] = [];
    const it = (async () => {
      for await (const d of s) {
        seen.push([String(d.msg), d.rinfo]);
        if (seen.length === 2) break;
      }
    })();
    await L.rx(L.udp({ sport: 1234, dport: 6001, payload: 'x' }), L.udp({ sport: 1234, dport: 6001, payload: 'yz' }));
    await it;
    expect(seen).toEqual([
      ['x', { address: '10.1.0.2', family: 'IPv4', port: 1234, size: 1 }],
      ['yz', { address: '10.1.0.2', family: 'IPv4', port: 1234, size: 2 }],
    ]);
    // Leaving the loop closed the socket (as a stream's iterator destroys it).
    expect(s.isClosed).toBe(true);
    expect(L.s.frames().sockets).toBe(0);
    // A listener added after data arrived gets the waiting datagrams.
    const t = L.s.udp.createSocket().bind(6002);
    await L.rx(L.udp({ dport: 6002, payload: 'late' }));
    const msgs: string[] = [];
    t.on('message', (m) => msgs.push(String(m)));
    await L.tx();
    expect(msgs).toEqual(['late']);
    t.close();
  });

  it('an AbortSignal closes the socket (node:dgram signal): a for-await loop ends, the port is free; an aborted signal closes at once', async () => {
    L = await udpLab();
    const ac = new AbortController();
    const s = L.s.udp.createSocket({ signal: ac.signal }).bind(6003);
    const loop = (async () => {
      const got: string[] = [];
      for await (const d of s) got.push(String(d.msg));
      return got;
    })();
    await L.rx(L.udp({ dport: 6003, payload: 'one' }));
    ac.abort();
    expect(await loop).toEqual(['one']);
    expect(s.isClosed).toBe(true);
    L.s.udp.createSocket().bind(6003).close();
    const pre = L.s.udp.createSocket({ signal: AbortSignal.abort() });
    await new Promise((r) => pre.once('close', r));
    expect(pre.isClosed).toBe(true);
  });

  it("a batch reader hears 'readable' at the end of the dispatch itself; 'message' listeners on a microtask after it", async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().bind(6003);
    const m = L.s.udp.createSocket().bind(6004);
    const v = new UdpViews(8);
    let read = 0;
    let messages = 0;
    s.on('readable', () => {
      read += s.recvBatch(v);
      s.release();
    });
    m.on('message', () => messages++);
    L.p0.inject(L.udp({ dport: 6003 }));
    L.p0.inject(L.udp({ dport: 6004 }));
    L.s.napi.kick();
    // Synchronously after the dispatch: the batch reader has read, the 'message' listener not yet.
    expect([read, messages]).toEqual([1, 0]);
    await Promise.resolve();
    expect([read, messages]).toEqual([1, 1]);
    s.close();
    m.close();
  });

  it('a broadcast reaches every socket on the port (copies for all but one); nobody listening: IgnoredMulti, no ICMP', async () => {
    L = await udpLab();
    const got: string[] = [];
    const a = L.s.udp.createSocket({ reuseAddr: true }).bind(67).on('message', (m) => got.push(`a ${m}`));
    const b = L.s.udp.createSocket({ reuseAddr: true }).bind(67).on('message', (m) => got.push(`b ${m}`));
    // Bound to a unicast address: not a broadcast receiver (__udp_is_mcast_sock).
    const c = L.s.udp.createSocket({ reuseAddr: true }).bind(67, '10.1.0.1').on('message', (m) => got.push(`c ${m}`));
    const dstMac = 'ff:ff:ff:ff:ff:ff';
    const bc = L.udp({ dport: 67, dst: '10.1.0.255', payload: 'dhcp', dstMac });
    const lim = L.udp({ dport: 67, dst: '255.255.255.255', payload: 'all', dstMac });
    const none = L.udp({ dport: 68, dst: '10.1.0.255', dstMac });
    await L.rx(bc, lim, none);
    expect(got.sort()).toEqual(['a all', 'a dhcp', 'b all', 'b dhcp']);
    expect(mib(L)).toMatchObject({ IgnoredMulti: 1, NoPorts: 0, InDatagrams: 4 });
    expect(await L.tx()).toEqual([]);
    expect(L.s.frames().sockets).toBe(0);
    for (const x of [a, b, c]) x.close();
  });
});

describe('send', () => {
  it('send builds a checksummed datagram with DF from the route source; sendBatch queues many in one call', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().bind(5353);
    const done: Array<[Error | null, number]> = [];
    s.send('hello', 7, '10.1.0.2', (e, n) => done.push([e, n]));
    s.send(Buffer.from('xxpartxx'), 2, 4, 7, '10.1.0.2');
    expect(s.sendBatch([Buffer.from('a'), Buffer.from('bb'), new Uint8Array(1400)], 9, '10.1.0.2')).toBe(3);
    const out = await L.tx();
    expect(done).toEqual([[null, 5]]);
    expect(out.length).toBe(5);
    const p = out.map(parseSent);
    expect(p.map((x) => Buffer.from(x.payload).toString().replace(/\0+/, '<1400 zeros>'))).toEqual(['hello', 'part', 'a', 'bb', '<1400 zeros>']);
    for (const x of p) {
      expect([formatIPv4(x.src), formatIPv4(x.dst), x.proto, x.sport, x.ttl]).toEqual(['10.1.0.1', '10.1.0.2', 17, 5353, 64]);
      expect(x.fragOff).toBe(0x4000);
      expect(x.ucheck).not.toBe(0);
    }
    for (const f of out) {
      const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
      expect(udpCsumOk(dv, 34, parseIPv4('10.1.0.1'), parseIPv4('10.1.0.2'))).toBe(true);
    }
    expect(p[0].dstMac).toEqual([2, 0, 0, 0, 0, 0x99]);
    expect(mib(L).OutDatagrams).toBe(5);
    s.close();
  });

  it('connected send, and argument errors: EISCONN, EDESTADDRREQ, EACCES (broadcast), ENETUNREACH to the callback', async () => {
    L = await udpLab();
    const c = L.s.udp.createSocket();
    c.connect(53, '10.1.0.2');
    c.send('q');
    expect(() => c.send('q', 53, '10.1.0.2')).toThrow(expect.objectContaining({ code: 'EISCONN' }));
    const u = L.s.udp.createSocket();
    expect(() => u.send('q')).toThrow(expect.objectContaining({ code: 'EDESTADDRREQ' }));
    const errs: string[] = [];
    u.send('q', 9, '10.1.0.255', (e) => errs.push((e as Error & { code: string }).code));
    u.send('q', 9, '198.51.100.1', (e) => errs.push((e as Error & { code: string }).code));
    u.setBroadcast(true);
    u.send('b', 9, '10.1.0.255');
    const out = (await L.tx()).map(parseSent);
    expect(errs).toEqual(['EACCES', 'ENETUNREACH']);
    expect(out.map((x) => [formatIPv4(x.dst), x.dport, Buffer.from(x.payload).toString()])).toEqual([
      ['10.1.0.2', 53, 'q'],
      ['10.1.0.255', 9, 'b'],
    ]);
    expect(out[1].dstMac).toEqual([255, 255, 255, 255, 255, 255]);
  });

  it('a datagram over the MTU is fragmented: within a frame by ip-output, larger than a frame here; all checksum right', async () => {
    L = await udpLab();
    const s = L.s.udp.createSocket().bind(4000);
    const mid = Buffer.alloc(1200, 7); // p1's MTU is 1000: fits a frame, not the MTU
    const big = Buffer.alloc(5000);
    for (let k = 0; k < big.length; k++) big[k] = (k * 7) & 255;
    s.send(mid, 9, '10.2.0.2');
    s.send(big, 9, '10.2.0.2');
    await L.tx();
    const out = (L.s.port('p1') as import('../../src/driver/memory.ts').MemoryPort).takeTx();
    const frags = out.map((f) => ({ f, p: parseSent(f) }));
    for (const { p } of frags) expect(p.totLen).toBeLessThanOrEqual(1000);
    const byId = new Map<number, Array<{ f: Uint8Array; p: ReturnType<typeof parseSent> }>>();
    for (const x of frags) byId.set(x.p.id, [...(byId.get(x.p.id) ?? []), x]);
    expect(byId.size).toBe(2);
    const sizes: number[] = [];
    for (const list of byId.values()) {
      // Reassemble: offset order, MF on all but the last, no DF.
      list.sort((x, y) => (x.p.fragOff & 0x1fff) - (y.p.fragOff & 0x1fff));
      const parts = list.map(({ f, p }) => f.subarray(p.l4, 14 + p.totLen));
      for (let k = 0; k < list.length; k++) {
        expect(list[k].p.fragOff & 0x4000).toBe(0);
        expect((list[k].p.fragOff & 0x2000) !== 0).toBe(k < list.length - 1);
      }
      const dgram = Buffer.concat(parts);
      const dv = new DataView(dgram.buffer, dgram.byteOffset, dgram.byteLength);
      expect(dv.getUint16(4)).toBe(dgram.length);
      expect(udpCsumOk(dv, 0, parseIPv4('10.2.0.1'), parseIPv4('10.2.0.2'))).toBe(true);
      sizes.push(dgram.length - 8);
      if (dgram.length - 8 === 5000) expect(dgram.subarray(8).equals(big)).toBe(true);
    }
    expect(sizes.sort((a, b) => a - b)).toEqual([1200, 5000]);
    expect(L.s.stats().mib.Ip.FragOKs).toBe(2);
    expect(() => s.sendBatch([Buffer.alloc(70000)], 9, '10.2.0.2')).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }));
    s.close();
  });

  it('a full ip-local-out ring refuses sends: ENOBUFS, SndbufErrors; nothing is lost', async () => {
    L = await udpLab('', { frames: 256 });
    const s = L.s.udp.createSocket();
    const room = L.s.transport.out.room();
    const msgs = Array.from({ length: room + 10 }, () => Buffer.from('x'));
    expect(s.sendBatch(msgs, 9, '10.1.0.2')).toBe(room);
    expect(mib(L)).toMatchObject({ SndbufErrors: 10, OutDatagrams: room });
    expect(L.s.frames()).toMatchObject({ sockets: room, lost: 0 });
    expect((await L.tx()).length).toBe(room);
    expect(L.s.frames().sockets).toBe(0);
    s.close();
  });

  it('the echo service from the config answers each datagram to its sender', async () => {
    L = await udpLab('services: [{proto: udp, port: 7, kind: echo}, {proto: udp, port: 9, kind: discard}]');
    await L.rx(L.udp({ sport: 5555, dport: 7, payload: 'ping 1' }), L.udp({ sport: 5555, dport: 9, payload: 'gone' }), L.udp({ sport: 5556, dport: 7, payload: 'ping 2' }));
    const out = (await L.tx()).map(parseSent);
    expect(out.map((x) => [x.sport, x.dport, Buffer.from(x.payload).toString()])).toEqual([
      [7, 5555, 'ping 1'],
      [7, 5556, 'ping 2'],
    ]);
    expect(mib(L)).toMatchObject({ InDatagrams: 3, OutDatagrams: 2 });
    expect(L.s.frames().sockets).toBe(0);
    expect(L.s.sockets().map((x) => x.localPort).sort()).toEqual([7, 9]);
  });
});
