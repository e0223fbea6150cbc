// The IPv4 steady-state load, measured by the no-GC harness (test/support/nogc.ts) in a process
// of its own: forwarding through FORWARD rules and answering echo requests, alternately.
import { measureNoGc } from '../support/nogc-child.ts';
import { icmpMsg, ipFrame } from '../support/ipv4-graph.ts';
import { nogcIpv4 } from '../support/ipv4-nogc.ts';
import { pattern } from '../support/rng.ts';

const ROUNDS = Number(process.argv[2] ?? 32_000);

const { umem, g, neigh, b, addrs, entry } = nogcIpv4(Array.from({ length: 5 }, (_, k) => `-A FORWARD -p udp --dport ${20000 + k} -j DROP`));
const fwd = ipFrame({ src: '10.1.0.2', dst: '10.2.0.9', ttl: 64, payload: pattern(26) });
const echo = ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, payload: icmpMsg(8, 0, 1, pattern(56)) });
const round = (frame: Uint8Array) => {
  b.n = 0;
  for (let k = 0; k < 64; k++) {
    umem.u8.set(frame, addrs[k]);
    b.push(addrs[k], frame.length, 0);
    b.l3[k] = 14;
  }
  g.dispatch(b, entry);
};

let sent0 = 0;
await measureNoGc({
  graphs: [g],
  warm: () => {
    for (let r = 0; r < 5000; r++) round((r & 1) === 0 ? fwd : echo);
    sent0 = neigh.n;
  },
  run: () => {
    for (let r = 0; r < ROUNDS; r++) round((r & 1) === 0 ? fwd : echo);
    return ROUNDS * 64;
  },
  extra: () => ({ reachedNeigh: neigh.n - sent0, drops: Object.entries(g.drops.toJSON()).filter(([, v]) => v > 0) }),
});
