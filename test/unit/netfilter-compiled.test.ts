// The compiled chains (compile-chain.ts) against the record walk they replace (Program.interpret):
// random rule sets over every table, match and target, random packets through every hook, the
// same verdicts, the same packet fields written, the same counters as `iptables -L -v -x` shows.
import { describe, expect, it } from 'vitest';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { CHUNK, chainSource } from '../../src/ipv4/netfilter/compile-chain.ts';

const allSource = (nf: Netfilter) => {
  const s = chainSource(nf['prog']);
  return [s.main, ...s.segments].join('\n');
};
import { Netfilter, NfPacket, NF_INET_NUMHOOKS, NFF_ADDR, NFF_ALL, NFF_CT, NFF_IF, NFF_IPH, NFF_L4, NFF_MARK, IptablesError } from '../../src/ipv4/netfilter/netfilter.ts';
import { MAX_DEPTH } from '../../src/ipv4/netfilter/program.ts';
import { rng } from '../support/rng.ts';

const devs = ['p0', 'p1', 'eth0', 'veth9'];
const TABLES: Record<string, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
};
const USER = ['u1', 'u2', 'u3', 'u4'];
const OUT_FIELDS = ['mark', 'rejectWith', 'notrack', 'natKind', 'natFlags', 'natMinIp', 'natMaxIp', 'natMinPort', 'natMaxPort'] as const;

function pair(): [Netfilter, Netfilter, string[]] {
  const mk = (e: 'compiled' | 'records') => {
    const nf = new Netfilter((n) => devs.indexOf(n), (i) => devs[i]);
    nf.setEvaluator(e);
    return nf;
  };
  const logs: string[] = [];
  const c = mk('compiled');
  const r = mk('records');
  c.logSink = (l) => logs.push(`c ${l}`);
  r.logSink = (l) => logs.push(`r ${l}`);
  return [c, r, logs];
}

/** The line on both; both accept it or both refuse it alike. */
function both(c: Netfilter, r: Netfilter, line: string): void {
  let ec = '';
  let er = '';
  try {
    c.exec(line);
  } catch (e) {
    if (!(e instanceof IptablesError)) throw e;
    ec = e.message;
  }
  try {
    r.exec(line);
  } catch (e) {
    er = (e as Error).message;
  }
  expect(ec, line).toBe(er);
}

function randomRule(rand: () => number, table: string, chain: string): string {
  const pick = <T>(a: readonly T[]) => a[rand() % a.length];
  const maybe = (pct: number) => rand() % 100 < pct;
  const inv = () => (maybe(25) ? '! ' : '');
  const parts: string[] = [];
  if (maybe(30)) parts.push(`${inv()}-s ${pick(['10.0.0.0/8', '10.0.0.1', '192.168.0.0/16', '0.0.0.0/1', '128.0.0.0/1', '0.0.0.0/0'])}`);
  if (maybe(20)) parts.push(`${inv()}-d ${pick(['10.9.0.0/16', '8.8.8.8', '172.16.0.0/12', '200.0.0.0/5'])}`);
  if (maybe(15)) parts.push(`${inv()}-i ${pick(['p0', 'p+', 'eth0', 'nope'])}`);
  if (maybe(15)) parts.push(`${inv()}-o ${pick(['p1', 'veth+'])}`);
  if (maybe(8)) parts.push(`${inv()}-f`);
  const proto = maybe(60) ? pick(['tcp', 'udp', 'icmp', '47', 'all']) : undefined;
  const pinv = proto !== undefined && proto !== 'all' && maybe(10);
  if (proto !== undefined) parts.push(`${pinv ? '! ' : ''}-p ${proto}`);
  if (proto !== undefined && !pinv && (proto === 'tcp' || proto === 'udp')) {
    if (maybe(40)) parts.push(`${inv()}--dport ${pick(['53', '80', '1000:2000', ':1023', '443'])}`);
    if (maybe(20)) parts.push(`${inv()}--sport ${pick(['53', '1234', '1024:'])}`);
    if (proto === 'tcp' && maybe(30)) parts.push(pick([`${inv()}--syn`, `${inv()}--tcp-flags SYN,ACK ACK`, `${inv()}--tcp-flags ALL NONE`]));
    if (maybe(20)) parts.push(`-m multiport ${inv()}--${pick(['dports', 'sports', 'ports'])} ${pick(['53,80', '1:10,443', '1234'])}`);
  }
  if (proto === 'icmp' && !pinv && maybe(60)) parts.push(`${inv()}--icmp-type ${pick(['8', 'echo-reply', '3/3', 'destination-unreachable', 'any'])}`);
  if (maybe(12)) parts.push(`-m length ${inv()}--length ${pick(['0:100', '64', '101:'])}`);
  if (maybe(12)) parts.push(`-m mark ${inv()}--mark ${pick(['0x1', '0x2/0x2', '0x0/0xff', '0x80000001'])}`);
  if (maybe(15)) parts.push(`-m conntrack ${inv()}--ctstate ${pick(['NEW', 'ESTABLISHED,RELATED', 'INVALID', 'UNTRACKED', 'DNAT'])}`);
  if (maybe(8)) parts.push(`-m conntrack ${inv()}--ctstatus ${pick(['CONFIRMED', 'SEEN_REPLY,ASSURED', 'EXPECTED'])}`);
  if (maybe(10)) parts.push(`-m state ${inv()}--state ${pick(['NEW', 'ESTABLISHED', 'RELATED,INVALID'])}`);
  // user text that must never reach the generated source
  if (maybe(15)) parts.push(`-m comment --comment ${pick(['"*/ throw 1; /*"', '"\\u0000 pk[0]=1e9"', 'plain'])}`);
  const targets = ['ACCEPT', 'DROP', 'RETURN', '', 'LOG --log-prefix "x\\"); pk[0]++; //"', 'MARK --set-mark 0x1', 'MARK --or-mark 0x80000000', 'MARK --set-xmark 0x4/0x6'];
  if (table === 'filter') targets.push('REJECT', 'REJECT --reject-with icmp-admin-prohibited');
  if (table === 'raw') targets.push('CT --notrack', 'NOTRACK');
  if (table === 'nat') targets.push('SNAT --to-source 1.2.3.4-1.2.3.9', 'DNAT --to-destination 10.1.1.1', 'MASQUERADE', 'REDIRECT', 'ACCEPT');
  // jumps only forward (u1 -> u2 -> ...), so there is no loop
  const later = USER.filter((u) => !USER.includes(chain) || u > chain);
  for (const u of later) targets.push(u, `g:${u}`);
  const t = pick(targets);
  const jt = t === '' ? '' : t.startsWith('g:') ? `-g ${t.slice(2)}` : `-j ${t}`;
  return `-t ${table} -A ${chain} ${parts.join(' ')} ${jt}`;
}

function randomPacket(rand: () => number, hook: number): NfPacket {
  const pick = <T>(a: readonly T[]) => a[rand() % a.length];
  const p = new NfPacket();
  const proto = pick([6, 17, 1, 47, 6, 17]);
  p.iif = hook === 3 ? -1 : pick([-1, 0, 1, 2, 3, 200]);
  p.oif = hook === 0 ? -1 : pick([-1, 0, 1, 3]);
  p.saddr = pick(['10.0.0.1', '10.5.5.5', '192.168.3.4', '200.1.1.1', '8.8.8.8', '128.0.0.1'].map(parseIPv4)) >>> 0;
  p.daddr = pick(['10.9.1.1', '8.8.8.8', '172.20.0.1', '1.2.3.4', '201.0.0.1'].map(parseIPv4)) >>> 0;
  p.proto = proto;
  p.sport = proto === 6 || proto === 17 ? pick([53, 1234, 5, 443, 2000, -1]) : -1;
  p.dport = proto === 6 || proto === 17 ? pick([53, 80, 1500, 443, 7, 9]) : -1;
  p.icmpType = proto === 1 ? pick([0, 3, 8, 11, -1]) : -1;
  p.icmpCode = proto === 1 ? pick([0, 3, 4]) : -1;
  p.tcpFlags = proto === 6 ? pick([0, 0x02, 0x12, 0x10, 0x11]) : 0;
  p.len = pick([40, 64, 100, 1500]);
  p.mark = pick([0, 1, 2, 3, 0xff, 0x80000001]);
  p.fragOff = rand() % 10 === 0 ? 5 : 0;
  p.ctState = pick([1, 2, 4, 8, 256, 8 | 128, 2 | 64]);
  p.ctStatus = pick([-1, 0, 8, 2 | 4, 0x1ff]);
  return p;
}

/** Every table's `-L -v -x -n`: rule and policy counters, exactly. */
const listing = (nf: Netfilter) => Object.keys(TABLES).map((t) => nf.exec(`-t ${t} -L -v -x -n`)).join('\n');

/** The packet through both: raw, hook, the nat chain; same verdicts and fields written (the rules in the message on a difference). */
function check(c: Netfilter, r: Netfilter, p: NfPacket, hook: number, what: string): void {
  const a = Object.assign(new NfPacket(), p);
  const b = Object.assign(new NfPacket(), p);
  const got = [c.raw(hook, a), c.hook(hook, a), c.runNat(hook, a), ...OUT_FIELDS.map((f) => a[f])];
  const want = [r.raw(hook, b), r.hook(hook, b), r.runNat(hook, b), ...OUT_FIELDS.map((f) => b[f])];
  if (got.some((v, i) => v !== want[i])) expect(got, `${what} at hook ${hook} (raw, hook, nat, ${OUT_FIELDS.join(', ')})\n${Object.keys(TABLES).map((t) => c.exec(`-t ${t} -S`)).join('')}`).toEqual(want);
}

describe('netfilter compiled chains vs the record walk', () => {
  for (let seed = 1; seed <= 40; seed++) {
    it(`seed ${seed}`, () => {
      const rand = rng(seed * 104729);
      const [c, r, logs] = pair();
      for (const t of Object.keys(TABLES)) for (const u of USER) both(c, r, `-t ${t} -N ${u}`);
      for (const [t, chains] of Object.entries(TABLES)) for (const ch of chains) if (t !== 'nat' && rand() % 3 === 0) both(c, r, `-t ${t} -P ${ch} DROP`);
      // some seeds put one long chain past CHUNK rules (segments, RETURN and goto across them)
      const n = seed % 5 === 0 ? CHUNK * 2 + 20 : 5 + (rand() % 60);
      for (let i = 0; i < n; i++) {
        const table = seed % 5 === 0 ? 'filter' : Object.keys(TABLES)[rand() % 4];
        const chains = [...TABLES[table], ...USER];
        const chain = seed % 5 === 0 && i % 4 !== 0 ? 'FORWARD' : chains[rand() % chains.length];
        both(c, r, randomRule(rand, table, chain));
      }
      const src = allSource(c);
      for (const bad of ['throw', 'pk[0]=', 'pk[0]++; //', 'plain', 'u1', 'nope', 'veth']) expect(src).not.toContain(bad);
      for (let k = 0; k < 600; k++) {
        const hook = rand() % NF_INET_NUMHOOKS;
        check(c, r, randomPacket(rand, hook), hook, `packet ${k}`);
      }
      expect(listing(c)).toBe(listing(r));
      expect(logs.filter((l) => l.startsWith('c ')).map((l) => l.slice(2))).toEqual(logs.filter((l) => l.startsWith('r ')).map((l) => l.slice(2)));
      expect(c.logSuppressed).toBe(r.logSuppressed);
    });
  }

  it('jumps nested MAX_DEPTH deep, RETURN at every level, goto from the deepest', () => {
    const [c, r] = pair();
    for (let i = 1; i <= MAX_DEPTH; i++) both(c, r, `-N d${i}`);
    both(c, r, '-A FORWARD -j d1');
    for (let i = 1; i < MAX_DEPTH; i++) {
      both(c, r, `-A d${i} -p tcp -j RETURN`);
      both(c, r, `-A d${i} -j d${i + 1}`);
      both(c, r, `-A d${i} -m mark --mark ${i} -j DROP`);
    }
    both(c, r, `-A d${MAX_DEPTH} -p udp -j MARK --set-mark 7`);
    both(c, r, '-N g');
    both(c, r, '-A g -m mark --mark 7 -j ACCEPT');
    both(c, r, `-A d${MAX_DEPTH} -p udp -g g`);
    const rand = rng(5);
    for (let k = 0; k < 300; k++) {
      const p = randomPacket(rand, 2);
      p.mark = rand() % (MAX_DEPTH + 2);
      check(c, r, p, 2, `packet ${k}`);
    }
    expect(listing(c)).toBe(listing(r));
  });

  it('counters carry over when the evaluator changes', () => {
    const [c, r] = pair();
    for (const l of ['-A FORWARD -p udp -j ACCEPT', '-A FORWARD -p tcp', '-P FORWARD DROP']) both(c, r, l);
    const rand = rng(9);
    for (let k = 0; k < 200; k++) {
      if (k === 100) c.setEvaluator('records');
      if (k === 150) c.setEvaluator('compiled');
      check(c, r, randomPacket(rand, 2), 2, `packet ${k}`);
    }
    expect(listing(c)).toBe(listing(r));
    expect(c.counters('filter', 'FORWARD', 1).pkts).toBeGreaterThan(0);
  });

  it('iptables-restore generates the code once, for the program it leaves', () => {
    const [c, r] = pair();
    const text = ['*filter', ':FORWARD DROP [0:0]', '-A FORWARD -p udp --dport 53 -j ACCEPT', '-A FORWARD -s 10.0.0.0/8 -j REJECT', 'COMMIT', ''].join('\n');
    c.restore(text);
    r.restore(text);
    expect(c['prog'].fns).not.toBeNull();
    const rand = rng(3);
    for (let k = 0; k < 200; k++) check(c, r, randomPacket(rand, 2), 2, `packet ${k}`);
    expect(listing(c)).toBe(listing(r));
    expect(() => c.restore('*filter\n-A FORWARD -j nosuch\nCOMMIT\n')).toThrow(IptablesError);
    expect(c['prog'].fns).not.toBeNull(); // the failed restore put the old program back, compiled
  });

  it('a long user chain in segments: RETURN, jumps and gotos inside them', () => {
    const [c, r] = pair();
    const rand = rng(31);
    for (const u of USER) both(c, r, `-N ${u}`);
    both(c, r, '-A FORWARD -j u1');
    both(c, r, '-A FORWARD -p udp -g u1');
    for (const u of ['u2', 'u3', 'u4']) for (let i = 0; i < 4; i++) both(c, r, randomRule(rand, 'filter', u));
    while (c.exec('-S u1').split('\n').length - 2 < CHUNK * 2 + 5) both(c, r, randomRule(rand, 'filter', 'u1'));
    expect(chainSource(c['prog']).segments.length).toBe(3);
    for (let k = 0; k < 1500; k++) check(c, r, randomPacket(rand, 2), 2, `packet ${k}`);
    expect(listing(c)).toBe(listing(r));
  });

  it('a segmented chain with jumps evaluates without allocating', () => {
    const [c] = pair();
    c.exec('-N u1');
    c.exec('-A u1 -p udp --dport 9 -j MARK --set-mark 0x80000001');
    c.exec('-A u1 -j RETURN');
    for (let i = 0; i < CHUNK * 3; i++) c.exec(i % 50 === 7 ? '-A FORWARD -i p+ -j u1' : `-A FORWARD -s 192.0.${i & 255}.0/24 -p udp -m multiport --dports 1,2,${i + 3} -j DROP`);
    const p = new NfPacket();
    Object.assign(p, { iif: 0, oif: 1, saddr: parseIPv4('10.0.0.1') >>> 0, daddr: parseIPv4('10.9.0.1') >>> 0, proto: 17, sport: 1234, dport: 9, len: 100 });
    for (let i = 0; i < 20000; i++) c.hook(2, p); // warm up / optimise
    globalThis.gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 300_000; i++) {
      p.dport = i & 15;
      c.hook(2, p);
    }
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(2_000_000); // 300k packets: an allocation per packet would be >= 4.8 MB
    expect(c.counters('filter', 'FORWARD').pkts).toBe(320_000);
  });

  it('a chain longer than CHUNK rules is cut into segment functions', () => {
    const [c] = pair();
    for (let i = 0; i < CHUNK * 3; i++) c.exec(`-A FORWARD -s 192.0.${i & 255}.0/24 -j DROP`);
    const src = chainSource(c['prog']);
    expect(src.segments.length).toBe(3);
    expect(src.main).toMatch(/s2\(p, \d+\)/);
  });

  it('segments kept across rule changes count into the new program, with rules changing around them', () => {
    const [c, r] = pair();
    const rand = rng(77);
    both(c, r, '-N u1');
    both(c, r, '-A u1 -p udp -j MARK --set-mark 0x5');
    // three segments (random rules jumping to chains that do not exist are refused: count what is there)
    while (c.exec('-S FORWARD').split('\n').length - 2 < CHUNK * 2 + 10) both(c, r, randomRule(rand, 'filter', 'FORWARD'));
    const kept = () => [...c['segments']['kept'].values()];
    for (let round = 0; round < 12; round++) {
      const before = kept();
      const edit = ['-A FORWARD -p tcp -j u1', '-A INPUT -s 10.0.0.0/8', '-D FORWARD 1', '-I FORWARD 5 -p udp -j RETURN', '-A FORWARD -j ACCEPT', '-R FORWARD 3 -j u1'][round % 6];
      both(c, r, edit);
      // an append to FORWARD or a rule in INPUT (before it) leaves FORWARD's first segments as they were
      if (round % 6 === 0 || round % 6 === 1 || round % 6 === 4) expect(kept().filter((f) => before.includes(f)).length, edit).toBeGreaterThanOrEqual(2);
      expect(chainSource(c['prog']).segments.length).toBe(3);
      for (let k = 0; k < 150; k++) check(c, r, randomPacket(rand, 2), 2, `round ${round} packet ${k}`);
      expect(listing(c), edit).toBe(listing(r));
    }
  });
});

// NfHooks fills only the NfPacket fields the hook's rules read (Netfilter.fieldsAt, found in the
// extensions' code). Checked here from the other side: the fields outside fieldsAt(hook) set to
// garbage in one of two netfilters given the same rules change no verdict, field written, counter
// or LOG line.
describe('netfilter fieldsAt: what a hook does not read never changes its outcome', () => {
  const GARBAGE: Array<[number, Partial<NfPacket>]> = [
    [NFF_IF, { iif: 3, oif: 200 }],
    [NFF_ADDR, { saddr: 0xdeadbeef, daddr: 0x0a0a0a0a }],
    [NFF_L4, { sport: 4321, dport: 2222, tcpFlags: 0x3f, icmpType: 13, icmpCode: 9 }],
    [NFF_MARK, { mark: 0x5a5a5a5a }],
    [NFF_CT, { nfct: 12345, ctState: 0x1ff, ctStatus: 0x7fff }],
    [NFF_IPH, { h: 999, nh: 0x01020304 }],
  ];
  for (let seed = 1; seed <= 30; seed++) {
    it(`seed ${seed}`, () => {
      const rand = rng(seed * 7919);
      // Two of one kind (compiled), so counters and LOG lines compare as they do above.
      const [a, , logs] = pair();
      const [b] = pair();
      const bLogs: string[] = [];
      b.logSink = (l) => bLogs.push(l);
      for (const t of Object.keys(TABLES)) for (const u of USER) both(a, b, `-t ${t} -N ${u}`);
      const n = 1 + (rand() % 25);
      for (let i = 0; i < n; i++) {
        const table = ['raw', 'mangle', 'filter'][rand() % 3];
        const chains = [...TABLES[table], ...USER];
        both(a, b, randomRule(rand, table, chains[rand() % chains.length]));
      }
      const read = [0, 1, 2, 3, 4].map((h) => a.fieldsAt(h));
      expect(read).toEqual([0, 1, 2, 3, 4].map((h) => b.fieldsAt(h)));
      for (let k = 0; k < 400; k++) {
        const hook = rand() % NF_INET_NUMHOOKS;
        const p = randomPacket(rand, hook);
        const q = Object.assign(new NfPacket(), p);
        for (const [group, junk] of GARBAGE) if ((read[hook] & group) === 0) Object.assign(q, junk);
        // mark is written back only where it is read (NFF_MARK): elsewhere q keeps its garbage.
        const out = OUT_FIELDS.filter((f) => f !== 'mark' || (read[hook] & NFF_MARK) !== 0);
        const got = [a.raw(hook, p), a.hook(hook, p), ...out.map((f) => p[f])];
        const want = [b.raw(hook, q), b.hook(hook, q), ...out.map((f) => q[f])];
        if (got.some((v, i) => v !== want[i])) expect(got, `packet ${k} at hook ${hook}, fieldsAt ${read[hook]}\n${['raw', 'mangle', 'filter'].map((t) => a.exec(`-t ${t} -S`)).join('')}`).toEqual(want);
      }
      expect(listing(a)).toBe(listing(b));
      expect(logs.map((l) => l.slice(2))).toEqual(bLogs);
    });
  }

  it('reads only what the rules name: addresses and ports for the router scenario, everything for LOG and multiport', () => {
    const [nf] = pair();
    for (let i = 0; i < 20; i++) nf.exec(i % 2 ? `-A FORWARD -p tcp --dport ${2000 + i} -j DROP` : `-A FORWARD -s 192.0.2.${i}/32 -j DROP`);
    expect(nf.fieldsAt(2)).toBe(NFF_ADDR | NFF_L4);
    expect(nf.fieldsAt(1)).toBe(0);
    nf.exec('-A FORWARD -i p0 -m mark --mark 1 -j ACCEPT');
    expect(nf.fieldsAt(2)).toBe(NFF_ADDR | NFF_L4 | NFF_IF | NFF_MARK);
    nf.exec('-N u1');
    nf.exec('-A u1 -j LOG');
    nf.exec('-A INPUT -j u1');
    expect(nf.fieldsAt(1)).toBe(NFF_ALL);
    nf.exec('-t raw -A OUTPUT -p udp -m multiport --dports 53,80 -j CT --notrack');
    expect(nf.fieldsAt(3)).toBe(NFF_ALL);
  });
});
