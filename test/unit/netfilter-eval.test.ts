import { describe, expect, it } from 'vitest';
import { maskOf, parseIPv4 } from '../../src/wire/addr.ts';
import {
  Netfilter,
  NfPacket,
  NF_ACCEPT,
  NF_DROP,
  NF_INET_FORWARD,
  NF_INET_LOCAL_IN,
  NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NF_REJECT,
  REJECT_ADMIN_PROHIBITED,
  REJECT_PORT_UNREACH,
  REJECT_TCP_RESET,
  parseCommand,
  type Rule,
} from '../../src/ipv4/netfilter/netfilter.ts';
import { describeNoGc, expectNoGc, runNoGc } from '../support/nogc.ts';
import { rng } from '../support/rng.ts';

const devs = ['p0', 'p1', 'eth0', 'veth9'];
const mk = (...lines: string[]) => {
  const nf = new Netfilter((n) => devs.indexOf(n), (i) => devs[i]);
  nf.logSink = () => {};
  for (const l of lines) nf.exec(l);
  return nf;
};
const ip = parseIPv4;

function pkt(o: Partial<NfPacket> = {}): NfPacket {
  const p = new NfPacket();
  Object.assign(p, { iif: 0, oif: 1, saddr: ip('10.0.0.1'), daddr: ip('10.9.0.1'), proto: 17, sport: 1234, dport: 53, len: 100 }, o);
  return p;
}
const fwd = (nf: Netfilter, o: Partial<NfPacket> = {}) => nf.hook(NF_INET_FORWARD, pkt(o));

describe('netfilter matches', () => {
  const cases: Array<[string, Partial<NfPacket>, Partial<NfPacket>]> = [
    // [rule spec (matches -> DROP), a packet that matches, one that does not]
    ['-s 10.0.0.0/8', { saddr: ip('10.200.1.1') }, { saddr: ip('11.0.0.1') }],
    ['! -s 10.0.0.0/8', { saddr: ip('11.0.0.1') }, { saddr: ip('10.0.0.1') }],
    ['-d 192.168.1.7', { daddr: ip('192.168.1.7') }, { daddr: ip('192.168.1.8') }],
    ['-s 200.0.0.0/5', { saddr: ip('207.1.1.1') }, { saddr: ip('199.1.1.1') }], // high addresses (sign bit)
    ['-i p0', { iif: 0 }, { iif: 1 }],
    ['-i p+', { iif: 1 }, { iif: 2 }],
    ['! -i p+', { iif: 2 }, { iif: 0 }],
    ['-o veth9', { oif: 3 }, { oif: -1 }],
    ['! -o veth9', { oif: -1 }, { oif: 3 }],
    ['-p tcp', { proto: 6 }, { proto: 17 }],
    ['! -p udp', { proto: 1 }, { proto: 17 }],
    ['-p 47', { proto: 47 }, { proto: 6 }],
    ['-p all', { proto: 99 }, {}],
    ['-f', { fragOff: 10 }, { fragOff: 0 }],
    ['! -f', { fragOff: 0 }, { fragOff: 10 }],
    ['-p udp --dport 53', { dport: 53 }, { dport: 54 }],
    ['-p udp ! --dport 53', { dport: 54 }, { dport: 53 }],
    ['-p udp ! --dport 53 ', { dport: 54 }, { dport: 54, fragOff: 1 }], // later fragments never match ports, even negated
    ['-p udp --sport 1000:2000', { sport: 1000 }, { sport: 2001 }],
    ['-p udp --sport :1023', { sport: 0 }, { sport: 1024 }],
    ['-p udp --dport 1024:', { dport: 65535 }, { dport: 1023 }],
    ['-p udp --dport 53', { dport: 53 }, { dport: 53, proto: 6 }],
    ['-p udp --dport 53 ', { dport: 53 }, { dport: -1 }], // no header: no match
    ['-p tcp --syn', { proto: 6, tcpFlags: 0x02 }, { proto: 6, tcpFlags: 0x12 }],
    ['-p tcp ! --syn', { proto: 6, tcpFlags: 0x10 }, { proto: 6, tcpFlags: 0x02 }],
    ['-p tcp --tcp-flags ALL NONE', { proto: 6, tcpFlags: 0 }, { proto: 6, tcpFlags: 1 }],
    ['-p tcp --tcp-flags SYN,FIN SYN,FIN', { proto: 6, tcpFlags: 0x03 }, { proto: 6, tcpFlags: 0x02 }],
    ['-p icmp --icmp-type echo-request', { proto: 1, icmpType: 8, icmpCode: 0 }, { proto: 1, icmpType: 0, icmpCode: 0 }],
    ['-p icmp --icmp-type 3/4', { proto: 1, icmpType: 3, icmpCode: 4 }, { proto: 1, icmpType: 3, icmpCode: 3 }],
    ['-p icmp --icmp-type destination-unreachable', { proto: 1, icmpType: 3, icmpCode: 13 }, { proto: 1, icmpType: 11, icmpCode: 0 }],
    ['-p icmp ! --icmp-type 8', { proto: 1, icmpType: 0, icmpCode: 0 }, { proto: 1, icmpType: 8, icmpCode: 0 }],
    ['-p icmp --icmp-type any', { proto: 1, icmpType: 5, icmpCode: 1 }, { proto: 1, icmpType: 5, icmpCode: 1, fragOff: 3 }],
    ['-p udp -m multiport --dports 53,123,1000:1002', { dport: 1001 }, { dport: 1003 }],
    ['-p udp -m multiport --sports 53,123', { sport: 123 }, { sport: 124, dport: 123 }],
    ['-p udp -m multiport --ports 7,9', { sport: 1, dport: 9 }, { sport: 1, dport: 8 }],
    ['-p udp -m multiport ! --dports 53,123', { dport: 1 }, { dport: 123 }],
    ['-m length --length 64:128', { len: 64 }, { len: 129 }],
    ['-m length ! --length 64:128', { len: 1500 }, { len: 100 }],
    ['-m mark --mark 0x5', { mark: 5 }, { mark: 6 }],
    ['-m mark --mark 0x10/0xf0', { mark: 0x1f }, { mark: 0x2f }],
    ['-m mark ! --mark 0x80000000/0x80000000', { mark: 1 }, { mark: 0x80000001 }],
    ['-m comment --comment "anything"', {}, { len: -5 }], // comment always matches (pair with a length-free check below)
  ];
  for (const [spec, yes, no] of cases) {
    it(spec, () => {
      const nf = mk(`-A FORWARD ${spec} -j DROP`);
      expect(fwd(nf, yes), 'matching packet').toBe(NF_DROP);
      if (!spec.startsWith('-m comment') && !spec.startsWith('-p all')) expect(fwd(nf, no), 'other packet').toBe(NF_ACCEPT);
      expect(nf.counters('filter', 'FORWARD', 1).pkts).toBe(spec.startsWith('-m comment') || spec.startsWith('-p all') ? 1 : 1);
    });
  }
  it('all matches of a rule must hold', () => {
    const nf = mk('-A FORWARD -s 10.0.0.0/8 -i p0 -p udp --dport 53 -m length --length 0:200 -j DROP');
    expect(fwd(nf)).toBe(NF_DROP);
    expect(fwd(nf, { iif: 1 })).toBe(NF_ACCEPT);
    expect(fwd(nf, { len: 300 })).toBe(NF_ACCEPT);
    expect(fwd(nf, { saddr: ip('1.1.1.1') })).toBe(NF_ACCEPT);
  });
});

describe('netfilter targets, chains, policies, counters', () => {
  it('REJECT codes', () => {
    const nf = mk('-A FORWARD -p udp -j REJECT', '-A FORWARD -p tcp -j REJECT --reject-with tcp-reset', '-A FORWARD -j REJECT --reject-with icmp-admin-prohibited');
    const p = pkt();
    expect(nf.hook(NF_INET_FORWARD, p)).toBe(NF_REJECT);
    expect(p.rejectWith).toBe(REJECT_PORT_UNREACH);
    const t = pkt({ proto: 6 });
    expect(nf.hook(NF_INET_FORWARD, t)).toBe(NF_REJECT);
    expect(t.rejectWith).toBe(REJECT_TCP_RESET);
    const o = pkt({ proto: 1 });
    expect(nf.hook(NF_INET_FORWARD, o)).toBe(NF_REJECT);
    expect(o.rejectWith).toBe(REJECT_ADMIN_PROHIBITED);
  });
  it('policies and their counters; -Z', () => {
    const nf = mk('-P FORWARD DROP', '-A FORWARD -p udp --dport 53 -j ACCEPT');
    expect(fwd(nf)).toBe(NF_ACCEPT);
    expect(fwd(nf, { dport: 80, len: 60 })).toBe(NF_DROP);
    expect(fwd(nf, { dport: 81, len: 40 })).toBe(NF_DROP);
    expect(nf.counters('filter', 'FORWARD', 1)).toEqual({ pkts: 1, bytes: 100 });
    expect(nf.counters('filter', 'FORWARD')).toEqual({ pkts: 2, bytes: 100 });
    expect(nf.exec('-L FORWARD -v -n').split('\n')[0]).toBe('Chain FORWARD (policy DROP 2 packets, 100 bytes)');
    // counters survive unrelated changes (recompiles)
    nf.exec('-A INPUT -j ACCEPT');
    expect(nf.counters('filter', 'FORWARD', 1).pkts).toBe(1);
    nf.exec('-Z');
    expect(nf.counters('filter', 'FORWARD', 1).pkts).toBe(0);
    expect(nf.counters('filter', 'FORWARD').pkts).toBe(0);
  });
  it('jump, RETURN, fall-off and goto', () => {
    const nf = mk(
      '-N a',
      '-N b',
      '-A FORWARD -p udp -j a',
      '-A FORWARD -p tcp -g b', // goto: when b returns, FORWARD is done too (its policy decides)
      '-A FORWARD -j ACCEPT',
      '-A a -p udp --dport 53 -j RETURN',
      '-A a -j b',
      '-A a -j DROP',
      '-A b -p udp --dport 54 -j ACCEPT',
      '-A b -j RETURN',
      '-P FORWARD DROP',
    );
    expect(fwd(nf, { dport: 53 })).toBe(NF_ACCEPT); // RETURN from a -> FORWARD rule 3
    expect(fwd(nf, { dport: 54 })).toBe(NF_ACCEPT); // a -> b ACCEPT
    expect(fwd(nf, { dport: 55 })).toBe(NF_DROP); // a -> b RETURN -> a DROP
    expect(fwd(nf, { proto: 6, dport: 55 })).toBe(NF_DROP); // goto b, RETURN -> back past FORWARD: policy DROP
    expect(nf.counters('filter', 'FORWARD').pkts).toBe(1);
    expect(nf.counters('filter', 'b', 2).pkts).toBe(2);
  });
  it('RETURN in a base chain applies the policy', () => {
    const nf = mk('-P INPUT DROP', '-A INPUT -j RETURN', '-A INPUT -j ACCEPT');
    expect(nf.hook(NF_INET_LOCAL_IN, pkt())).toBe(NF_DROP);
  });
  it('deep but bounded nesting works; deeper is refused', () => {
    const nf = mk();
    for (let i = 0; i <= 32; i++) nf.exec(`-N c${i}`);
    for (let i = 0; i < 31; i++) nf.exec(`-A c${i} -j c${i + 1}`);
    nf.exec('-A c31 -j DROP');
    nf.exec('-A FORWARD -j c0');
    expect(fwd(nf)).toBe(NF_DROP);
    expect(() => nf.exec('-A c31 -j c32')).toThrow('deeper than 32');
  });
  it('MARK variants, and mangle runs before filter', () => {
    const nf = mk('-t mangle -A FORWARD -p udp -j MARK --set-mark 0x10/0xf0', '-A FORWARD -m mark --mark 0x10/0xf0 -j DROP');
    const p = pkt({ mark: 0xff });
    expect(nf.hook(NF_INET_FORWARD, p)).toBe(NF_DROP);
    expect(p.mark).toBe(0x1f);
    const q = pkt({ mark: 0x80000000 });
    mk('-t mangle -A PREROUTING -j MARK --or-mark 0x3').hook(NF_INET_PRE_ROUTING, q);
    expect(q.mark).toBe(0x80000003);
    const r = pkt({ mark: 0xff });
    mk('-t mangle -A POSTROUTING -j MARK --and-mark 0x0f').hook(NF_INET_POST_ROUTING, r);
    expect(r.mark).toBe(0x0f);
    const s = pkt({ mark: 0xff });
    mk('-t mangle -A OUTPUT -j MARK --xor-mark 0x01').hook(NF_INET_LOCAL_OUT, s);
    expect(s.mark).toBe(0xfe);
    const t = pkt({ mark: 0xffffffff });
    mk('-t mangle -A OUTPUT -j MARK --set-xmark 0x1/0xffffffff').hook(NF_INET_LOCAL_OUT, t);
    expect(t.mark).toBe(1);
  });
  it('every hook exists and is empty-ACCEPT by default', () => {
    const nf = mk();
    for (const h of [0, 1, 2, 3, 4]) {
      expect(nf.hook(h, pkt())).toBe(NF_ACCEPT);
      expect(nf.hookIsEmpty(h)).toBe(true);
    }
    nf.exec('-P OUTPUT DROP');
    expect(nf.hookIsEmpty(NF_INET_LOCAL_OUT)).toBe(false);
    expect(nf.hook(NF_INET_LOCAL_OUT, pkt())).toBe(NF_DROP);
  });
  it('a table runs and counts from the first command naming it (the kernel loads iptable_mangle then)', () => {
    const nf = mk('-A FORWARD -p tcp -j DROP');
    fwd(nf);
    expect(nf.counters('filter', 'FORWARD')).toEqual({ pkts: 1, bytes: 100 });
    expect(nf.counters('mangle', 'FORWARD')).toEqual({ pkts: 0, bytes: 0 });
    expect(nf.exec('-t mangle -L FORWARD -v -n').split('\n')[0]).toBe('Chain FORWARD (policy ACCEPT 0 packets, 0 bytes)');
    fwd(nf, { len: 60 });
    expect(nf.counters('mangle', 'FORWARD')).toEqual({ pkts: 1, bytes: 60 });
    expect(nf.counters('filter', 'FORWARD')).toEqual({ pkts: 2, bytes: 160 });
  });
  it('LOG is rate-limited (burst 5, 3/s) and non-terminal', () => {
    const nf = mk('-A FORWARD -p udp -j LOG --log-prefix "fw: "', '-A FORWARD -j DROP');
    const lines: string[] = [];
    nf.logSink = (l) => lines.push(l);
    for (let i = 0; i < 100; i++) expect(fwd(nf)).toBe(NF_DROP);
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines.length).toBeLessThanOrEqual(6);
    expect(nf.logSuppressed).toBe(100 - lines.length);
    expect(lines[0]).toBe('fw: IN=p0 OUT=p1 SRC=10.0.0.1 DST=10.9.0.1 LEN=100 PROTO=UDP SPT=1234 DPT=53');
    expect(nf.counters('filter', 'FORWARD', 1).pkts).toBe(100);
  });
  it('never throws on the packet path', () => {
    const nf = mk('-A FORWARD -i p0 -j LOG', '-A FORWARD -o nosuch -j DROP');
    nf.logSink = () => {
      throw new Error('sink broke');
    };
    expect(fwd(nf, { iif: 200, oif: 201 })).toBe(NF_ACCEPT); // indexes the device table does not know
    expect(fwd(nf, { iif: 0 })).toBe(NF_ACCEPT); // LOG with a throwing sink
    expect(nf.hook(7, pkt())).toBe(NF_DROP); // no such hook: fail closed
    expect(nf.hook(-1, pkt())).toBe(NF_DROP);
  });
  it('a rule without target only counts', () => {
    const nf = mk('-A FORWARD -s 10.0.0.0/8');
    expect(fwd(nf)).toBe(NF_ACCEPT);
    expect(nf.counters('filter', 'FORWARD', 1)).toEqual({ pkts: 1, bytes: 100 });
  });
  it('evaluates without allocating (1M packets through a user chain, multiport, MARK, -m mark: no GC, no heap growth)', async () => {
    // In a process of its own (test/support/nogc.ts): the test runner's own garbage and a
    // background recompilation are not counted against the chains.
    const r = await runNoGc(new URL('./netfilter-nogc.child.mts', import.meta.url), ['1000000']);
    console.log(describeNoGc('netfilter no-GC', r));
    // dports 1-3 of every 64 are dropped (NF_DROP 0), the rest accepted (NF_ACCEPT 1).
    expect(r.extra.verdicts).toEqual([46875, 953125, 0]);
    expect(r.extra.mark).toBe(0x80000001);
    expectNoGc(r, { scavenges: 0, fixedBytes: 1 << 20, bytesPerPacket: 0.05, retainedBytes: 256 * 1024 });
  }, 180_000);
});

// ---- differential: compiled evaluator vs a direct interpreter of the Rule objects ----

function naiveMatch(r: Rule, p: NfPacket): boolean {
  const addr = (a: Rule['src'], v: number) => a === undefined || ((((v & maskOf(a.len)) >>> 0) === a.addr) !== a.inv);
  const ifm = (x: Rule['iif'], dev: number) => {
    if (x === undefined) return true;
    const name = dev < 0 ? '' : devs[dev];
    const m = dev >= 0 && (x.name.endsWith('+') ? name.startsWith(x.name.slice(0, -1)) : name === x.name);
    return m !== x.inv;
  };
  if (!addr(r.src, p.saddr) || !addr(r.dst, p.daddr) || !ifm(r.iif, p.iif) || !ifm(r.oif, p.oif)) return false;
  if (r.proto && r.proto.num !== 0 && (p.proto === r.proto.num) === r.proto.inv) return false;
  if (r.frag && (p.fragOff !== 0) === r.frag.inv) return false;
  if (r.sport || r.dport || r.tcpFlags || r.icmp || r.multiport) {
    if (p.fragOff !== 0) return false;
    const inR = (x: { lo: number; hi: number }, v: number) => v >= x.lo && v <= x.hi;
    if ((r.sport || r.dport || r.multiport) && p.sport < 0) return false;
    if (r.sport && inR(r.sport, p.sport) === r.sport.inv) return false;
    if (r.dport && inR(r.dport, p.dport) === r.dport.inv) return false;
    if (r.tcpFlags && ((p.tcpFlags & r.tcpFlags.mask) === r.tcpFlags.comp) === r.tcpFlags.inv) return false;
    if (r.icmp) {
      const m = p.icmpType >= 0 && (r.icmp.type === 255 || (p.icmpType === r.icmp.type && p.icmpCode >= r.icmp.lo && p.icmpCode <= r.icmp.hi));
      if (m === r.icmp.inv) return false;
    }
    if (r.multiport) {
      const mp = r.multiport;
      const m = mp.list.some(([lo, hi]) => (mp.dir !== 'dports' && p.sport >= lo && p.sport <= hi) || (mp.dir !== 'sports' && p.dport >= lo && p.dport <= hi));
      if (m === mp.inv) return false;
    }
  }
  if (r.length && (p.len >= r.length.lo && p.len <= r.length.hi) === r.length.inv) return false;
  if (r.mark && (((p.mark & r.mark.mask) >>> 0) === r.mark.value) === r.mark.inv) return false;
  return true;
}

function naiveRun(chains: Map<string, Rule[]>, counts: Map<Rule, number>, name: string, p: NfPacket): string | undefined {
  for (const r of chains.get(name)!) {
    if (!naiveMatch(r, p)) continue;
    counts.set(r, (counts.get(r) ?? 0) + 1);
    const t = r.target;
    if (t.kind === 'ACCEPT' || t.kind === 'DROP') return t.kind;
    if (t.kind === 'REJECT') {
      p.rejectWith = t.rejectWith!;
      return 'REJECT';
    }
    if (t.kind === 'RETURN') return 'RETURN';
    if (t.kind === 'MARK') p.mark = ((p.mark & ~t.markMask!) ^ t.markValue!) >>> 0;
    if (t.kind === 'JUMP') {
      const v = naiveRun(chains, counts, t.chain!, p);
      if (v !== undefined && v !== 'RETURN') return v;
    }
    if (t.kind === 'GOTO') return naiveRun(chains, counts, t.chain!, p) ?? 'RETURN';
  }
  return undefined;
}

describe('netfilter differential: compiled vs interpreted', () => {
  for (let seed = 1; seed <= 30; seed++) {
    it(`seed ${seed}`, () => {
      const rand = rng(seed * 7919);
      const pick = <T>(a: readonly T[]) => a[rand() % a.length];
      const maybe = (pct: number) => rand() % 100 < pct;
      const nf = mk('-N u1', '-N u2', '-N u3');
      const chains = new Map<string, Rule[]>([['FORWARD', []], ['u1', []], ['u2', []], ['u3', []]]);
      const policy = pick(['ACCEPT', 'DROP']);
      nf.exec(`-P FORWARD ${policy}`);
      const nrules = 5 + (rand() % 25);
      for (let i = 0; i < nrules; i++) {
        const chain = pick(['FORWARD', 'FORWARD', 'u1', 'u2', 'u3']);
        const parts: string[] = [];
        const inv = () => (maybe(25) ? '! ' : '');
        if (maybe(30)) parts.push(`${inv()}-s ${pick(['10.0.0.0/8', '10.0.0.1', '192.168.0.0/16', '0.0.0.0/1', '128.0.0.0/1'])}`);
        if (maybe(20)) parts.push(`${inv()}-d ${pick(['10.9.0.0/16', '8.8.8.8', '172.16.0.0/12'])}`);
        if (maybe(20)) parts.push(`${inv()}-i ${pick(['p0', 'p+', 'eth0', 'nope'])}`);
        if (maybe(15)) parts.push(`${inv()}-o ${pick(['p1', 'veth+'])}`);
        if (maybe(10)) parts.push(`${inv()}-f`);
        const proto = maybe(60) ? pick(['tcp', 'udp', 'icmp', '47']) : undefined;
        if (proto !== undefined) parts.push(`${maybe(10) ? '! ' : ''}-p ${proto}`);
        const positive = proto !== undefined && !parts[parts.length - 1].startsWith('!');
        if (positive && (proto === 'tcp' || proto === 'udp')) {
          if (maybe(40)) parts.push(`${inv()}--dport ${pick(['53', '80', '1000:2000', ':1023', '443'])}`);
          if (maybe(20)) parts.push(`${inv()}--sport ${pick(['53', '1234', '1024:'])}`);
          if (proto === 'tcp' && maybe(30)) parts.push(pick([`${inv()}--syn`, `${inv()}--tcp-flags SYN,ACK ACK`, `${inv()}--tcp-flags ALL NONE`]));
          if (maybe(20)) parts.push(`-m multiport ${inv()}--${pick(['dports', 'sports', 'ports'])} ${pick(['53,80', '1:10,443', '1234'])}`);
        }
        if (positive && proto === 'icmp' && maybe(60)) parts.push(`${inv()}--icmp-type ${pick(['8', 'echo-reply', '3/3', 'destination-unreachable', 'any'])}`);
        if (maybe(15)) parts.push(`-m length ${inv()}--length ${pick(['0:100', '64', '101:'])}`);
        if (maybe(15)) parts.push(`-m mark ${inv()}--mark ${pick(['0x1', '0x2/0x2', '0x0/0xff'])}`);
        const targets = ['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'MARK --set-mark 0x1', 'MARK --or-mark 0x2', 'MARK --set-xmark 0x4/0x6', 'LOG', ''];
        let target = pick([...targets, 'u1', 'u2', 'u3', 'g:u2', 'g:u3']);
        if (target === '' && maybe(50)) target = 'DROP';
        const jumps = target.replace('g:', '');
        if (['u1', 'u2', 'u3'].includes(jumps) && jumps <= chain && chain !== 'FORWARD') target = 'ACCEPT'; // keep acyclic
        const t = target === '' ? '' : target.startsWith('g:') ? `-g ${jumps}` : `-j ${target}`;
        const line = `-A ${chain} ${parts.join(' ')} ${t}`;
        nf.exec(line);
        chains.get(chain)!.push(parseCommand(line).rule!);
      }
      const counts = new Map<Rule, number>();
      let polCount = 0;
      for (let k = 0; k < 400; k++) {
        const proto = pick([6, 17, 1, 47, 6, 17]);
        const o: Partial<NfPacket> = {
          iif: pick([-1, 0, 1, 2, 3]),
          oif: pick([-1, 0, 1, 3]),
          saddr: pick([ip('10.0.0.1'), ip('10.5.5.5'), ip('192.168.3.4'), ip('200.1.1.1'), ip('8.8.8.8')]),
          daddr: pick([ip('10.9.1.1'), ip('8.8.8.8'), ip('172.20.0.1'), ip('1.2.3.4')]),
          proto,
          sport: proto === 6 || proto === 17 ? pick([53, 1234, 5, 443, 2000, -1]) : -1,
          dport: proto === 6 || proto === 17 ? pick([53, 80, 1500, 443, 7, 9]) : -1,
          icmpType: proto === 1 ? pick([0, 3, 8, 11]) : -1,
          icmpCode: proto === 1 ? pick([0, 3, 4]) : -1,
          tcpFlags: proto === 6 ? pick([0, 0x02, 0x12, 0x10, 0x11]) : 0,
          len: pick([40, 64, 100, 1500]),
          mark: pick([0, 1, 2, 3, 0xff]),
          fragOff: maybe(10) ? 5 : 0,
        };
        const a = pkt(o);
        const b = pkt(o);
        const got = nf.hook(NF_INET_FORWARD, a);
        let want = naiveRun(chains, counts, 'FORWARD', b);
        if (want === undefined || want === 'RETURN') {
          want = policy;
          polCount++;
        }
        const wantV = want === 'ACCEPT' ? NF_ACCEPT : want === 'DROP' ? NF_DROP : NF_REJECT;
        expect(got, `packet ${k} ${JSON.stringify(o)}\n${nf.exec('-S')}`).toBe(wantV);
        expect(a.mark).toBe(b.mark);
        if (got === NF_REJECT) expect(a.rejectWith).toBe(b.rejectWith);
      }
      for (const [name, rules] of chains) rules.forEach((r, i) => expect(nf.counters('filter', name, i + 1).pkts, `${name} rule ${i + 1}`).toBe(counts.get(r) ?? 0));
      expect(nf.counters('filter', 'FORWARD').pkts).toBe(polCount);
    });
  }
});
