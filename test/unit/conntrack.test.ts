// Connection tracking through the IPv4 stages (crafted frames in, what leaves captured): states
// and verdicts of a stateful FORWARD chain, TCP's state machine and window tracking, ICMP
// errors RELATED to what they quote (received and generated), INVALID, NOTRACK, a full table
// with early drop, expiry on the wheel with a manual clock, conntrack -L/-S/-D/-F text, and
// hostile frames.
import { describe, expect, it } from 'vitest';
import { conntrackCommand } from '../../src/ipv4/conntrack/dump.ts';
import { defaultConntrackSysctl, type ConntrackSysctl } from '../../src/ipv4/conntrack/sysctl.ts';
import { Netfilter } from '../../src/ipv4/netfilter/netfilter.ts';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../src/wire/tcp.ts';
import { ipFrame, lab } from '../support/ipv4-graph.ts';
import { rng } from '../support/rng.ts';

const A = '10.1.0.2';
const B = '10.2.0.2';
const STATEFUL = ['-P FORWARD DROP', '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', '-A FORWARD -i p0 -m conntrack --ctstate NEW -j ACCEPT'];

function setup(rules: string[], sysctl: Partial<ConntrackSysctl> = {}, buckets = 64) {
  const clock = new Float64Array([1_000_000]);
  const s = { ...defaultConntrackSysctl(buckets), ...sysctl };
  const logs: string[] = [];
  const L = lab({ conntrack: { clock, seed: 7, buckets, sysctl: s, wheel: { now: () => clock[0], wake: false }, log: (l) => logs.push(l) } });
  const devs = ['p0', 'p1'];
  const nf = new Netfilter((n) => devs.indexOf(n), (i) => devs[i] ?? '?');
  for (const r of rules) nf.exec(r);
  L.ipv4.setNetfilter(nf);
  L.ipv4.refreshHooks();
  const ct = L.ipv4.conntrack;
  const cmd = (...w: string[]) => conntrackCommand(ct, w);
  /** Receive one frame on iif; how many left (and the captured frames are cleared). */
  const pass = (f: Uint8Array, iif = 0) => {
    L.rx(f, iif);
    return L.take().length;
  };
  const advance = (ms: number) => {
    clock[0] += ms;
    ct.advance(clock[0]);
  };
  return { L, nf, ct, clock, cmd, pass, advance, logs, list: () => cmd('-L').output.trim() };
}

const udp = (src: string, dst: string, sport: number, dport: number, ttl = 64) => ipFrame({ src, dst, ttl, udp: { sport, dport }, payload: new Uint8Array(10) });
const tcp = (src: string, dst: string, sport: number, dport: number, flags: number, seq: number, ack: number, data = 0, window = 64240) =>
  ipFrame({ src, dst, tcp: { sport, dport, flags, seq, ack, window }, payload: new Uint8Array(data) });
/** An ICMP error from `from` quoting the first 28 bytes of datagram `f` (an Ethernet frame). */
const icmpErr = (from: string, to: string, type: number, code: number, f: Uint8Array) => ipFrame({ src: from, dst: to, icmp: { type, code }, payload: f.slice(14, 14 + 28) });

describe('conntrack: a stateful FORWARD chain', () => {
  it('NEW only from p0; replies ESTABLISHED; unsolicited from p1 dropped; -L shows the entry', () => {
    const { pass, list, L, ct } = setup(STATEFUL);
    expect(L.ipv4.tracking).toBe(true);
    expect(pass(udp(A, B, 1000, 53))).toBe(1);
    expect(list()).toBe('udp      17 30 src=10.1.0.2 dst=10.2.0.2 sport=1000 dport=53 [UNREPLIED] src=10.2.0.2 dst=10.1.0.2 sport=53 dport=1000 mark=0 use=1');
    expect(pass(udp(B, A, 53, 1000), 1)).toBe(1);
    expect(list()).toBe('udp      17 30 src=10.1.0.2 dst=10.2.0.2 sport=1000 dport=53 src=10.2.0.2 dst=10.1.0.2 sport=53 dport=1000 mark=0 use=1');
    expect(pass(udp(B, A, 53, 1001), 1)).toBe(0);
    expect(pass(udp(B, A, 54, 1000), 1)).toBe(0);
    // The dropped packets' unconfirmed entries went at the end of their dispatch.
    expect(ct.table.count).toBe(1);
    expect(L.leaked()).toBe(0);
  });

  it('a UDP flow replied to and older than 2 s becomes a stream: 120 s and ASSURED', () => {
    const { pass, list, advance } = setup(STATEFUL);
    pass(udp(A, B, 1000, 53));
    pass(udp(B, A, 53, 1000), 1);
    advance(2500);
    pass(udp(A, B, 1000, 53));
    expect(list()).toMatch(/^udp {6}17 120 .* dport=1000 \[ASSURED\] mark=0 use=1$/);
  });

  it('ping: echo request NEW, reply ESTABLISHED (the id is the port); a reply without request is INVALID', () => {
    const { pass, list, ct } = setup(STATEFUL);
    expect(pass(ipFrame({ src: A, dst: B, icmp: { type: 8, rest: (0x1234 << 16) | 1 } }))).toBe(1);
    expect(pass(ipFrame({ src: B, dst: A, icmp: { type: 0, rest: (0x1234 << 16) | 1 } }), 1)).toBe(1);
    expect(list()).toBe('icmp     1 30 src=10.1.0.2 dst=10.2.0.2 type=8 code=0 id=4660 src=10.2.0.2 dst=10.1.0.2 type=0 code=0 id=4660 mark=0 use=1');
    const inv = ct.stats[1];
    expect(pass(ipFrame({ src: B, dst: A, icmp: { type: 0, rest: (0x9999 << 16) | 1 } }), 1)).toBe(0);
    expect(ct.stats[1]).toBe(inv + 1);
  });
});

describe('conntrack: TCP', () => {
  it('handshake, data, close: SYN_SENT, SYN_RECV, ESTABLISHED [ASSURED], FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT', () => {
    const { pass, list } = setup(STATEFUL);
    const state = () => list().split(' ').filter((w) => w !== '')[3];
    expect(pass(tcp(A, B, 40000, 80, TCP_SYN, 1000, 0))).toBe(1);
    expect(list()).toMatch(/^tcp {6}6 120 SYN_SENT src=10.1.0.2 dst=10.2.0.2 sport=40000 dport=80 \[UNREPLIED\] src=10.2.0.2/);
    expect(pass(tcp(B, A, 80, 40000, TCP_SYN | TCP_ACK, 5000, 1001), 1)).toBe(1);
    expect(state()).toBe('SYN_RECV');
    expect(pass(tcp(A, B, 40000, 80, TCP_ACK, 1001, 5001))).toBe(1);
    expect(list()).toMatch(/^tcp {6}6 432000 ESTABLISHED .* \[ASSURED\] mark=0 use=1$/);
    // Data in both directions; unacknowledged data shortens the timeout to 300 s.
    expect(pass(tcp(A, B, 40000, 80, TCP_ACK, 1001, 5001, 100))).toBe(1);
    expect(list()).toMatch(/^tcp {6}6 300 ESTABLISHED/);
    expect(pass(tcp(B, A, 80, 40000, TCP_ACK, 5001, 1101, 50), 1)).toBe(1);
    expect(pass(tcp(A, B, 40000, 80, TCP_ACK, 1101, 5051))).toBe(1);
    expect(list()).toMatch(/^tcp {6}6 432000 ESTABLISHED/);
    expect(pass(tcp(A, B, 40000, 80, TCP_FIN | TCP_ACK, 1101, 5051))).toBe(1);
    expect(state()).toBe('FIN_WAIT');
    expect(pass(tcp(B, A, 80, 40000, TCP_ACK, 5051, 1102), 1)).toBe(1);
    expect(state()).toBe('CLOSE_WAIT');
    expect(pass(tcp(B, A, 80, 40000, TCP_FIN | TCP_ACK, 5051, 1102), 1)).toBe(1);
    expect(state()).toBe('LAST_ACK');
    expect(pass(tcp(A, B, 40000, 80, TCP_ACK, 1102, 5052))).toBe(1);
    expect(list()).toMatch(/^tcp {6}6 120 TIME_WAIT/);
    // A new SYN on the same ports reopens: a fresh entry in SYN_SENT.
    expect(pass(tcp(A, B, 40000, 80, TCP_SYN, 900000, 0))).toBe(1);
    expect(list()).toMatch(/^tcp {6}6 120 SYN_SENT .*\[UNREPLIED\]/);
  });

  it('window tracking: out-of-window segments are INVALID (dropped by a rule), unless nf_conntrack_tcp_be_liberal', () => {
    const rules = ['-A FORWARD -m conntrack --ctstate INVALID -j DROP', ...STATEFUL];
    for (const liberal of [0, 1]) {
      const { pass, ct } = setup(rules, { nf_conntrack_tcp_be_liberal: liberal });
      pass(tcp(A, B, 40000, 80, TCP_SYN, 1000, 0));
      pass(tcp(B, A, 80, 40000, TCP_SYN | TCP_ACK, 5000, 1001), 1);
      pass(tcp(A, B, 40000, 80, TCP_ACK, 1001, 5001));
      const inv = ct.stats[1];
      // seq far beyond what B advertised; an ACK of data B never sent.
      expect(pass(tcp(A, B, 40000, 80, TCP_ACK, 1001 + 10_000_000, 5001, 10))).toBe(liberal);
      expect(pass(tcp(A, B, 40000, 80, TCP_ACK, 1001, 5001 + 10_000_000, 10))).toBe(liberal);
      expect(ct.stats[1]).toBe(inv + (liberal ? 0 : 2));
      // An in-window segment still passes.
      expect(pass(tcp(A, B, 40000, 80, TCP_ACK, 1001, 5001, 10))).toBe(1);
    }
  });

  it('sequence numbers that wrap past 2^32 stay in window', () => {
    const { pass, list, ct } = setup(['-A FORWARD -m conntrack --ctstate INVALID -j DROP', ...STATEFUL]);
    const a = 0xffffff00;
    const b = 0x7ffffff0;
    pass(tcp(A, B, 40000, 80, TCP_SYN, a, 0));
    expect(pass(tcp(B, A, 80, 40000, TCP_SYN | TCP_ACK, b, (a + 1) >>> 0), 1)).toBe(1);
    expect(pass(tcp(A, B, 40000, 80, TCP_ACK, (a + 1) >>> 0, (b + 1) >>> 0, 1000))).toBe(1);
    expect(pass(tcp(B, A, 80, 40000, TCP_ACK, (b + 1) >>> 0, (a + 1001) >>> 0, 100), 1)).toBe(1);
    expect(pass(tcp(A, B, 40000, 80, TCP_ACK, (a + 1001) >>> 0, (b + 101) >>> 0, 10))).toBe(1);
    expect(list()).toMatch(/ESTABLISHED .*\[ASSURED\]/);
    expect(ct.stats[1]).toBe(0);
  });

  it('mid-stream ACK: picked up as NEW with nf_conntrack_tcp_loose=1, INVALID with 0; bad flags INVALID', () => {
    for (const loose of [1, 0]) {
      const { pass, ct, list } = setup(['-A FORWARD -m conntrack --ctstate INVALID -j DROP'], { nf_conntrack_tcp_loose: loose });
      expect(pass(tcp(A, B, 40001, 80, TCP_ACK, 7777, 8888, 10))).toBe(loose);
      if (loose) expect(list()).toMatch(/ESTABLISHED src=10.1.0.2 .*\[UNREPLIED\]/);
      else expect(ct.table.count).toBe(0);
    }
    const { pass } = setup(['-A FORWARD -m conntrack --ctstate INVALID -j DROP']);
    expect(pass(tcp(A, B, 40002, 80, TCP_FIN, 1, 0))).toBe(0);
    expect(pass(tcp(A, B, 40002, 80, 0, 1, 0))).toBe(0);
    expect(pass(tcp(A, B, 40002, 80, TCP_SYN | TCP_FIN, 1, 0))).toBe(0);
  });

  it('a RST answering a SYN kills the entry at once', () => {
    const { pass, ct } = setup(STATEFUL);
    pass(tcp(A, B, 40000, 81, TCP_SYN, 1000, 0));
    expect(pass(tcp(B, A, 81, 40000, TCP_RST | TCP_ACK, 0, 1001), 1)).toBe(1);
    expect(ct.table.count).toBe(0);
  });
});

describe('conntrack: ICMP errors are RELATED', () => {
  it('a port unreachable quoting a tracked flow passes as RELATED; one quoting an unknown flow is INVALID', () => {
    const { pass, ct } = setup(STATEFUL);
    const out = udp(A, B, 1000, 53);
    pass(out);
    expect(pass(icmpErr(B, A, 3, 3, out), 1)).toBe(1);
    const inv = ct.stats[1];
    expect(pass(icmpErr(B, A, 3, 3, udp(A, B, 1000, 54)), 1)).toBe(0);
    // The error must go to the quoted packet's source.
    expect(pass(icmpErr(B, '10.1.0.9', 3, 3, out), 1)).toBe(0);
    expect(ct.stats[1]).toBe(inv + 2);
  });

  it('time exceeded built by the router itself belongs to the packet it answers (OUTPUT sees RELATED)', () => {
    const { pass, L } = setup(['-P OUTPUT DROP', '-A OUTPUT -m conntrack --ctstate RELATED -j ACCEPT', ...STATEFUL]);
    expect(pass(udp(A, B, 1000, 53, 1))).toBe(1);
    expect(L.icmpMib('OutTimeExcds')).toBe(1);
  });
});

describe('conntrack: raw table', () => {
  it('-j CT --notrack and -j NOTRACK: UNTRACKED, no entry; -S prints CT --notrack', () => {
    const { pass, ct, nf } = setup([
      '-t raw -A PREROUTING -p udp --dport 53 -j CT --notrack',
      '-t raw -A PREROUTING -p udp --dport 54 -j NOTRACK',
      '-P FORWARD DROP',
      '-A FORWARD -m state --state UNTRACKED -j ACCEPT',
    ]);
    expect(pass(udp(A, B, 1000, 53))).toBe(1);
    expect(pass(udp(A, B, 1000, 54))).toBe(1);
    expect(pass(udp(A, B, 1000, 55))).toBe(0);
    expect(ct.table.count).toBe(0);
    expect(nf.exec('-t raw -S')).toBe('-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT\n-A PREROUTING -p udp -m udp --dport 53 -j CT --notrack\n-A PREROUTING -p udp -m udp --dport 54 -j CT --notrack\n');
    expect(() => nf.exec('-A FORWARD -j CT --notrack')).toThrow(/only valid in the raw table/);
  });
});

describe('conntrack: on demand', () => {
  it('off without rules that need it; on with one; off again when it goes (entries stay)', () => {
    const { L, nf, pass } = setup([]);
    expect(L.ipv4.tracking).toBe(false);
    nf.exec('-A FORWARD -m conntrack --ctstate INVALID -j DROP');
    L.ipv4.refreshHooks();
    expect(L.ipv4.tracking).toBe(true);
    pass(udp(A, B, 1, 2));
    nf.exec('-F FORWARD');
    L.ipv4.refreshHooks();
    expect(L.ipv4.tracking).toBe(false);
    expect(L.ipv4.conntrack.table.count).toBe(1);
    L.ipv4.conntrackSysctl('net.netfilter.nf_conntrack_enable', 1);
    expect(L.ipv4.tracking).toBe(true);
  });
});

describe('conntrack: a full table', () => {
  it('early drop evicts an unreplied entry; with every entry ASSURED the new flow is dropped and counted', () => {
    const { pass, ct, advance, logs, cmd } = setup(STATEFUL, { nf_conntrack_max: 4 }, 4);
    for (let k = 0; k < 4; k++) pass(udp(A, B, 2000 + k, 53));
    expect(ct.table.count).toBe(4);
    expect(pass(udp(A, B, 3000, 53))).toBe(1);
    expect(ct.table.count).toBe(4);
    expect(ct.stats[5]).toBe(1);
    // Make all four streams (replied and older than 2 s): ASSURED, never early-dropped.
    const live = cmd('-L').output.trim().split('\n').map((l) => Number(/sport=(\d+)/.exec(l)![1]));
    for (const p of live) pass(udp(B, A, 53, p), 1);
    advance(3000);
    for (const p of live) pass(udp(A, B, p, 53));
    expect(cmd('-L', '-u', 'ASSURED').output.trim().split('\n')).toHaveLength(4);
    expect(pass(udp(A, B, 4000, 53))).toBe(0);
    expect(ct.stats[4]).toBe(1);
    expect(logs).toEqual(['nf_conntrack: nf_conntrack: table full, dropping packet']);
    // Established flows keep working.
    expect(pass(udp(B, A, 53, live[0]), 1)).toBe(1);
    expect(cmd('-S').output).toMatch(/^cpu=0 {3}\tfound=\d+ invalid=0 insert=5 insert_failed=0 drop=1 early_drop=1 error=0 search_restart=0 clash_resolve=0 chaintoolong=0 \n$/);
  });

  it('an entry early-dropped while a packet of its dispatch still names it is not reused for the new flow', () => {
    // max 1: flow 2000 holds the only entry; one dispatch brings a packet of it and a new flow.
    // The new flow evicts 2000's entry at PREROUTING; 2000's packet must still leave as itself
    // at POSTROUTING, not with the new flow's entry and its NAT binding.
    const { L, ct } = setup(['-t nat -A POSTROUTING -o p1 -j MASQUERADE'], { nf_conntrack_max: 1 }, 1);
    L.rx(udp(A, B, 2000, 53));
    expect(L.take().map((s) => s.bytes[21] | (s.bytes[20] << 8))).toEqual([2000]);
    L.rxMany([udp(A, B, 2000, 53), udp(A, B, 3000, 53)]);
    const out = L.take().map((s) => ({ src: s.bytes.slice(12, 16).join('.'), sport: (s.bytes[20] << 8) | s.bytes[21] }));
    expect(out).toEqual([
      { src: '10.2.0.1', sport: 2000 },
      { src: '10.2.0.1', sport: 3000 },
    ]);
    expect(ct.stats[5]).toBe(1);
    expect(ct.table.count).toBe(1);
    expect(L.leaked()).toBe(0);
  });

  it('a flood of distinct tuples: the table stays at its bound, memory flat after it grew once', () => {
    const { L, ct } = setup(['-A FORWARD -m conntrack --ctstate INVALID -j DROP'], { nf_conntrack_max: 2048 }, 1024);
    const frames: Uint8Array[] = [];
    for (let k = 0; k < 64; k++) frames.push(udp(A, B, 0, 53));
    let bytes = 0;
    for (let round = 0; round < 200; round++) {
      for (let k = 0; k < 64; k++) {
        const f = frames[k];
        const sport = (round * 64 + k) & 0xffff;
        f[14 + 20] = sport >> 8;
        f[14 + 21] = sport & 0xff;
      }
      L.rxMany(frames);
      L.take();
      if (round === 100) bytes = ct.table.bytes();
    }
    expect(ct.table.count).toBe(2048);
    expect(ct.table.bytes()).toBe(bytes);
    expect(L.leaked()).toBe(0);
  });
});

describe('conntrack: expiry', () => {
  it('entries leave when their timeout passes on the wheel; a shorter sysctl applies at the next packet', () => {
    const { pass, ct, advance, L } = setup(STATEFUL);
    pass(udp(A, B, 1000, 53));
    advance(29_000);
    expect(ct.table.count).toBe(1);
    advance(2_000);
    expect(ct.table.count).toBe(0);
    pass(tcp(A, B, 40000, 80, TCP_SYN, 1000, 0));
    pass(tcp(B, A, 80, 40000, TCP_SYN | TCP_ACK, 5000, 1001), 1);
    pass(tcp(A, B, 40000, 80, TCP_ACK, 1001, 5001));
    advance(3600_000);
    expect(ct.table.count).toBe(1);
    L.ipv4.conntrackSysctl('nf_conntrack_tcp_timeout_established', 5);
    pass(tcp(A, B, 40000, 80, TCP_ACK, 1001, 5001));
    advance(6_000);
    expect(ct.table.count).toBe(0);
  });
});

describe('conntrack -L/-D/-F filters', () => {
  it('filters by protocol and address, deletes and flushes', () => {
    const { pass, cmd } = setup(STATEFUL);
    pass(udp(A, B, 1000, 53));
    pass(udp(A, B, 1001, 53));
    pass(tcp(A, B, 40000, 80, TCP_SYN, 1000, 0));
    expect(cmd('-L', '-p', 'udp').output.trim().split('\n')).toHaveLength(2);
    expect(cmd('-L', '-p', 'tcp', '--dport', '80').summary).toBe('conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.');
    expect(cmd('-L', '-s', '10.9.9.9').output).toBe('');
    expect(cmd('-C').output).toBe('3\n');
    expect(cmd('-D', '-p', 'udp', '--sport', '1000').summary).toMatch(/1 flow entries have been deleted/);
    expect(cmd('-C').output).toBe('2\n');
    cmd('-F');
    expect(cmd('-C').output).toBe('0\n');
    expect(() => cmd('-L', '--bogus')).toThrow(/unknown option "--bogus"/);
    expect(() => cmd('-L', '--state', 'ESTABLISHED')).toThrow(/needs "-p tcp"/);
  });
});

describe('conntrack: hostile input', () => {
  it('mutated TCP/UDP/ICMP frames never throw, leak no frame and keep the table bounded', () => {
    const { L, ct } = setup(['-A FORWARD -m conntrack --ctstate INVALID -j DROP', ...STATEFUL], { nf_conntrack_max: 256 }, 256);
    const next = rng(11);
    const rnd = () => next() / 2 ** 32;
    const seeds = [
      tcp(A, B, 1, 2, TCP_SYN, 1, 0),
      tcp(B, A, 2, 1, TCP_SYN | TCP_ACK, 5, 2, 20),
      udp(A, B, 5, 6),
      icmpErr(B, A, 3, 3, udp(A, B, 5, 6)),
      icmpErr(B, A, 11, 0, tcp(A, B, 1, 2, TCP_SYN, 1, 0)),
      ipFrame({ src: A, dst: B, icmp: { type: 8, rest: 77 } }),
      ipFrame({ src: A, dst: B, proto: 47, payload: new Uint8Array(8) }),
    ];
    for (let n = 0; n < 20_000; n++) {
      const f = seeds[n % seeds.length].slice();
      // Mutate the L4 header and what follows (the IP header is checked before conntrack sees it).
      const flips = 1 + (rnd() * 4) | 0;
      for (let k = 0; k < flips; k++) f[34 + ((rnd() * (f.length - 34)) | 0)] = (rnd() * 256) | 0;
      L.rx(f, n & 1);
      L.take();
    }
    expect(L.leaked()).toBe(0);
    expect(ct.table.count).toBeLessThanOrEqual(256);
    expect(ct.stats[1]).toBeGreaterThan(0);
  });
});

describe('conntrack: a Stack', () => {
  it('sysctls by their Linux names, rules turn tracking on, stack.conntrack() answers -L/-S', async () => {
    const { Stack } = await import('../../src/stack/stack.ts');
    const s = new Stack({ name: 'sn-ct', control: null, umem: 'memory', frames: 512 });
    try {
      expect(s.sysctl('net.netfilter.nf_conntrack_count')).toBe(0);
      expect(s.sysctl('net.netfilter.nf_conntrack_tcp_timeout_established')).toBe(432000);
      expect(s.sysctl('nf_conntrack_udp_timeout', 45)).toBe(45);
      expect(s.sysctl('net/netfilter/nf_conntrack_max', 5000)).toBe(5000);
      expect(() => s.sysctl('net.netfilter.nf_conntrack_buckets', 1)).toThrow(/read-only/);
      expect(s.conntrack(['-L']).summary).toBe('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.');
      expect(s.ipv4.tracking).toBe(false);
      s.iptables('-A FORWARD -m state --state INVALID -j DROP');
      expect(s.ipv4.tracking).toBe(true);
      expect(s.iptables('-S FORWARD')).toBe('-P FORWARD ACCEPT\n-A FORWARD -m state --state INVALID -j DROP\n');
      expect(s.iptables('-L FORWARD -n')).toContain('DROP       all  --  0.0.0.0/0            0.0.0.0/0            state INVALID\n');
      expect(s.conntrack(['-S']).output).toMatch(/^cpu=0/);
    } finally {
      await s.stop();
    }
  });
});
