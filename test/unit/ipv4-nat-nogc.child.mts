// The warm NAT path (bench/nat-path.ts: conntrack + MASQUERADE, established flows out and back)
// measured by the no-GC harness (test/support/nogc.ts) in a process of its own.
import { natPath } from '../../bench/nat-path.ts';
import { measureNoGc } from '../support/nogc-child.ts';

const ROUNDS = Number(process.argv[2] ?? 4000);
const path = natPath((process.argv[3] as 'ct' | 'nat') ?? 'nat', 256);
let accepted = 0;
await measureNoGc({
  warm() {
    for (let k = 0; k < 400; k++) path.round();
  },
  run() {
    let n = 0;
    for (let k = 0; k < ROUNDS; k++) {
      const ok = path.round();
      accepted += ok;
      n += path.flows;
    }
    return n;
  },
  extra: () => ({ accepted, stats: path.nat === null ? [] : Array.from(path.nat.stats), entries: path.ct.table.count }),
});
