import { describe, expect, it } from 'vitest';
import { Netfilter, parseCommand, formatSpec } from '../../src/ipv4/netfilter/netfilter.ts';

const devs = ['p0', 'p1', 'eth0'];
const mk = () => new Netfilter((n) => devs.indexOf(n), (i) => devs[i]);

describe('iptables parser', () => {
  const specs = [
    '-p udp -m udp --dport 53 -j DROP',
    '-s 10.0.0.0/8 -j ACCEPT',
    '! -s 192.168.0.0/16 ! -d 10.1.2.3/32 -j DROP',
    '-i p+ ! -o eth0 -j ACCEPT',
    '-p tcp -m tcp --sport 1024:65535 ! --dport 22 -j REJECT --reject-with tcp-reset',
    '-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT',
    '-p icmp -m icmp --icmp-type 8 -j ACCEPT',
    '-p icmp -m icmp ! --icmp-type 3/4 -j DROP',
    '-p icmp -m icmp --icmp-type any -j ACCEPT',
    '! -p tcp -j RETURN',
    '-p 99 -j DROP',
    '-p gre -j DROP',
    '-f -j DROP',
    '-p udp ! -f -j ACCEPT',
    '-p udp -m multiport --dports 53,123,1000:2000 -j ACCEPT',
    '-p tcp -m multiport ! --ports 80,443 -j DROP',
    '-m length --length 0:100 -j ACCEPT',
    '-m length ! --length 1500 -j DROP',
    '-m mark --mark 0x1 -j ACCEPT',
    '-m mark ! --mark 0x10/0xf0 -j DROP',
    '-m comment --comment "allow dns" -j ACCEPT',
    '-j LOG --log-prefix "dropped: " --log-level 6',
    '-j LOG',
    '-j MARK --set-xmark 0x5/0xff',
    '-j REJECT --reject-with icmp-host-prohibited',
    '-j user',
    '-g user',
    '-s 10.0.0.1/32',
  ];
  it('accepts rules and round-trips them through -S', () => {
    const nf = mk();
    nf.exec('-N user');
    for (const s of specs) nf.exec(`-A FORWARD ${s}`);
    const lines = nf.exec('-S FORWARD').trim().split('\n');
    expect(lines[0]).toBe('-P FORWARD ACCEPT');
    expect(lines.slice(1)).toEqual(specs.map((s) => `-A FORWARD ${s}`));
    // and the -S text parses back to the same spec
    for (const l of lines.slice(1)) expect(formatSpec(parseCommand(l).rule!)).toBe(l.replace(/^-A FORWARD ?/, ''));
  });
  it('normalises what iptables normalises', () => {
    const norm = (s: string) => formatSpec(parseCommand(`-A INPUT ${s}`).rule!);
    expect(norm('-p udp --dport 53 -j DROP')).toBe('-p udp -m udp --dport 53 -j DROP'); // implicit -m udp
    expect(norm('-s 10.1.2.3/8 -j DROP')).toBe('-s 10.0.0.0/8 -j DROP'); // host bits masked
    expect(norm('-s 10.1.2.3 -j DROP')).toBe('-s 10.1.2.3/32 -j DROP');
    expect(norm('-p tcp --syn -j DROP')).toBe('-p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP');
    expect(norm('-p tcp --dport ssh -j DROP')).toBe('-p tcp -m tcp --dport 22 -j DROP');
    expect(norm('-p icmp --icmp-type echo-request -j DROP')).toBe('-p icmp -m icmp --icmp-type 8 -j DROP');
    expect(norm('-p icmp --icmp-type port-unreachable -j DROP')).toBe('-p icmp -m icmp --icmp-type 3/3 -j DROP');
    expect(norm('-j MARK --set-mark 1')).toBe('-j MARK --set-xmark 0x1/0xffffffff');
    expect(norm('-j MARK --set-mark 0x1/0xf')).toBe('-j MARK --set-xmark 0x1/0xf');
    expect(norm('-j MARK --or-mark 0x4')).toBe('-j MARK --set-xmark 0x4/0x4');
    expect(norm('-j REJECT')).toBe('-j REJECT --reject-with icmp-port-unreachable');
    expect(norm('-j REJECT --reject-with net-unreach')).toBe('-j REJECT --reject-with icmp-net-unreachable');
    expect(norm('--source 10.0.0.0/255.0.0.0 --jump ACCEPT')).toBe('-s 10.0.0.0/8 -j ACCEPT');
    expect(parseCommand('iptables -nvL FORWARD')).toMatchObject({ cmd: 'L', chain: 'FORWARD', numeric: true, verbose: true });
  });
  const bad: Array<[string, string]> = [
    ['-A FORWARD -p udp --dprot 53 -j DROP', 'unknown option "--dprot"'],
    ['-A FORWARD -p udp --dport 99999 -j DROP', 'Bad port "99999" for --dport'],
    ['-A FORWARD -p udp --dport 10:5 -j DROP', 'Bad port range "10:5"'],
    ['-A FORWARD --dport 53 -j DROP', 'unknown option "--dport"'],
    ['-A FORWARD -p icmp --dport 53 -j DROP', 'unknown option "--dport"'],
    ['-A FORWARD -p udp --syn -j DROP', 'unknown option "--syn"'],
    ['-A FORWARD -p tcp --tcp-flags SYN,BOGUS SYN -j DROP', 'Unknown TCP flag "BOGUS"'],
    ['-A FORWARD -p icmp --icmp-type echo-requets -j DROP', 'Invalid ICMP type "echo-requets"'],
    ['-A FORWARD -p foo -j DROP', 'unknown protocol "foo"'],
    ['-A FORWARD -s 10.0.0/8 -j DROP', 'host/network "10.0.0/8"'],
    ['-A FORWARD -d 10.0.0.0/40 -j DROP', 'host/network "10.0.0.0/40"'],
    ['-A FORWARD -m frob -j DROP', 'Couldn\'t load match "frob"'],
    ['-A FORWARD -m tcp --dport 1 -j DROP', 'match "tcp" needs "-p tcp"'],
    ['-A FORWARD -p udp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j DROP', 'too many ports'],
    ['-A FORWARD -m length --length 5:1 -j DROP', 'Bad length "5:1"'],
    ['-A FORWARD -m mark --mark zz -j DROP', 'Bad mark value "zz"'],
    ['-A FORWARD -j REJECT --reject-with icmp-bogus', 'unknown reject type "icmp-bogus"'],
    ['-A FORWARD -j REJECT --reject-with tcp-reset', 'tcp-reset is only valid with "-p tcp"'],
    ['-A FORWARD -j DROP --reject-with icmp-net-unreachable', 'unknown option "--reject-with"'],
    ['-A FORWARD --log-prefix x -j LOG', 'unknown option "--log-prefix"'],
    ['-A FORWARD -j MARK', 'MARK target: one of --set-mark'],
    ['-A FORWARD -j TPROXY', 'target "TPROXY" is not supported'],
    ['-A FORWARD -j nochain', 'Couldn\'t load target "nochain"'],
    ['-A FORWARD -j INPUT', 'can\'t jump to built-in chain "INPUT"'],
    ['-A FOO -j DROP', 'No chain/target/match by that name: "FOO"'],
    ['-A FORWARD -i p0/1 -j DROP', 'Bad interface name "p0/1"'],
    ['-A FORWARD -s 10.0.0.0/8 -s 10.0.0.0/8', 'multiple "-s" options'],
    ['-A FORWARD ! ! -s 10.0.0.0/8', 'multiple "!"'],
    ['-A FORWARD -j DROP bogus', 'Bad argument "bogus"'],
    ['-A FORWARD -j LOG --log-prefix "this prefix is much too long for it"', 'Maximum prefix length'],
    ['-A FORWARD -D FORWARD 1', 'only one command at a time: "-D"'],
    ['-F FORWARD -p udp', 'rule options are not allowed with -F'],
    ['-p udp', 'no command specified'],
    ['-t security -A INPUT -j DROP', 'table "security": Table does not exist'],
    ['-t mangle -A INPUT -j REJECT', 'REJECT is only valid in the filter table'],
    ['-P FORWARD REJECT', 'Bad policy name "REJECT"'],
    ['-A FORWARD -s', 'option "-s" requires an argument'],
    ['-A FORWARD -m comment --comment "unterminated', 'unterminated quote'],
  ];
  for (const [line, msg] of bad) {
    it(`refuses: ${line}`, () => {
      const nf = mk();
      expect(() => nf.exec(line)).toThrow(msg);
      // nothing half-applied
      expect(nf.exec('-S FORWARD')).toBe('-P FORWARD ACCEPT\n');
    });
  }
});

describe('iptables commands', () => {
  it('-I, -R, -D by number and by spec, with their errors', () => {
    const nf = mk();
    nf.exec('-A INPUT -s 10.0.0.1 -j DROP');
    nf.exec('-A INPUT -s 10.0.0.2 -j DROP');
    nf.exec('-I INPUT -s 10.0.0.0/8 -j ACCEPT'); // at 1
    nf.exec('-I INPUT 3 -s 10.0.0.3 -j DROP');
    expect(() => nf.exec('-I INPUT 6 -j DROP')).toThrow('Index of insertion too big');
    nf.exec('-R INPUT 2 -s 10.0.0.9 -j DROP');
    expect(() => nf.exec('-R INPUT 9 -j DROP')).toThrow('Index of replacement too big');
    const rules = () => nf.exec('-S INPUT').trim().split('\n').slice(1);
    expect(rules()).toEqual(['-A INPUT -s 10.0.0.0/8 -j ACCEPT', '-A INPUT -s 10.0.0.9/32 -j DROP', '-A INPUT -s 10.0.0.3/32 -j DROP', '-A INPUT -s 10.0.0.2/32 -j DROP']);
    nf.exec('-C INPUT -s 10.0.0.3/32 -j DROP');
    nf.exec('-D INPUT -s 10.0.0.3 -j DROP');
    expect(() => nf.exec('-C INPUT -s 10.0.0.3 -j DROP')).toThrow('Bad rule');
    nf.exec('-D INPUT 1');
    expect(rules()).toEqual(['-A INPUT -s 10.0.0.9/32 -j DROP', '-A INPUT -s 10.0.0.2/32 -j DROP']);
    expect(() => nf.exec('-D INPUT -s 10.0.0.3 -j DROP')).toThrow('Bad rule (does a matching rule exist in that chain?)');
    expect(() => nf.exec('-D INPUT 3')).toThrow('Index of deletion too big');
    nf.exec('-F INPUT');
    expect(rules()).toEqual([]);
  });
  it('-N, -X, -E, -P and their errors', () => {
    const nf = mk();
    nf.exec('-N a');
    expect(() => nf.exec('-N a')).toThrow('Chain already exists');
    expect(() => nf.exec('-N ACCEPT')).toThrow('target name');
    nf.exec('-A FORWARD -j a');
    nf.exec('-A a -j DROP');
    expect(() => nf.exec('-X a')).toThrow('Too many links');
    expect(() => nf.exec('-X INPUT')).toThrow("can't delete built-in chain");
    expect(() => nf.exec('-P a DROP')).toThrow('Bad built-in chain name');
    nf.exec('-E a b');
    expect(nf.exec('-S')).toContain('-A FORWARD -j b');
    expect(() => nf.exec('-E b FORWARD')).toThrow('File exists');
    nf.exec('-F FORWARD');
    expect(() => nf.exec('-X b')).toThrow('Directory not empty');
    nf.exec('-F b');
    nf.exec('-X');
    nf.exec('-P FORWARD DROP');
    expect(nf.exec('-S')).toBe('-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n');
    expect(() => nf.exec('-N bad-name-that-is-much-too-long-for-it')).toThrow('Invalid chain name');
  });
  it('refuses jump loops and leaves the table unchanged', () => {
    const nf = mk();
    nf.exec('-N a');
    nf.exec('-N b');
    nf.exec('-A a -j b');
    expect(() => nf.exec('-A b -j a')).toThrow('Too many levels of symbolic links');
    expect(() => nf.exec('-A b -g a')).toThrow('Too many levels of symbolic links');
    expect(nf.exec('-S b')).toBe('-N b\n');
  });
  it('-L output is shaped like iptables', () => {
    const nf = mk();
    nf.exec('-A FORWARD -i p0 -p udp --dport 53 -j DROP');
    nf.exec('-A FORWARD -s 10.0.0.0/8 -p tcp -m multiport --dports 80,443 -j ACCEPT');
    nf.exec('-N logdrop');
    nf.exec('-A logdrop -j LOG --log-prefix "x: "');
    expect(nf.exec('-L FORWARD -v -n')).toBe(
      [
        'Chain FORWARD (policy ACCEPT 0 packets, 0 bytes)',
        ' pkts bytes target     prot opt in     out     source               destination',
        '    0     0 DROP       udp  --  p0     *       0.0.0.0/0            0.0.0.0/0            udp dpt:53',
        '    0     0 ACCEPT     tcp  --  *      *       10.0.0.0/8           0.0.0.0/0            multiport dports 80,443',
        '',
      ].join('\n'),
    );
    expect(nf.exec('-L logdrop --line-numbers')).toBe(
      ['Chain logdrop (0 references)', 'num  target     prot opt source               destination', '1    LOG        all  --  anywhere             anywhere             LOG flags 0 level 4 prefix "x: "', ''].join('\n'),
    );
    const all = nf.exec('-L');
    expect(all.split('\n\n').map((b) => b.split('\n')[0])).toEqual(['Chain INPUT (policy ACCEPT)', 'Chain FORWARD (policy ACCEPT)', 'Chain OUTPUT (policy ACCEPT)', 'Chain logdrop (0 references)']);
    expect(nf.exec('-t mangle -L -n').split('\n\n')).toHaveLength(5);
    // without -n: names for well-known ports and ICMP types
    nf.exec('-A INPUT -p icmp --icmp-type echo-request -j ACCEPT');
    nf.exec('-A INPUT -p tcp --dport 1000:2000 -j ACCEPT');
    expect(nf.exec('-L INPUT').split('\n').slice(2)).toEqual([
      'ACCEPT     icmp --  anywhere             anywhere             icmp echo-request',
      'ACCEPT     tcp  --  anywhere             anywhere             tcp dpts:1000:2000',
      '',
    ]);
    expect(nf.exec('-L FORWARD').split('\n')[2]).toContain('udp dpt:domain');
  });
});
