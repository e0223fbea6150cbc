// The NAT core over real connection tracking and a real Netfilter, driven hook by hook as the
// IPv4 stages drive them (nf-hooks.ts): conntrack in at PREROUTING/OUTPUT, the hook's tables with
// the NAT core in its place, confirm at POSTROUTING/INPUT. Frames are crafted with buildFrame and
// checked with src/wire's accessors and full checksums.
import { describe, expect, it } from 'vitest';
import { Conntrack } from '../../src/ipv4/conntrack/conntrack.ts';
import type { Ipv4Ctx } from '../../src/ipv4/ctx.ts';
import { Nat } from '../../src/ipv4/nat/nat.ts';
import { Netfilter, NF_ACCEPT, NF_DROP, NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING, NF_INET_PRE_ROUTING, NfPacket } from '../../src/ipv4/netfilter/netfilter.ts';
import { formatIPv4, parseIPv4 } from '../../src/wire/addr.ts';
import { csumFinish, csumPartial, pseudoHdrSum } from '../../src/wire/checksum.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame, type FrameSpec } from '../../src/wire/frame.ts';
import { ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_HLEN, ICMP_PORT_UNREACH, ICMP_TIME_EXCEEDED, icmpCsumOk } from '../../src/wire/icmp.ts';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPV4_HLEN, ipHdrCsumOk5 } from '../../src/wire/ipv4.ts';
import { TCP_ACK, TCP_SYN } from '../../src/wire/tcp.ts';

const ip = parseIPv4;
const LAN = 0; // p0 10.0.0.1/24
const WAN = 1; // p1 203.0.113.1/24, the default route's next hop 203.0.113.254
const WAN_IP = ip('203.0.113.1');
const GW = ip('203.0.113.254');
const L3 = ETH_HLEN;

interface Pkt {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: number;
  bytes: Uint8Array;
}

/** Reads a datagram back, checking every checksum it carries. */
function parse(f: Uint8Array): Pkt {
  const dv = new DataView(f.buffer, f.byteOffset);
  const h = L3;
  expect(ipHdrCsumOk5(dv, h)).toBe(true);
  const proto = f[h + 9];
  const l4 = h + IPV4_HLEN;
  const len = dv.getUint16(h + 2) - IPV4_HLEN;
  const s = dv.getUint32(h + 12);
  const d = dv.getUint32(h + 16);
  let sport = -1;
  let dport = -1;
  if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
    sport = dv.getUint16(l4);
    dport = dv.getUint16(l4 + 2);
    const ck = dv.getUint16(l4 + (proto === IPPROTO_TCP ? 16 : 6));
    if (!(proto === IPPROTO_UDP && ck === 0)) expect(csumFinish(csumPartial(dv, l4, len, pseudoHdrSum(s, d, proto, len)))).toBe(0);
  } else if (proto === IPPROTO_ICMP) {
    expect(icmpCsumOk(dv, l4, len)).toBe(true);
    sport = dv.getUint16(l4 + 4); // echo id
  }
  return { src: formatIPv4(s), dst: formatIPv4(d), sport, dport, proto, bytes: f };
}

class Rig {
  readonly nf: Netfilter;
  readonly ct: Conntrack;
  readonly nat: Nat;
  readonly clock = new Float64Array([1000]);
  readonly buf = new Uint8Array(4096);
  readonly dv = new DataView(this.buf.buffer);
  readonly p = new NfPacket();
  readonly devs = [
    { name: 'p0', addrs: [{ addr: ip('10.0.0.1'), prefixLen: 24 }] },
    { name: 'p1', addrs: [{ addr: WAN_IP, prefixLen: 24 }] },
  ];

  constructor(rules: string[]) {
    this.nf = new Netfilter((n) => this.devs.findIndex((d) => d.name === n), (i) => this.devs[i].name);
    this.ct = new Conntrack({ buckets: 4096, clock: this.clock, wheel: { now: () => this.clock[0], wake: false }, seed: 7 });
    const ctx = { u8: this.buf, dv: this.dv, devs: { list: this.devs } } as unknown as Ipv4Ctx;
    this.nat = new Nat(ctx, this.ct, this.nf);
    this.nf.attachNat(this.nat);
    for (const r of rules) this.nf.exec(r);
  }

  /** NfHooks.run's fill: the packet at L3 of buf as hook sees it. */
  private fill(hook: number, iif: number, oif: number, nh: number): NfPacket {
    const p = this.p;
    const dv = this.dv;
    const h = L3;
    const proto = this.buf[h + 9];
    p.h = h;
    p.nh = nh;
    p.iif = hook === NF_INET_LOCAL_OUT || hook === NF_INET_POST_ROUTING ? -1 : iif;
    p.oif = hook === NF_INET_PRE_ROUTING || hook === NF_INET_LOCAL_IN ? -1 : oif;
    p.saddr = dv.getUint32(h + 12);
    p.daddr = dv.getUint32(h + 16);
    p.proto = proto;
    p.len = dv.getUint16(h + 2);
    p.sport = p.dport = p.icmpType = p.icmpCode = -1;
    if (proto === IPPROTO_TCP || proto === IPPROTO_UDP) {
      p.sport = dv.getUint16(h + 20);
      p.dport = dv.getUint16(h + 22);
    } else if (proto === IPPROTO_ICMP) {
      p.icmpType = this.buf[h + 20];
      p.icmpCode = this.buf[h + 21];
    }
    return p;
  }

  /** One packet through PREROUTING, FORWARD, POSTROUTING; the frame as it leaves, or null when dropped. */
  forward(spec: FrameSpec, iif: number, oif: number, nh = GW): Pkt | null {
    const f = buildFrame(spec);
    this.buf.fill(0);
    this.buf.set(f);
    const h = L3;
    let nfct = this.ct.in(this.buf, this.dv, h, this.dv.getUint16(h + 2));
    try {
      let p = this.fill(NF_INET_PRE_ROUTING, iif, oif, nh);
      p.nfct = nfct;
      if (this.nf.hook(NF_INET_PRE_ROUTING, p) !== NF_ACCEPT) return null;
      p = this.fill(NF_INET_FORWARD, iif, oif, nh);
      p.nfct = nfct;
      if (this.nf.hook(NF_INET_FORWARD, p) !== NF_ACCEPT) return null;
      p = this.fill(NF_INET_POST_ROUTING, iif, oif, nh);
      p.nfct = nfct;
      if (this.nf.hook(NF_INET_POST_ROUTING, p) !== NF_ACCEPT) return null;
      if (!this.ct.confirm(nfct)) return null;
      nfct = -1;
      return parse(this.buf.slice(0, L3 + this.dv.getUint16(h + 2)));
    } finally {
      this.ct.reclaim();
    }
  }

  /** One packet for the router itself: PREROUTING, INPUT (with confirm). */
  input(spec: FrameSpec, iif: number): Pkt | null {
    const f = buildFrame(spec);
    this.buf.fill(0);
    this.buf.set(f);
    const nfct = this.ct.in(this.buf, this.dv, L3, this.dv.getUint16(L3 + 2));
    try {
      for (const hook of [NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN]) {
        const p = this.fill(hook, iif, -1, 0);
        p.nfct = nfct;
        if (this.nf.hook(hook, p) !== NF_ACCEPT) return null;
      }
      if (!this.ct.confirm(nfct)) return null;
      return parse(this.buf.slice(0, L3 + this.dv.getUint16(L3 + 2)));
    } finally {
      this.ct.reclaim();
    }
  }

  stat(name: string): number {
    return this.nat.stats[['nat.no_tuple', 'nat.manip_failed', 'nat.icmp_failed', 'nat.no_addr', 'nat.oif_changed', 'nat.masq_flushed'].indexOf(name)];
  }
}

/** TCP of one handshake: the client's SYN has seq 1000, the server's SYN-ACK seq 5000 (acks follow from the flags). */
const tcp = (src: string, dst: string, sport: number, dport: number, flags = TCP_SYN, payload = 0): FrameSpec => {
  const server = (flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK) || (flags & 0x04) !== 0;
  const seq = server ? 5000 : flags & TCP_SYN ? 1000 : 1001;
  const ack = flags & TCP_ACK ? (server ? 1001 : 5001) : 0;
  return { ip: { src, dst }, tcp: { sport, dport, flags, seq, ack, window: 64240 }, payload };
};
const udp = (src: string, dst: string, sport: number, dport: number, csum = true): FrameSpec => ({ ip: { src, dst }, udp: { sport, dport, csum }, payload: 24 });
const echo = (src: string, dst: string, id: number, type = ICMP_ECHO): FrameSpec => ({ ip: { src, dst }, icmp: { type, rest: (id << 16) | 1 }, payload: 32 });

describe('NAT core: MASQUERADE', () => {
  it('rewrites the source of a LAN connection to the WAN address and its replies back (TCP, UDP, UDP without checksum)', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    const out = r.forward(tcp('10.0.0.2', '198.51.100.2', 40000, 80), LAN, WAN)!;
    expect([out.src, out.sport, out.dst, out.dport]).toEqual(['203.0.113.1', 40000, '198.51.100.2', 80]);
    const back = r.forward(tcp('198.51.100.2', '203.0.113.1', 80, 40000, TCP_SYN | TCP_ACK), WAN, LAN, ip('10.0.0.2'))!;
    expect([back.src, back.sport, back.dst, back.dport]).toEqual(['198.51.100.2', 80, '10.0.0.2', 40000]);
    const ack = r.forward(tcp('10.0.0.2', '198.51.100.2', 40000, 80, TCP_ACK, 100), LAN, WAN)!;
    expect([ack.src, ack.sport]).toEqual(['203.0.113.1', 40000]);
    for (const csum of [true, false]) {
      const u = r.forward(udp('10.0.0.2', '198.51.100.2', 5353 + Number(csum), 53, csum), LAN, WAN)!;
      expect([u.src, u.sport]).toEqual(['203.0.113.1', 5353 + Number(csum)]);
      expect(new DataView(u.bytes.buffer).getUint16(L3 + 20 + 6) === 0).toBe(!csum);
      const ub = r.forward(udp('198.51.100.2', '203.0.113.1', 53, 5353 + Number(csum), csum), WAN, LAN)!;
      expect([ub.dst, ub.dport]).toEqual(['10.0.0.2', 5353 + Number(csum)]);
    }
  });

  it('never hands out a tuple in use: a second host with the same source port gets another port; thousands stay unique', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    const a = r.forward(udp('10.0.0.2', '198.51.100.2', 40000, 53), LAN, WAN)!;
    const b = r.forward(udp('10.0.0.3', '198.51.100.2', 40000, 53), LAN, WAN)!;
    expect(a.sport).toBe(40000);
    expect(b.sport).not.toBe(40000);
    expect(b.sport).toBeGreaterThanOrEqual(1024); // an unprivileged source stays unprivileged
    // replies reach each host
    expect(r.forward(udp('198.51.100.2', '203.0.113.1', 53, b.sport), WAN, LAN)!.dst).toBe('10.0.0.3');
    expect(r.forward(udp('198.51.100.2', '203.0.113.1', 53, 40000), WAN, LAN)!.dst).toBe('10.0.0.2');
    const seen = new Set<number>([a.sport, b.sport]);
    for (let k = 0; k < 3000; k++) {
      const o = r.forward(udp(`10.0.${1 + (k >> 8)}.${k & 255}`, '198.51.100.2', 40000, 53), LAN, WAN)!;
      expect(seen.has(o.sport)).toBe(false);
      seen.add(o.sport);
    }
    // a privileged source port keeps its class (< 512 -> 1..511)
    r.forward(udp('10.0.9.9', '198.51.100.2', 123, 123), LAN, WAN);
    const low = r.forward(udp('10.0.9.10', '198.51.100.2', 123, 123), LAN, WAN)!;
    expect(low.sport).toBeGreaterThanOrEqual(1);
    expect(low.sport).toBeLessThan(512);
  });

  it('a full port range drops the connection (counted), never reuses a taken tuple', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -p udp -j MASQUERADE --to-ports 5000-5003']);
    const ports = [];
    for (let k = 0; k < 4; k++) ports.push(r.forward(udp(`10.0.0.${10 + k}`, '198.51.100.2', 7000, 53), LAN, WAN)!.sport);
    expect(ports.sort()).toEqual([5000, 5001, 5002, 5003]);
    expect(r.forward(udp('10.0.0.20', '198.51.100.2', 7000, 53), LAN, WAN)).toBeNull();
    expect(r.stat('nat.no_tuple')).toBe(1);
    // another destination is another tuple: the same ports are free for it
    expect(r.forward(udp('10.0.0.20', '198.51.100.3', 7000, 53), LAN, WAN)!.sport).toBeGreaterThanOrEqual(5000);
  });

  it('--random picks a random port even when the original is free', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -j MASQUERADE --random']);
    const ports = new Set<number>();
    for (let k = 0; k < 20; k++) ports.add(r.forward(udp('10.0.0.2', `198.51.100.${k + 1}`, 40000, 53), LAN, WAN)!.sport);
    expect(ports.size).toBeGreaterThan(15);
  });

  it('ICMP echo ids are rewritten when two hosts use the same id, and replies find their host', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    const a = r.forward(echo('10.0.0.2', '198.51.100.2', 7), LAN, WAN)!;
    const b = r.forward(echo('10.0.0.3', '198.51.100.2', 7), LAN, WAN)!;
    expect(a.sport).toBe(7);
    expect(b.sport).not.toBe(7);
    expect([a.src, b.src]).toEqual(['203.0.113.1', '203.0.113.1']);
    const rb = r.forward(echo('198.51.100.2', '203.0.113.1', b.sport, ICMP_ECHOREPLY), WAN, LAN)!;
    expect([rb.dst, rb.sport]).toEqual(['10.0.0.3', 7]);
    const ra = r.forward(echo('198.51.100.2', '203.0.113.1', 7, ICMP_ECHOREPLY), WAN, LAN)!;
    expect([ra.dst, ra.sport]).toEqual(['10.0.0.2', 7]);
  });

  it('an ICMP time exceeded about a masqueraded packet reaches the LAN host, quoting what it sent', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    r.forward(udp('10.0.0.3', '198.51.100.2', 33434, 33435), LAN, WAN); // takes 33434 first
    const sent = r.forward(udp('10.0.0.2', '198.51.100.2', 33434, 33435), LAN, WAN)!;
    expect(sent.sport).not.toBe(33434);
    // a router beyond answers with the datagram as it saw it (translated), TTL expired
    for (const [type, code] of [[ICMP_TIME_EXCEEDED, 0], [ICMP_DEST_UNREACH, ICMP_PORT_UNREACH]]) {
      const err = r.forward({ ip: { src: '192.0.2.9', dst: '203.0.113.1' }, icmp: { type, code }, payload: sent.bytes.subarray(L3) }, WAN, LAN, ip('10.0.0.2'))!;
      expect([err.src, err.dst]).toEqual(['192.0.2.9', '10.0.0.2']);
      const inner = parse(err.bytes.slice(L3 + IPV4_HLEN + ICMP_HLEN - L3)); // the quoted datagram, checksums and all
      expect([inner.src, inner.sport, inner.dst, inner.dport]).toEqual(['10.0.0.2', 33434, '198.51.100.2', 33435]);
    }
  });

  it('keeps a source mapping across destinations (endpoint-independent, find_appropriate_src)', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    r.forward(udp('10.0.0.3', '198.51.100.2', 6000, 53), LAN, WAN); // 6000 taken towards .2
    const first = r.forward(udp('10.0.0.2', '198.51.100.2', 6000, 53), LAN, WAN)!;
    expect(first.sport).not.toBe(6000);
    const second = r.forward(udp('10.0.0.2', '198.51.100.77', 6000, 53), LAN, WAN)!;
    expect(second.sport).toBe(first.sport);
  });

  it('follows the outgoing port: a new address is used by new connections, flushMasquerade forgets the old ones, another oif kills', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 1111, 53), LAN, WAN)!.src).toBe('203.0.113.1');
    r.devs[WAN].addrs = [{ addr: ip('203.0.113.50'), prefixLen: 24 }];
    // the old connection keeps its mapping until flushed
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 1111, 53), LAN, WAN)!.src).toBe('203.0.113.1');
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 2222, 53), LAN, WAN)!.src).toBe('203.0.113.50');
    expect(r.nat.flushMasquerade(WAN, WAN_IP)).toBe(1);
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 1111, 53), LAN, WAN)!.src).toBe('203.0.113.50');
    // a route change sends the connection out of p0: killed and dropped (nf_nat_oif_changed)
    r.nf.exec('-t nat -A POSTROUTING -o p0 -j MASQUERADE');
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 2222, 53), LAN, LAN)).toBeNull();
    expect(r.stat('nat.oif_changed')).toBe(1);
    // the next packet is a new connection through p0
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 2222, 53), LAN, LAN)!.src).toBe('10.0.0.1');
    // a device without an address: dropped, counted
    r.devs[WAN].addrs = [];
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 3333, 53), LAN, WAN)).toBeNull();
    expect(r.stat('nat.no_addr')).toBe(1);
  });
});

describe('NAT core: DNAT, SNAT, REDIRECT', () => {
  it('DNAT a router port to a LAN server; replies, RSTs and port unreachables go back as from the router', () => {
    const r = new Rig(['-t nat -A PREROUTING -i p1 -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.5:80', '-t nat -A PREROUTING -i p1 -p udp --dport 5353 -j DNAT --to-destination 10.0.0.5']);
    const syn = r.forward(tcp('198.51.100.2', '203.0.113.1', 50000, 8080), WAN, LAN, ip('10.0.0.5'))!;
    expect([syn.src, syn.sport, syn.dst, syn.dport]).toEqual(['198.51.100.2', 50000, '10.0.0.5', 80]);
    const synack = r.forward(tcp('10.0.0.5', '198.51.100.2', 80, 50000, TCP_SYN | TCP_ACK), LAN, WAN)!;
    expect([synack.src, synack.sport, synack.dst, synack.dport]).toEqual(['203.0.113.1', 8080, '198.51.100.2', 50000]);
    // the server refuses a second connection with a RST
    r.forward(tcp('198.51.100.2', '203.0.113.1', 50001, 8080), WAN, LAN, ip('10.0.0.5'));
    const rst = r.forward(tcp('10.0.0.5', '198.51.100.2', 80, 50001, 0x14), LAN, WAN)!;
    expect([rst.src, rst.sport]).toEqual(['203.0.113.1', 8080]);
    // UDP to a closed port: the server's port unreachable quotes its view; B must see its own
    const dg = r.forward(udp('198.51.100.2', '203.0.113.1', 40000, 5353), WAN, LAN, ip('10.0.0.5'))!;
    expect([dg.dst, dg.dport]).toEqual(['10.0.0.5', 5353]);
    const pu = r.forward({ ip: { src: '10.0.0.5', dst: '198.51.100.2' }, icmp: { type: ICMP_DEST_UNREACH, code: ICMP_PORT_UNREACH }, payload: dg.bytes.subarray(L3) }, LAN, WAN)!;
    expect([pu.src, pu.dst]).toEqual(['203.0.113.1', '198.51.100.2']);
    const inner = parse(pu.bytes.slice(L3 + IPV4_HLEN + ICMP_HLEN - L3));
    expect([inner.src, inner.sport, inner.dst, inner.dport]).toEqual(['198.51.100.2', 40000, '203.0.113.1', 5353]);
  });

  it('hairpin: a LAN host reaches the DNATed service by the public address when the router also SNATs it', () => {
    const r = new Rig(['-t nat -A PREROUTING -d 203.0.113.1 -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.5:80', '-t nat -A POSTROUTING -s 10.0.0.0/24 -d 10.0.0.5 -p tcp --dport 80 -j MASQUERADE']);
    const syn = r.forward(tcp('10.0.0.2', '203.0.113.1', 45000, 8080), LAN, LAN, ip('10.0.0.5'))!;
    expect([syn.src, syn.dst, syn.dport]).toEqual(['10.0.0.1', '10.0.0.5', 80]);
    const back = r.forward(tcp('10.0.0.5', '10.0.0.1', 80, syn.sport, TCP_SYN | TCP_ACK), LAN, LAN, ip('10.0.0.2'))!;
    expect([back.src, back.sport, back.dst, back.dport]).toEqual(['203.0.113.1', 8080, '10.0.0.2', 45000]);
  });

  it('SNAT to an address range with ports; --persistent keeps a client on one address', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -p udp -j SNAT --to-source 203.0.113.10-203.0.113.20:2000-2999 --persistent']);
    const seen = new Set<string>();
    for (let k = 0; k < 30; k++) {
      const o = r.forward(udp('10.0.0.2', `198.51.100.${k + 1}`, 40000, 53), LAN, WAN)!;
      expect(o.sport).toBeGreaterThanOrEqual(2000);
      expect(o.sport).toBeLessThanOrEqual(2999);
      seen.add(o.src);
    }
    expect(seen.size).toBe(1);
    expect(ip([...seen][0]) >= ip('203.0.113.10') && ip([...seen][0]) <= ip('203.0.113.20')).toBe(true);
  });

  it('REDIRECT to a local port: delivered to the router, the answer leaves as from the original destination', () => {
    const r = new Rig(['-t nat -A PREROUTING -i p0 -p tcp --dport 80 -j REDIRECT --to-ports 3128']);
    const got = r.input(tcp('10.0.0.2', '93.184.216.34', 41000, 80), LAN)!;
    expect([got.dst, got.dport]).toEqual(['10.0.0.1', 3128]);
  });

  it('a nat rule with DROP drops the first packet only through the nat table; a flushed table keeps existing mappings', () => {
    const r = new Rig(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 1000, 53), LAN, WAN)!.src).toBe('203.0.113.1');
    r.nf.exec('-t nat -F');
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 1000, 53), LAN, WAN)!.src).toBe('203.0.113.1');
    expect(r.forward(udp('198.51.100.2', '203.0.113.1', 53, 1000), WAN, LAN)!.dst).toBe('10.0.0.2');
    // a new connection now has no rule: it leaves untranslated
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 1001, 53), LAN, WAN)!.src).toBe('10.0.0.2');
    r.nf.exec('-t nat -A POSTROUTING -p udp --dport 9 -j DROP');
    expect(r.forward(udp('10.0.0.2', '198.51.100.2', 1002, 9), LAN, WAN)).toBeNull();
    expect(r.nf.counters('nat', 'POSTROUTING', 1).pkts).toBe(1);
  });
});

void NF_DROP;
