// netfilter micro-benchmark: ns/packet through the FORWARD hook (mangle + filter) with 20 typical
// rules (addresses, interfaces, protocols, ports, multiport, a user chain), for a packet that
// traverses every rule (worst case: policy decides), one accepted by rule 4, and the empty-table
// cost; the same 20 rules behind conntrack rules (-m conntrack/-m state, as a stateful firewall
// has them) for a NEW packet (all traversed) and an ESTABLISHED one; and 1000 rules. Each case
// runs with both evaluators in the same run: the compiled chains (compile-chain.ts, the default)
// and the record walk (Program.interpret, the reference). Each iteration fills the one NfPacket
// for 64 packets, as the hook stage does.
// Run: node --import tsx bench/micro-netfilter.ts [--time MS]
import { Bench } from 'tinybench';
import { parseArgs } from '../src/cli/args.ts';
import { taskMs } from './tinybench.ts';
import { parseIPv4 } from '../src/wire/addr.ts';
import { Netfilter, NfPacket, NF_INET_FORWARD } from '../src/ipv4/netfilter/netfilter.ts';

const { time: TIME } = parseArgs(process.argv.slice(2), { time: { type: 'int', min: 1, default: 1000, help: 'ms per task' } });
const devs = ['p0', 'p1', 'p2'];
const EVALUATORS = ['compiled', 'records'] as const;
const mk = (lines: readonly string[], e: (typeof EVALUATORS)[number]) => {
  const nf = new Netfilter((n) => devs.indexOf(n), (k) => devs[k]);
  nf.setEvaluator(e);
  for (const r of lines) nf.exec(r);
  return nf;
};

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
// A stateful firewall's shape: INVALID dropped, replies accepted, then the rules for NEW packets.
const ctRules = [
  '-A FORWARD -m conntrack --ctstate INVALID -j DROP',
  '-A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT',
  ...rules.map((r) => (r.startsWith('-A FORWARD') ? `${r.replace(/ -[jg] .*$/, '')} -m conntrack --ctstate NEW${/ -[jg] .*$/.exec(r)?.[0] ?? ''}` : r)),
];
// 1000 rules no test packet matches: distinct addresses, ports and protocols, as a large blocklist.
const big = Array.from({ length: 1000 }, (_, i) => `-A FORWARD -s 192.${(i >> 8) & 255}.${i & 255}.0/24 -p ${i & 1 ? 'tcp' : 'udp'} --dport ${1 + (i % 5000)} -j DROP`);
const ST_NEW = 8;
const ST_ESTABLISHED = 2;

// 64 packets: UDP 10.0.0.x:1234 -> 10.9.0.1:5353 from p0 to p1 (matches none of the rules).
// Every field is read from a typed array, as the hook stage reads the frame: with constants
// written into p, V8 folds the compiled chain's tests on them once it inlines the chain.
const N = 64;
const F = { iif: 0, oif: 1, saddr: 2, daddr: 3, proto: 4, sport: 5, dport: 6, len: 7, ct: 8 } as const;
const NF = 9;
function packets(dport: number, src: number, ctState: number): Int32Array {
  const a = new Int32Array(N * NF);
  for (let k = 0; k < N; k++) {
    const f = a.subarray(k * NF);
    f[F.iif] = 0;
    f[F.oif] = 1;
    f[F.saddr] = src === 0 ? parseIPv4('10.0.0.0') + k : src;
    f[F.daddr] = parseIPv4('10.9.0.1');
    f[F.proto] = 17;
    f[F.sport] = 1234;
    f[F.dport] = dport;
    f[F.len] = 100;
    f[F.ct] = ctState;
  }
  return a;
}
const p = new NfPacket();
let sink = 0;

function run(nf: Netfilter, dport: number, src: number, ctState = ST_NEW): () => void {
  const a = packets(dport, src, ctState);
  return () => {
    let acc = 0;
    for (let k = 0, i = 0; k < N; k++, i += NF) {
      p.iif = a[i];
      p.oif = a[i + 1];
      p.saddr = a[i + 2] >>> 0;
      p.daddr = a[i + 3] >>> 0;
      p.proto = a[i + 4];
      p.sport = a[i + 5];
      p.dport = a[i + 6];
      p.icmpType = -1;
      p.icmpCode = -1;
      p.tcpFlags = 0;
      p.len = a[i + 7];
      p.mark = 0;
      p.fragOff = 0;
      p.ctState = a[i + 8];
      acc += nf.hook(NF_INET_FORWARD, p);
    }
    sink += acc;
  };
}

// Loading 1000 rules one -A at a time: each change rebuilds the whole program (and its code, compiled).
const loadMs: Record<string, number> = {};
const nets: Record<string, Netfilter[]> = {};
for (const e of EVALUATORS) {
  nets[e] = [mk(rules, e), mk([], e), mk(ctRules, e)];
  const t0 = performance.now();
  nets[e].push(mk(big, e));
  loadMs[e] = performance.now() - t0;
}

const bench = new Bench({ time: TIME, warmup: true });
// the two evaluators of each case run one after the other, so load changes hit both alike
const cases: Array<[string, number, (e: string) => () => void]> = [
  ['20 rules, no match (all traversed)', 20, (e) => run(nets[e][0], 5353, 0)],
  ['20 rules, accepted by rule 4', 4, (e) => run(nets[e][0], 53, parseIPv4('10.7.1.1'))],
  ['empty tables (policy ACCEPT)', 0, (e) => run(nets[e][1], 5353, 0)],
  ['ctstate + 20 rules, NEW (all traversed)', 22, (e) => run(nets[e][2], 5353, 0, ST_NEW)],
  ['ctstate + 20 rules, ESTABLISHED (rule 2)', 2, (e) => run(nets[e][2], 5353, 0, ST_ESTABLISHED)],
  ['1000 rules, no match (all traversed)', 1000, (e) => run(nets[e][3], 5353, 0)],
];
for (const [name, , fn] of cases) for (const e of EVALUATORS) bench.add(`${name} [${e}]`, fn(e));
await bench.run();
// Median and best as well as the mean: on a shared machine the mean mostly measures preemption.
const ns = (ms: number) => ((ms * 1e6) / N).toFixed(1).padStart(7);
console.log(`${''.padEnd(42)} ns/packet, compiled | records      records/compiled`);
console.log(`${''.padEnd(42)}  median   best   mean |  median   best   mean   (median)`);
for (const [name] of cases) {
  const [c, r] = EVALUATORS.map((e) => taskMs(bench.tasks.find((t) => t.name === `${name} [${e}]`)!));
  if (!c || !r) continue;
  console.log(`${name.padEnd(42)}${ns(c.median)}${ns(c.min)}${ns(c.mean)} |${ns(r.median)}${ns(r.min)}${ns(r.mean)}   ${(r.median / c.median).toFixed(2)}x`);
}
console.log(`loading the 1000 rules by 1000 -A: compiled ${loadMs.compiled.toFixed(0)} ms, records ${loadMs.records.toFixed(0)} ms`);
console.log(nets.compiled[0].exec('-L FORWARD -v -n').split('\n')[0]);
if (sink === -1) console.log(sink);
