import { describe, expect, it } from 'vitest';
import { OFO_DUP, OFO_QUEUED, OfoQueue } from '../../src/transport/tcp/ofo.ts';
import { SackBoard } from '../../src/transport/tcp/sack.ts';
import { SendQueue } from '../../src/transport/tcp/send-queue.ts';
import { seqAdd, seqBetween, seqDiff, seqGeq, seqGt, seqLeq, seqLt, seqMax, seqMin } from '../../src/transport/tcp/seq.ts';
import { TcpTable } from '../../src/transport/tcp/table.ts';
import { Tcb } from '../../src/transport/tcp/tcb.ts';
import { reno } from '../../src/transport/tcp/cong.ts';
import { cubic } from '../../src/transport/tcp/cubic.ts';
import { TCP_DOFF, TcpOptions, tcpParseOptions, tcpWriteSackOption, tcpWriteSynOptions, tcpWriteTsOption } from '../../src/wire/tcp.ts';

const MAX = 0xffffffff;

describe('sequence numbers modulo 2^32', () => {
  it('compare across the wrap', () => {
    expect(seqLt(MAX, 0)).toBe(true);
    expect(seqGt(0, MAX)).toBe(true);
    expect(seqLt(MAX - 10, 5)).toBe(true);
    expect(seqGeq(5, MAX - 10)).toBe(true);
    expect(seqLeq(7, 7)).toBe(true);
    expect(seqLt(7, 7)).toBe(false);
    expect(seqAdd(MAX, 1)).toBe(0);
    expect(seqAdd(MAX - 1, 10)).toBe(8);
    expect(seqDiff(3, MAX - 2)).toBe(6);
    expect(seqDiff(MAX - 2, 3)).toBe(-6);
    expect(seqMax(MAX, 2)).toBe(2);
    expect(seqMin(MAX, 2)).toBe(MAX);
  });

  it('between lo and hi, across the wrap', () => {
    expect(seqBetween(0, MAX - 5, 5)).toBe(true);
    expect(seqBetween(MAX, MAX - 5, 5)).toBe(true);
    expect(seqBetween(6, MAX - 5, 5)).toBe(false);
    expect(seqBetween(MAX - 6, MAX - 5, 5)).toBe(false);
    expect(seqBetween(10, 10, 10)).toBe(true);
  });

  it('half the space apart is the edge (2^31 - 1 after, 2^31 before)', () => {
    expect(seqGt(0x7fffffff, 0)).toBe(true);
    expect(seqLt(0x80000000, 0)).toBe(true);
  });
});

describe('TCP options (wire/tcp.ts)', () => {
  it("a SYN's options are written in Linux's layout and parse back", () => {
    const buf = new Uint8Array(60);
    const dv = new DataView(buf.buffer);
    const n = tcpWriteSynOptions(dv, 20, 1460, 7, true, true, 0x01020304, 0);
    expect(n).toBe(20);
    // MSS, SACK-perm + TS, NOP + WS: as a Linux SYN carries them.
    expect([...buf.subarray(20, 40)]).toEqual([2, 4, 5, 180, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]);
    buf[TCP_DOFF] = (40 / 4) << 4;
    const o = new TcpOptions();
    tcpParseOptions(buf, dv, 0, 40, o);
    expect([o.mss, o.wscale, o.sackOk, o.hasTs, o.tsVal, o.tsEcr]).toEqual([1460, 7, true, true, 0x01020304, 0]);
    expect(tcpWriteSynOptions(dv, 20, 536, -1, false, false, 0, 0)).toBe(4);
    expect(tcpWriteSynOptions(dv, 20, 536, -1, true, false, 0, 0)).toBe(8);
  });

  it('timestamps and SACK blocks on data segments', () => {
    const buf = new Uint8Array(60);
    const dv = new DataView(buf.buffer);
    let q = 20 + tcpWriteTsOption(dv, 20, 77, 66);
    q += tcpWriteSackOption(dv, q, Uint32Array.from([100, 200, MAX - 5, 3]), 2);
    expect(q).toBe(20 + 12 + 20);
    const o = new TcpOptions();
    tcpParseOptions(buf, dv, 0, q, o);
    expect([o.hasTs, o.tsVal, o.tsEcr, o.sackN, ...o.sack.subarray(0, 4)]).toEqual([true, 77, 66, 2, 100, 200, MAX - 5, 3]);
  });

  it('malformed options stop the parse like tcp_parse_options (what came before stays), wscale > 14 is clamped', () => {
    const o = new TcpOptions();
    const parse = (bytes: number[]) => {
      const buf = Uint8Array.from([...new Array(20).fill(0), ...bytes]);
      tcpParseOptions(buf, new DataView(buf.buffer), 0, buf.length, o);
      return o;
    };
    expect(parse([2, 4, 5, 180, 3, 1, 9, 0]).wscale).toBe(-1); // WS with length 1: stop
    expect(o.mss).toBe(1460);
    expect(parse([3, 3, 20, 0]).wscale).toBe(14);
    expect(parse([2, 4, 5]).mss).toBe(0); // runs past the header
    expect(parse([0, 2, 4, 5, 180]).mss).toBe(0); // EOL first
    expect(parse([8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).hasTs).toBe(false); // wrong size: ignored
    expect(parse([5, 7, 0, 0, 0, 0, 0, 0]).sackN).toBe(0); // SACK length not 2 + 8n
    expect(parse([99, 4, 0, 0, 2, 4, 1, 0]).mss).toBe(256); // unknown option skipped
  });
});

describe('SACK scoreboard', () => {
  it('merges, trims at the cumulative ACK and finds holes', () => {
    const s = new SackBoard();
    s.add(300, 400);
    s.add(100, 200);
    s.add(200, 250); // touches 100-200
    expect(s.n).toBe(2);
    expect(s.bytes).toBe(250);
    expect(s.high(0)).toBe(400);
    expect(s.nextHole(0, 500)).toBe(true);
    expect([s.holeStart, s.holeEnd]).toEqual([0, 100]);
    expect(s.nextHole(100, 500)).toBe(true);
    expect([s.holeStart, s.holeEnd]).toEqual([250, 300]);
    expect(s.nextHole(400, 500)).toBe(true);
    expect([s.holeStart, s.holeEnd]).toEqual([400, 500]);
    expect(s.nextHole(300, 400)).toBe(false);
    expect(s.sackedIn(150, 350)).toBe(100 + 50);
    s.add(240, 310); // joins the two
    expect(s.n).toBe(1);
    expect(s.bytes).toBe(300);
    s.trim(150);
    expect(s.bytes).toBe(250);
    expect(s.has(150)).toBe(true);
    expect(s.has(149)).toBe(false);
    s.trim(400);
    expect(s.n).toBe(0);
  });

  it('works across the sequence wrap', () => {
    const s = new SackBoard();
    s.add(MAX - 99, 100);
    expect(s.bytes).toBe(200);
    expect(s.nextHole(MAX - 199, 200)).toBe(true);
    expect([s.holeStart, s.holeEnd]).toEqual([MAX - 199, MAX - 99]);
    expect(s.nextHole(MAX - 99, 200)).toBe(true);
    expect([s.holeStart, s.holeEnd]).toEqual([100, 200]);
  });
});

describe('out-of-order queue', () => {
  it('keeps segments sorted, refuses duplicates, lets covered ones go, SACK blocks latest first', () => {
    const q = new OfoQueue();
    expect(q.insert(3000, 4000, 1, 11, 0)).toBe(OFO_QUEUED);
    expect(q.insert(1000, 2000, 2, 12, 0)).toBe(OFO_QUEUED);
    expect(q.insert(1200, 1800, 3, 13, 0)).toBe(OFO_DUP);
    expect(q.insert(5000, 6000, 4, 14, 0)).toBe(OFO_QUEUED);
    expect([...q.seq.subarray(0, q.n)]).toEqual([1000, 3000, 5000]);
    expect(q.bytes).toBe(3000);
    const out = new Uint32Array(8);
    expect(q.sackBlocks(out, 3)).toBe(3);
    expect([...out.subarray(0, 6)]).toEqual([5000, 6000, 1000, 2000, 3000, 4000]);
    // 2000-3000 fills between: blocks merge; 900-4500 covers the first two.
    expect(q.insert(900, 4500, 5, 15, 0)).toBe(OFO_QUEUED);
    expect(q.freedN).toBe(2);
    expect([...q.freed.subarray(0, 2)]).toEqual([2, 1]);
    expect(q.n).toBe(2);
    expect(q.sackBlocks(out, 3)).toBe(2);
    expect([...out.subarray(0, 4)]).toEqual([900, 4500, 5000, 6000]);
    q.popFront();
    expect(q.n).toBe(1);
    expect(q.bytes).toBe(1000);
  });
});

describe('send queue', () => {
  it('copies any range by sequence number across buffers and drops acknowledged bytes', () => {
    const q = new SendQueue();
    q.base = MAX - 2;
    q.push(Buffer.from('abcde'));
    q.push(Buffer.from('fgh'));
    q.push(Buffer.from('ijklmnop'));
    expect(q.end).toBe((MAX - 2 + 16) >>> 0);
    const out = new Uint8Array(16);
    q.copyOut(MAX - 2, 7, out, 0);
    q.copyOut(seqAdd(MAX - 2, 7), 9, out, 7); // continues at the cursor
    expect(Buffer.from(out).toString()).toBe('abcdefghijklmnop');
    q.copyOut(seqAdd(MAX - 2, 4), 6, out, 0); // a retransmission from the middle
    expect(Buffer.from(out.subarray(0, 6)).toString()).toBe('efghij');
    q.consume(6);
    expect(q.bytes).toBe(10);
    q.copyOut(q.base, 10, out, 0);
    expect(Buffer.from(out.subarray(0, 10)).toString()).toBe('ghijklmnop');
    // All acknowledged, then more written: the cursor must not point into the emptied list.
    q.consume(10);
    q.push(Buffer.from('qr'));
    q.copyOut(q.base, 2, out, 0);
    expect(Buffer.from(out.subarray(0, 2)).toString()).toBe('qr');
  });
});

describe('connection table', () => {
  const tcb = (l: number, lp: number, r: number, rp: number) => Object.assign(new Tcb(reno), { laddr: l, lport: lp, raddr: r, rport: rp });

  it('finds connections by 4-tuple, bounded, through inserts and removals', () => {
    const t = new TcpTable(64);
    const all = [];
    for (let k = 0; k < 64; k++) {
      const c = tcb(0x0a010001, 80, 0x0a010002, 1000 + k);
      expect(t.insert(c)).toBe(true);
      all.push(c);
    }
    expect(t.full).toBe(true);
    expect(t.insert(tcb(1, 1, 1, 1))).toBe(false);
    for (const c of all) expect(t.lookup(c.laddr, c.lport, c.raddr, c.rport)).toBe(c.id);
    for (let k = 0; k < 64; k += 2) t.remove(all[k]);
    for (let k = 0; k < 64; k++) expect(t.lookup(all[k].laddr, 80, all[k].raddr, all[k].rport)).toBe(k % 2 ? all[k].id : -1);
    expect(t.count).toBe(32);
  });

  it('a listener on an address beats the wildcard; ports for connect avoid used 4-tuples and listeners', async () => {
    const { Listener } = await import('../../src/transport/tcp/table.ts');
    const t = new TcpTable(16);
    const wild = new Listener(0, 80, 10);
    const spec = new Listener(0x0a010001, 80, 10);
    t.addListener(wild);
    t.addListener(spec);
    expect(t.listener(0x0a010001, 80)).toBe(spec);
    expect(t.listener(0x0a020001, 80)).toBe(wild);
    expect(t.portInUse(0x0a020001, 80)).toBe(true);
    t.removeListener(spec);
    expect(t.listener(0x0a010001, 80)).toBe(wild);
    t.addListener(new Listener(0, 5001, 1));
    const used = new Set<number>();
    for (let k = 0; k < 6; k++) {
      const p = t.connectPort(0x0a010001, 0x0a010002, 80, 5000, 5005);
      expect(p).toBeGreaterThanOrEqual(5000);
      expect(p).not.toBe(5001);
      t.insert(tcb(0x0a010001, p, 0x0a010002, 80));
      used.add(p);
      if (used.size === 5) break;
    }
    expect(used.size).toBe(5);
    expect(t.connectPort(0x0a010001, 0x0a010002, 80, 5000, 5005)).toBe(-1);
    // Another destination may reuse the ports.
    expect(t.connectPort(0x0a010001, 0x0a010003, 80, 5000, 5005)).toBeGreaterThanOrEqual(5000);
  });
});

describe('congestion control', () => {
  it('NewReno: slow start to ssthresh, then one segment per window; halves on loss', () => {
    const t = new Tcb(reno);
    t.cwnd = 10;
    t.ssthresh = 16;
    t.maxInflight = 20;
    reno.congAvoid(t, 10, 0);
    expect(t.cwnd).toBe(16);
    for (let k = 0; k < 16; k++) reno.congAvoid(t, 1, 0);
    expect(t.cwnd).toBe(17);
    expect(reno.ssthresh(t)).toBe(8);
    t.maxInflight = 1; // application-limited: no growth
    reno.congAvoid(t, 17, 0);
    expect(t.cwnd).toBe(17);
  });

  it('CUBIC: beta 0.7, the window returns to W_max around K and grows past it', () => {
    const t = new Tcb(cubic);
    cubic.init(t);
    cubic.onRtt!(t, 100);
    t.cwnd = 100;
    t.ssthresh = cubic.ssthresh(t);
    expect(t.ssthresh).toBe(70);
    t.cwnd = 70;
    t.maxInflight = 1000;
    // K = cbrt(100 * 0.3 / 0.4) = 4.2 s; a window of ACKs per 100 ms RTT (slow enough that the
    // Reno-friendly W_est, +0.53 per RTT, stays below the cubic curve).
    let now = 1000;
    for (; now < 1000 + 4100; now += 100) cubic.congAvoid(t, t.cwnd, now);
    expect(t.cwnd).toBeGreaterThanOrEqual(97);
    expect(t.cwnd).toBeLessThanOrEqual(101);
    for (; now < 1000 + 7000; now += 100) cubic.congAvoid(t, t.cwnd, now);
    expect(t.cwnd).toBeGreaterThan(105);
  });

  it('CUBIC at a short RTT grows like Reno would (the Reno-friendly region, RFC 9438 4.3)', () => {
    const t = new Tcb(cubic);
    cubic.init(t);
    cubic.onRtt!(t, 1);
    t.cwnd = 100;
    t.ssthresh = cubic.ssthresh(t);
    t.cwnd = 70;
    t.maxInflight = 1000;
    for (let now = 1000; now < 1100; now += 1) cubic.congAvoid(t, t.cwnd, now);
    // 100 RTTs: W_est +53, far above the cubic curve's few segments at t = 0.1 s.
    expect(t.cwnd).toBeGreaterThanOrEqual(118);
    expect(t.cwnd).toBeLessThanOrEqual(124);
  });
});
