// The compiled netfilter chains (a user chain, multiport, MARK, -m mark, RETURN) evaluating
// packets, measured by the no-GC harness (test/support/nogc.ts) in a process of its own.
import { Netfilter, NfPacket, NF_INET_FORWARD } from '../../src/ipv4/netfilter/netfilter.ts';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { measureNoGc } from '../support/nogc-child.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const devs = ['p0', 'p1', 'eth0', 'veth9'];
const nf = new Netfilter((n) => devs.indexOf(n), (i) => devs[i]);
nf.logSink = () => {};
for (const l of [
  '-N u',
  '-A FORWARD -i p+ -p udp -m multiport --dports 1,2,3 -j DROP',
  '-A FORWARD -s 192.168.0.0/16 -j u',
  '-A u -p udp --dport 53 -j MARK --set-mark 0x80000001',
  '-A u -m mark --mark 2 -j DROP',
  '-A u -j RETURN',
]) {
  nf.exec(l);
}
// Addresses and marks past 2^31: numbers that would be boxed if a path handled them as doubles.
const p = new NfPacket();
Object.assign(p, { iif: 0, oif: 1, saddr: parseIPv4('192.168.7.7'), daddr: parseIPv4('200.0.0.1'), proto: 17, sport: 1234, dport: 53, len: 100 });
const verdicts = [0, 0, 0];
const loop = (n: number) => {
  for (let i = 0; i < n; i++) {
    p.dport = i & 63; // the multiport DROP for 1-3, the MARK for 53, the rest RETURN
    verdicts[nf.hook(NF_INET_FORWARD, p)]++;
  }
};
await measureNoGc({
  // The same packets as the measured loop: a branch first taken there would deoptimise.
  warm: () => loop(50_000),
  run() {
    verdicts.fill(0);
    loop(N);
    return N;
  },
  extra: () => ({ verdicts: [...verdicts], mark: p.mark }),
});
