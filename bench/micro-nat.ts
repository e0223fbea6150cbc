// NAT micro benchmark: ns/packet of the hook path (bench/nat-path.ts: conntrack in, PREROUTING,
// FORWARD, POSTROUTING, confirm) with conntrack only and with conntrack + MASQUERADE, same run,
// established UDP flows out and back. The difference is what NAT adds per packet.
// Run: node --import tsx bench/micro-nat.ts [--time MS] [--flows N]
import { Bench } from 'tinybench';
import { parseArgs } from '../src/cli/args.ts';
import { natPath } from './nat-path.ts';
import { taskMs } from './tinybench.ts';

const { time: TIME, flows: FLOWS } = parseArgs(process.argv.slice(2), {
  time: { type: 'int', min: 1, default: 1000, help: 'ms per task' },
  flows: { type: 'int', min: 2, max: 4096, default: 256 },
});

const paths = { ct: natPath('ct', FLOWS), nat: natPath('nat', FLOWS) };
for (const [name, p] of Object.entries(paths)) {
  // bind every flow, both directions, and check every packet gets through
  for (let k = 0; k < 4; k++) if (p.round() !== FLOWS) throw new Error(`${name}: round ${k} lost packets`);
}
const bench = new Bench({ time: TIME, warmupTime: 200 });
// alternate the two so machine load hits both alike
for (let rep = 0; rep < 2; rep++) for (const [name, p] of Object.entries(paths)) bench.add(`${name}#${rep}`, () => void p.round(), {});
await bench.run();
const ns: Record<string, number[]> = { ct: [], nat: [] };
for (const t of bench.tasks) {
  const m = taskMs(t);
  if (m) ns[t.name.split('#')[0]].push((m.median * 1e6) / FLOWS);
}
const best = (a: number[]) => Math.min(...a);
console.log(`flows ${FLOWS}, per packet (median of each task, best of 2 alternated tasks):`);
console.log(`  conntrack only           ${best(ns.ct).toFixed(1)} ns`);
console.log(`  conntrack + MASQUERADE   ${best(ns.nat).toFixed(1)} ns  (NAT adds ${(best(ns.nat) - best(ns.ct)).toFixed(1)} ns, ${(best(ns.nat) / best(ns.ct)).toFixed(2)}x)`);
