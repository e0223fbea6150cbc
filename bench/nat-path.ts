// The NAT hook path as the IPv4 stages drive it (nf-hooks.ts): per packet, NfPacket filled,
// nf_conntrack_in, the PREROUTING, FORWARD and POSTROUTING hooks (the NAT core in its place),
// confirm. Established UDP flows, 64-byte frames, alternating a round of LAN->WAN packets (SNAT
// of every one) with a round of their replies (DNAT back). Shared by bench/micro-nat.ts and the
// no-GC test (test/unit/ipv4-nat-nogc.child.mts). The frames are re-written from templates
// before each round (the rewrite is in place), the same work with and without NAT.
import { Conntrack } from '../src/ipv4/conntrack/conntrack.ts';
import type { Ipv4Ctx } from '../src/ipv4/ctx.ts';
import { Nat } from '../src/ipv4/nat/nat.ts';
import { Netfilter, NF_ACCEPT, NF_INET_FORWARD, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NfPacket } from '../src/ipv4/netfilter/netfilter.ts';
import { buildFrame } from '../src/wire/frame.ts';

const L3 = 14;
const SLOT = 128;

export interface NatPath {
  /** One round of `flows` packets (even rounds out, odd rounds back); returns packets accepted. */
  round(): number;
  flows: number;
  nat: Nat | null;
  ct: Conntrack;
}

/** mode: 'ct' conntrack only (no nat rule), 'nat' conntrack + MASQUERADE on the WAN port. */
export function natPath(mode: 'ct' | 'nat', flows = 256): NatPath {
  const devs = [
    { name: 'p0', addrs: [{ addr: 0x0a000001, prefixLen: 16 }] },
    { name: 'p1', addrs: [{ addr: 0xcb007101, prefixLen: 24 }] },
  ];
  const buf = new Uint8Array(flows * SLOT);
  const dv = new DataView(buf.buffer);
  const out = new Uint8Array(flows * SLOT);
  const back = new Uint8Array(flows * SLOT);
  for (let k = 0; k < flows; k++) {
    const src = `10.0.${k >> 8}.${(k & 255) + 2 > 255 ? 1 : (k & 255) + 2}`;
    out.set(buildFrame({ ip: { src, dst: '198.51.100.2' }, udp: { sport: 40000 + k, dport: 53, csum: true }, size: 60 }), k * SLOT);
    const replyTo = mode === 'nat' ? '203.0.113.1' : src;
    back.set(buildFrame({ ip: { src: '198.51.100.2', dst: replyTo }, udp: { sport: 53, dport: 40000 + k, csum: true }, size: 60 }), k * SLOT);
  }
  const nf = new Netfilter((n) => devs.findIndex((d) => d.name === n), (i) => devs[i].name);
  const clock = new Float64Array([1000]);
  const ct = new Conntrack({ buckets: 4096, clock, wheel: { now: () => clock[0], wake: false }, seed: 3 });
  let nat: Nat | null = null;
  if (mode === 'nat') {
    nat = new Nat({ u8: buf, dv, devs: { list: devs } } as unknown as Ipv4Ctx, ct, nf);
    nf.attachNat(nat);
    nf.exec('-t nat -A POSTROUTING -o p1 -j MASQUERADE');
  }
  const p = new NfPacket();
  const fill = (h: number, iif: number, oif: number, nfct: number) => {
    p.h = h;
    p.nh = 0xcb0071fe;
    p.iif = iif;
    p.oif = oif;
    p.saddr = dv.getUint32(h + 12);
    p.daddr = dv.getUint32(h + 16);
    p.proto = buf[h + 9];
    p.len = dv.getUint16(h + 2);
    p.sport = dv.getUint16(h + 20);
    p.dport = dv.getUint16(h + 22);
    p.nfct = nfct;
  };
  let r = 0;
  const round = (): number => {
    const reply = (r++ & 1) === 1;
    buf.set(reply ? back : out);
    const iif = reply ? 1 : 0;
    const oif = reply ? 0 : 1;
    let ok = 0;
    for (let k = 0; k < flows; k++) {
      const h = k * SLOT + L3;
      const nfct = ct.in(buf, dv, h, dv.getUint16(h + 2));
      fill(h, iif, -1, nfct);
      if (nf.hook(NF_INET_PRE_ROUTING, p) !== NF_ACCEPT) continue;
      fill(h, iif, oif, nfct);
      if (nf.hook(NF_INET_FORWARD, p) !== NF_ACCEPT) continue;
      fill(h, -1, oif, nfct);
      if (nf.hook(NF_INET_POST_ROUTING, p) !== NF_ACCEPT) continue;
      if (ct.confirm(nfct)) ok++;
    }
    ct.reclaim();
    return ok;
  };
  return { round, flows, nat, ct };
}
