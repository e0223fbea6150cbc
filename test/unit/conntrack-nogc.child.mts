// Connection tracking's steady state, measured by the no-GC harness (test/support/nogc.ts) in a
// process of its own: a stateful FORWARD chain over 64 UDP flows and their replies (lookups,
// refreshes), and a stream of new flows into a full table (early drop, allocation, confirm,
// reclaim of the dropped ones' entries).
import { CT_DROP, CT_EARLY_DROP } from '../../src/ipv4/conntrack/conntrack.ts';
import { defaultConntrackSysctl } from '../../src/ipv4/conntrack/sysctl.ts';
import { measureNoGc } from '../support/nogc-child.ts';
import { ipFrame } from '../support/ipv4-graph.ts';
import { nogcIpv4 } from '../support/ipv4-nogc.ts';

const ROUNDS = Number(process.argv[2] ?? 20_000);

const sysctl = { ...defaultConntrackSysctl(1024), nf_conntrack_max: 1024 };
// A clock of our own: moved once, so the 64 replied flows become ASSURED streams (never early-dropped).
const clock = new Float64Array([1000]);
const { umem, g, ipv4, neigh, b, addrs, entry } = nogcIpv4(
  ['-P FORWARD DROP', '-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', '-A FORWARD -i p0 -m conntrack --ctstate NEW -j ACCEPT'],
  { conntrack: { buckets: 1024, sysctl, clock } },
);

const out = ipFrame({ src: '10.1.0.2', dst: '10.2.0.9', udp: { sport: 0, dport: 53 }, payload: new Uint8Array(18) });
const back = ipFrame({ src: '10.2.0.9', dst: '10.1.0.2', udp: { sport: 53, dport: 0 }, payload: new Uint8Array(18) });
// UDP header at 14 + 20; no checksum (0) so ports can change without recomputing it.
const round = (frame: Uint8Array, iif: number, portAt: number, base: number) => {
  b.n = 0;
  for (let k = 0; k < 64; k++) {
    const a = addrs[k];
    umem.u8.set(frame, a);
    const port = (base + k) & 0xffff;
    umem.u8[a + portAt] = port >> 8;
    umem.u8[a + portAt + 1] = port & 0xff;
    umem.u8[a + 40] = 0;
    umem.u8[a + 41] = 0;
    b.push(a, frame.length, iif);
    b.l3[k] = 14;
  }
  g.dispatch(b, entry);
};
let fresh = 10_000;
const step = () => {
  round(out, 0, 34, 1000);
  round(back, 1, 36, 1000);
  round(out, 0, 34, fresh);
  fresh = (fresh + 64) & 0xffff;
};

let sent0 = 0;
let ctDrop0 = 0;
let nfDrop0 = 0;
await measureNoGc({
  graphs: [g],
  warm: () => {
    step();
    clock[0] += 5000;
    for (let r = 0; r < 3000; r++) step();
    sent0 = neigh.n;
    ctDrop0 = ipv4.conntrack.stats[CT_DROP];
    nfDrop0 = g.drops.toJSON()['netfilter.drop'] ?? 0;
  },
  run: () => {
    for (let r = 0; r < ROUNDS; r++) step();
    return ROUNDS * 64 * 3;
  },
  extra: () => ({
    reachedNeigh: neigh.n - sent0,
    entries: ipv4.conntrack.table.count,
    earlyDrop: ipv4.conntrack.stats[CT_EARLY_DROP],
    ctDrop: ipv4.conntrack.stats[CT_DROP] - ctDrop0,
    nfDrop: (g.drops.toJSON()['netfilter.drop'] ?? 0) - nfDrop0,
    otherDrops: Object.entries(g.drops.toJSON()).filter(([k, v]) => v > 0 && k !== 'netfilter.drop'),
  }),
});
