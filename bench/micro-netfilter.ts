// netfilter micro-benchmark: ns/packet through the FORWARD hook (mangle + filter) with 20 typical
// rules (addresses, interfaces, protocols, ports, multiport, a user chain), for a packet that
// traverses every rule (worst case: policy decides), one accepted by the first rule, and the
// empty-table cost. Each iteration fills the one NfPacket for 64 packets, as the hook stage does.
// Run: node --import tsx bench/micro-netfilter.ts [--time MS]
import { Bench } from 'tinybench';
import { parseArgs } from '../src/cli/args.ts';
import { taskMs } from './tinybench.ts';
import { parseIPv4 } from '../src/wire/addr.ts';
import { Netfilter, NfPacket, NF_INET_FORWARD } from '../src/ipv4/netfilter/netfilter.ts';

const { time: TIME } = parseArgs(process.argv.slice(2), { time: { type: 'int', min: 1, default: 1000, help: 'ms per task' } });
const devs = ['p0', 'p1', 'p2'];
const mk = () => new Netfilter((n) => devs.indexOf(n), (k) => devs[k]);

const rules = [
  '-A FORWARD -s 192.0.2.0/24 -j DROP',
  '-A FORWARD -d 198.51.100.0/24 -j DROP',
  '-A FORWARD -i p2 -j DROP',
  '-A FORWARD -p udp --dport 53 -s 10.7.0.0/16 -j ACCEPT',
  '-A FORWARD -p tcp --dport 22 -j REJECT --reject-with tcp-reset',
  '-A FORWARD -p tcp -m multiport --dports 80,443,8080 -d 10.50.0.0/16 -j ACCEPT',
  '-A FORWARD -p icmp --icmp-type echo-request -m length --length 1000: -j DROP',
  '-A FORWARD -m mark --mark 0x7 -j DROP',
  '-N web',
  '-A FORWARD -p tcp --dport 8000:8999 -j web',
  '-A web -s 10.1.0.0/16 -j ACCEPT',
  '-A web -j DROP',
  '-A FORWARD -p udp --sport 123 -d 10.9.9.9 -j ACCEPT',
  '-A FORWARD -s 172.16.0.0/12 ! -o p1 -j DROP',
  '-A FORWARD -p 47 -j ACCEPT',
  '-A FORWARD -p tcp --tcp-flags ALL NONE -j DROP',
  '-A FORWARD -p tcp --tcp-flags SYN,FIN SYN,FIN -j DROP',
  '-A FORWARD -f -d 10.200.0.0/16 -j DROP',
  '-A FORWARD -o p2 -p udp --dport 5000:6000 -j DROP',
  '-A FORWARD -s 203.0.113.0/24 -j DROP',
  '-A FORWARD -p udp --dport 9 -j DROP',
];
const full = mk();
for (const r of rules) full.exec(r);
const empty = mk();

// 64 packets: UDP 10.0.0.x:1234 -> 10.9.0.1:5353 from p0 to p1 (matches none of the rules)
const N = 64;
const saddr = new Uint32Array(N);
for (let k = 0; k < N; k++) saddr[k] = (parseIPv4('10.0.0.0') + k) >>> 0;
const daddr = parseIPv4('10.9.0.1');
const p = new NfPacket();
let sink = 0;

function run(nf: Netfilter, dport: number, src: number): () => void {
  return () => {
    let acc = 0;
    for (let k = 0; k < N; k++) {
      p.iif = 0;
      p.oif = 1;
      p.saddr = src === 0 ? saddr[k] : src;
      p.daddr = daddr;
      p.proto = 17;
      p.sport = 1234;
      p.dport = dport;
      p.icmpType = -1;
      p.icmpCode = -1;
      p.tcpFlags = 0;
      p.len = 100;
      p.mark = 0;
      p.fragOff = 0;
      acc += nf.hook(NF_INET_FORWARD, p);
    }
    sink += acc;
  };
}

const bench = new Bench({ time: TIME, warmup: true });
bench
  .add('20 rules, no match (all traversed)', run(full, 5353, 0))
  .add('20 rules, accepted by rule 4', run(full, 53, parseIPv4('10.7.1.1')))
  .add('empty tables (policy ACCEPT)', run(empty, 5353, 0));
await bench.run();
// Median and best as well as the mean: on a shared machine the mean mostly measures preemption.
console.log(`${''.padEnd(38)} ns/packet: median  best   mean`);
for (const t of bench.tasks) {
  const l = taskMs(t);
  if (!l) continue;
  const ns = (ms: number) => ((ms * 1e6) / N).toFixed(1).padStart(6);
  console.log(`${t.name.padEnd(38)}           ${ns(l.median)} ${ns(l.min)} ${ns(l.mean)}`);
}
console.log(full.exec('-L FORWARD -v -n').split('\n')[0]);
if (sink === -1) console.log(sink);
