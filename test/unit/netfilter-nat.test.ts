import { describe, expect, it } from 'vitest';
import { Netfilter, NF_ACCEPT, NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NfPacket, type NatHook } from '../../src/ipv4/netfilter/netfilter.ts';
import { NAT_DNAT, NAT_MASQUERADE, NAT_REDIRECT, NAT_SNAT, NF_NAT_RANGE_MAP_IPS, NF_NAT_RANGE_PERSISTENT, NF_NAT_RANGE_PROTO_RANDOM, NF_NAT_RANGE_PROTO_SPECIFIED } from '../../src/ipv4/netfilter/target/nat-range.ts';
import { parseIPv4 } from '../../src/wire/addr.ts';

const devs = ['p0', 'p1'];
const mk = () => new Netfilter((n) => devs.indexOf(n), (i) => devs[i]);

describe('iptables -t nat: parse and print', () => {
  const specs: Array<[string, string]> = [
    ['POSTROUTING', '-o p1 -j MASQUERADE'],
    ['POSTROUTING', '-p tcp -j MASQUERADE --to-ports 20000-30000 --random'],
    ['POSTROUTING', '-s 10.0.0.0/24 -j SNAT --to-source 203.0.113.1'],
    ['POSTROUTING', '-p udp -j SNAT --to-source 203.0.113.1-203.0.113.4:1024-2047 --random --persistent'],
    ['POSTROUTING', '-p tcp -j SNAT --to-source :5000-5999 --random-fully'],
    ['INPUT', '-s 192.0.2.0/24 -j SNAT --to-source 10.9.9.9'],
    ['PREROUTING', '-i p1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80'],
    ['PREROUTING', '-d 203.0.113.1/32 -j DNAT --to-destination 10.0.0.2-10.0.0.3 --persistent'],
    ['PREROUTING', '-p tcp -m tcp --dport 80 -j REDIRECT --to-ports 3128'],
    ['OUTPUT', '-p udp -j REDIRECT --to-ports 5000-5010 --random'],
    ['OUTPUT', '-d 198.51.100.7/32 -j DNAT --to-destination 10.0.0.2'],
    ['PREROUTING', '-p icmp -j DNAT --to-destination 10.0.0.2:7-9'],
  ];
  it('round-trips through -S as iptables-save writes them', () => {
    const nf = mk();
    for (const [ch, s] of specs) nf.exec(`-t nat -A ${ch} ${s}`);
    const lines = nf.exec('-t nat -S').trim().split('\n');
    expect(lines.slice(0, 4)).toEqual(['-P PREROUTING ACCEPT', '-P INPUT ACCEPT', '-P OUTPUT ACCEPT', '-P POSTROUTING ACCEPT']);
    const want = ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'].flatMap((c) => specs.filter(([ch]) => ch === c).map(([, s]) => `-A ${c} ${s}`));
    expect(lines.slice(4)).toEqual(want);
  });

  it('normalises what iptables normalises', () => {
    const nf = mk();
    nf.exec('-t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.2:http');
    nf.exec('-t nat -A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.2:80-80');
    expect(nf.exec('-t nat -S PREROUTING').trim().split('\n').slice(1)).toEqual([
      '-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.2:80',
      '-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.2:80',
    ]);
  });

  it('-L shows the ranges as iptables does', () => {
    const nf = mk();
    nf.exec('-t nat -A POSTROUTING -o p1 -j MASQUERADE');
    nf.exec('-t nat -A POSTROUTING -p tcp -j MASQUERADE --to-ports 1000-2000 --random');
    nf.exec('-t nat -A POSTROUTING -p udp -j SNAT --to-source 203.0.113.1-203.0.113.4:1024-2047 --persistent');
    nf.exec('-t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80');
    nf.exec('-t nat -A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 3128');
    expect(nf.exec('-t nat -L POSTROUTING -n -v')).toBe(
      [
        'Chain POSTROUTING (policy ACCEPT 0 packets, 0 bytes)',
        ' pkts bytes target     prot opt in     out     source               destination',
        '    0     0 MASQUERADE  all  --  *      p1      0.0.0.0/0            0.0.0.0/0',
        '    0     0 MASQUERADE  tcp  --  *      *       0.0.0.0/0            0.0.0.0/0            masq ports: 1000-2000 random',
        '    0     0 SNAT       udp  --  *      *       0.0.0.0/0            0.0.0.0/0            to:203.0.113.1-203.0.113.4:1024-2047 persistent',
        '',
      ].join('\n'),
    );
    expect(nf.exec('-t nat -L PREROUTING -n').split('\n').slice(2)).toEqual([
      'DNAT       tcp  --  0.0.0.0/0            0.0.0.0/0            tcp dpt:8080 to:10.0.0.2:80',
      'REDIRECT   tcp  --  0.0.0.0/0            0.0.0.0/0            tcp dpt:80 redir ports 3128',
      '',
    ]);
    expect(nf.exec('-t nat -L -n').split('\n\n').map((b) => b.split('\n')[0])).toEqual([
      'Chain PREROUTING (policy ACCEPT)',
      'Chain INPUT (policy ACCEPT)',
      'Chain OUTPUT (policy ACCEPT)',
      'Chain POSTROUTING (policy ACCEPT)',
    ]);
  });

  const bad: Array<[string, string]> = [
    ['-t nat -A POSTROUTING -j SNAT', 'SNAT: option "--to-source" must be specified'],
    ['-t nat -A PREROUTING -j DNAT', 'DNAT: option "--to-destination" must be specified'],
    ['-t nat -A POSTROUTING -j SNAT --to-source 1.2.3', 'Bad IP address "1.2.3"'],
    ['-t nat -A POSTROUTING -j SNAT --to-source 1.2.3.4-1.2.3.x', 'Bad IP address "1.2.3.x"'],
    ['-t nat -A POSTROUTING -j SNAT --to-source 1.2.3.9-1.2.3.4', 'Bad IP address range "1.2.3.9-1.2.3.4"'],
    ['-t nat -A POSTROUTING -j SNAT --to-source 1.2.3.4:1000', 'Need TCP, UDP, SCTP or DCCP with port specification'],
    ['-t nat -A POSTROUTING -p tcp -j SNAT --to-source 1.2.3.4:1000:2000', 'Invalid port:port syntax - use dash'],
    ['-t nat -A POSTROUTING -p tcp -j SNAT --to-source 1.2.3.4:2000-1000', 'Port range "2000-1000" funky'],
    ['-t nat -A POSTROUTING -p tcp -j SNAT --to-source 1.2.3.4:70000', 'Port "70000" not valid'],
    ['-t nat -A POSTROUTING -p tcp -j SNAT --to-source 1.2.3.4:1-bogus', 'Port "bogus" not valid'],
    ['-t nat -A POSTROUTING -j SNAT --to-source 1.2.3.4 --to-source 1.2.3.5', 'SNAT: option "--to-source" can only be used once.'],
    ['-t nat -A POSTROUTING -j MASQUERADE --to-ports 1000', 'Need TCP, UDP, SCTP or DCCP'],
    ['-t nat -A POSTROUTING -j MASQUERADE --persistent', 'unknown option "--persistent"'],
    ['-t nat -A PREROUTING -j REDIRECT --random-fully', 'unknown option "--random-fully"'],
    ['-t nat -A POSTROUTING -j DNAT --to-destination 10.0.0.2', 'DNAT target: used from hooks POSTROUTING, but only usable from PREROUTING/OUTPUT'],
    ['-t nat -A PREROUTING -j SNAT --to-source 10.0.0.2', 'SNAT target: used from hooks PREROUTING, but only usable from INPUT/POSTROUTING'],
    ['-t nat -A OUTPUT -j MASQUERADE', 'MASQUERADE target: used from hooks OUTPUT, but only usable from POSTROUTING'],
    ['-t nat -A INPUT -j REDIRECT', 'REDIRECT target: used from hooks INPUT, but only usable from PREROUTING/OUTPUT'],
    ['-A FORWARD -j MASQUERADE', 'MASQUERADE is only valid in the nat table, not "filter"'],
    ['-t mangle -A POSTROUTING -j SNAT --to-source 1.1.1.1', 'SNAT is only valid in the nat table, not "mangle"'],
    ['-t nat -A FORWARD -j ACCEPT', 'No chain/target/match by that name: "FORWARD"'],
    ['-t nat -A POSTROUTING ! --to-source 1.1.1.1 -j SNAT', 'unknown option "--to-source"'],
    ['-t nat -A POSTROUTING -j SNAT ! --to-source 1.1.1.1', '"!" cannot be used with "--to-source"'],
  ];
  for (const [line, msg] of bad) {
    it(`refuses: ${line}`, () => {
      const nf = mk();
      expect(() => nf.exec(line)).toThrow(msg);
      expect(nf.exec('-t nat -S')).toBe('-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n');
    });
  }

  it('checks hooks through user chains, and leaves the table as it was', () => {
    const nf = mk();
    nf.exec('-t nat -N fwd');
    nf.exec('-t nat -A fwd -p tcp -j DNAT --to-destination 10.0.0.2:80');
    nf.exec('-t nat -A PREROUTING -j fwd'); // fine from PREROUTING
    expect(() => nf.exec('-t nat -A POSTROUTING -j fwd')).toThrow('DNAT target: used from hooks POSTROUTING, but only usable from PREROUTING/OUTPUT');
    expect(nf.exec('-t nat -S POSTROUTING')).toBe('-P POSTROUTING ACCEPT\n');
    nf.exec('-t nat -N masq');
    nf.exec('-t nat -A POSTROUTING -j masq');
    expect(() => nf.exec('-t nat -A masq -j MASQUERADE --random')).not.toThrow();
    expect(() => nf.exec('-t nat -I fwd -j masq')).toThrow('MASQUERADE target: used from hooks PREROUTING, but only usable from POSTROUTING');
  });
});

describe('iptables -t nat: the NAT core in the hook order', () => {
  const p = () => Object.assign(new NfPacket(), { saddr: parseIPv4('10.0.0.2'), daddr: parseIPv4('198.51.100.1'), proto: 6, sport: 40000, dport: 8080, len: 60 });

  it('runNat hands the range of the first NAT target over in p; none matching leaves natKind 0', () => {
    const nf = mk();
    nf.exec('-t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.9-10.0.0.10:80 --persistent');
    nf.exec('-t nat -A PREROUTING -p tcp -j REDIRECT --to-ports 3128-3130 --random');
    nf.exec('-t nat -A POSTROUTING -s 10.0.0.0/8 -j SNAT --to-source 203.0.113.1');
    nf.exec('-t nat -A POSTROUTING -j MASQUERADE');
    const a = p();
    expect(nf.runNat(NF_INET_PRE_ROUTING, a)).toBe(NF_ACCEPT);
    expect([a.natKind, a.natMinIp, a.natMaxIp, a.natMinPort, a.natMaxPort, a.natFlags]).toEqual([
      NAT_DNAT, parseIPv4('10.0.0.9'), parseIPv4('10.0.0.10'), 80, 80, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED | NF_NAT_RANGE_PERSISTENT,
    ]);
    const b = Object.assign(p(), { dport: 443 });
    nf.runNat(NF_INET_PRE_ROUTING, b);
    expect([b.natKind, b.natMinPort, b.natMaxPort, b.natFlags]).toEqual([NAT_REDIRECT, 3128, 3130, NF_NAT_RANGE_PROTO_SPECIFIED | NF_NAT_RANGE_PROTO_RANDOM]);
    const c = p();
    nf.runNat(NF_INET_POST_ROUTING, c);
    expect([c.natKind, c.natMinIp, c.natFlags]).toEqual([NAT_SNAT, parseIPv4('203.0.113.1'), NF_NAT_RANGE_MAP_IPS]);
    const d = Object.assign(p(), { saddr: parseIPv4('192.0.2.1') });
    nf.runNat(NF_INET_POST_ROUTING, d);
    expect([d.natKind, d.natFlags]).toEqual([NAT_MASQUERADE, 0]);
    const e = p();
    e.natKind = 7;
    nf.runNat(NF_INET_LOCAL_IN, e);
    expect(e.natKind).toBe(0);
    expect(nf.counters('nat', 'PREROUTING', 1).pkts).toBe(1);
  });

  it('the NAT core runs where the kernel puts it: after mangle, before OUTPUT filter, after INPUT filter; never in FORWARD', () => {
    const nf = mk();
    const seen: string[] = [];
    const nat: NatHook = { natHook: (h) => (seen.push(`nat${h}`), NF_ACCEPT) };
    nf.attachNat(nat);
    // the nat table has no rule yet: the core is not consulted (the module is not "loaded")
    nf.hook(NF_INET_PRE_ROUTING, p());
    expect(seen).toEqual([]);
    expect(nf.hookIsEmpty(NF_INET_PRE_ROUTING)).toBe(true);
    nf.exec('-t nat -A POSTROUTING -j MASQUERADE');
    nf.exec('-t nat -F');
    // once loaded it stays (existing connections keep their mapping after a flush)
    for (const h of [NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING]) expect(nf.hookIsEmpty(h)).toBe(false);
    expect(nf.hookIsEmpty(NF_INET_FORWARD)).toBe(true);
    // order: mark the packet in mangle and filter, the core records the mark it saw
    const order: number[] = [];
    nf.attachNat({ natHook: (_h, q) => (order.push(q.mark), NF_ACCEPT) });
    nf.exec('-t mangle -A OUTPUT -j MARK --set-mark 1');
    nf.exec('-A OUTPUT -j MARK --set-mark 2');
    nf.exec('-t mangle -A INPUT -j MARK --set-mark 1');
    nf.exec('-A INPUT -j MARK --set-mark 2');
    nf.hook(NF_INET_LOCAL_OUT, p());
    nf.hook(NF_INET_LOCAL_IN, p());
    nf.hook(NF_INET_FORWARD, p());
    expect(order).toEqual([1, 2]); // OUTPUT: between mangle and filter; INPUT: after filter
    // a drop by the core is the hook's verdict, and a filter drop before it keeps it from running
    nf.attachNat({ natHook: () => 0 });
    expect(nf.hook(NF_INET_POST_ROUTING, p())).toBe(0);
    order.length = 0;
    nf.attachNat({ natHook: (_h, q) => (order.push(q.mark), NF_ACCEPT) });
    nf.exec('-A INPUT -j DROP');
    expect(nf.hook(NF_INET_LOCAL_IN, p())).toBe(0);
    expect(order).toEqual([]);
  });
});
