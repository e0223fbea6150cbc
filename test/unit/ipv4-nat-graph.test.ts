// NAT through the IPv4 stages (ip-rcv, ip-forward, ip-output with NfHooks, conntrack and the NAT
// core as a stack wires them): a LAN on p0 (10.1.0.0/24) masqueraded behind p1 (10.2.0.1), a
// DNAT port forward, time exceeded and REJECT answers built by softnet itself, translated.
import { describe, expect, it } from 'vitest';
import { Netfilter } from '../../src/ipv4/netfilter/netfilter.ts';
import { formatIPv4 } from '../../src/wire/addr.ts';
import { ICMP_DEST_UNREACH, ICMP_ECHO, ICMP_ECHOREPLY, ICMP_PORT_UNREACH, ICMP_TIME_EXCEEDED } from '../../src/wire/icmp.ts';
import { TCP_ACK, TCP_RST, TCP_SYN } from '../../src/wire/tcp.ts';
import { csumOk, icmpMsg, ipFrame, lab, parseIp } from '../support/ipv4-graph.ts';
import { pattern } from '../support/rng.ts';

const WAN_HOST = '10.3.0.9'; // behind p1's gateway 10.2.0.2

/** A datagram as the tests compare it: addresses as text. */
function dgram(bytes: Uint8Array, oif = -1) {
  const d = parseIp(bytes);
  return { ...d, src: formatIPv4(d.src), dst: formatIPv4(d.dst), oif, raw: bytes };
}

function setup(rules: string[]) {
  const clock = new Float64Array([1_000_000]);
  const L = lab({ conntrack: { clock, seed: 5, buckets: 1024, wheel: { now: () => clock[0], wake: false } } });
  const devs = ['p0', 'p1'];
  const nf = new Netfilter((n) => devs.indexOf(n), (i) => devs[i] ?? '?');
  for (const r of rules) nf.exec(r);
  L.ipv4.setNetfilter(nf);
  L.ipv4.refreshHooks();
  const one = (f: Uint8Array, iif: number) => {
    L.rx(f, iif);
    const out = L.take();
    expect(L.leaked()).toBe(0);
    return out.length === 1 ? dgram(out[0].bytes, out[0].oif) : null;
  };
  return { L, nf, one };
}

describe('NAT through the IPv4 stages', () => {
  it('MASQUERADE: UDP, TCP and ping from the LAN leave with p1s address; replies come back; the NAT core is made with conntrack', () => {
    const { L, one } = setup(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    expect(L.ipv4.nat).not.toBeNull();
    const u = one(ipFrame({ src: '10.1.0.2', dst: WAN_HOST, udp: { sport: 5000, dport: 53, csum: true }, payload: pattern(20) }), 0)!;
    expect([u.src, u.dst, u.oif]).toEqual(['10.2.0.1', WAN_HOST, 1]);
    const ub = one(ipFrame({ src: WAN_HOST, dst: '10.2.0.1', udp: { sport: 53, dport: 5000, csum: true }, payload: pattern(20) }), 1)!;
    expect([ub.src, ub.dst, ub.oif]).toEqual([WAN_HOST, '10.1.0.2', 0]);
    const syn = one(ipFrame({ src: '10.1.0.2', dst: WAN_HOST, tcp: { sport: 40000, dport: 80, flags: TCP_SYN, seq: 1 } }), 0)!;
    expect(syn.src).toBe('10.2.0.1');
    const sa = one(ipFrame({ src: WAN_HOST, dst: '10.2.0.1', tcp: { sport: 80, dport: 40000, flags: TCP_SYN | TCP_ACK, seq: 9, ack: 2 } }), 1)!;
    expect(sa.dst).toBe('10.1.0.2');
    const ping = one(ipFrame({ src: '10.1.0.2', dst: WAN_HOST, proto: 1, payload: icmpMsg(ICMP_ECHO, 0, (77 << 16) | 1, pattern(56)) }), 0)!;
    expect(ping.src).toBe('10.2.0.1');
    const pong = one(ipFrame({ src: WAN_HOST, dst: '10.2.0.1', proto: 1, payload: icmpMsg(ICMP_ECHOREPLY, 0, (77 << 16) | 1, pattern(56)) }), 1)!;
    expect(pong.dst).toBe('10.1.0.2');
    for (const d of [u, ub, syn, sa, ping, pong]) expect(csumOk(d.raw.subarray(0, 20))).toBe(true);
  });

  it('first packets of one flow in one batch leave with one mapping, the one the entry answers to (UDP burst, traceroute -I)', () => {
    const { L } = setup(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    const dv = (d: Uint8Array) => new DataView(d.buffer, d.byteOffset);
    // Two datagrams of one new flow, one dispatch: the second must not get a port of its own.
    L.rxMany([0, 1].map(() => ipFrame({ src: '10.1.0.2', dst: WAN_HOST, udp: { sport: 5000, dport: 53, csum: true }, payload: pattern(20) })), 0);
    const us = L.take().map((s) => dgram(s.bytes, s.oif));
    expect(us.map((u) => [u.src, dv(u.raw).getUint16(20)])).toEqual([['10.2.0.1', 5000], ['10.2.0.1', 5000]]);
    // traceroute -I sends its probes (one echo id, TTL 1, 2, 3) at once: all but the first leave with one id
    const probes = [1, 2, 3].map((ttl) => ipFrame({ src: '10.1.0.2', dst: WAN_HOST, ttl, proto: 1, payload: icmpMsg(ICMP_ECHO, 0, (4242 << 16) | ttl, pattern(32)) }));
    L.rxMany(probes, 0);
    const out = L.take().map((s) => dgram(s.bytes, s.oif)).filter((d) => d.oif === 1);
    expect(out.length).toBe(2);
    const ids = out.map((d) => dv(d.raw).getUint16(24));
    expect(ids[0]).toBe(ids[1]);
    // and the echo reply to that id finds the entry: back to the host with its own id
    L.rx(ipFrame({ src: WAN_HOST, dst: '10.2.0.1', proto: 1, payload: icmpMsg(ICMP_ECHOREPLY, 0, (ids[1] << 16) | 3, pattern(32)) }), 1);
    const back = L.take().map((s) => dgram(s.bytes, s.oif));
    expect(back.map((d) => [d.dst, d.oif, dv(d.raw).getUint16(24)])).toEqual([['10.1.0.2', 0, 4242]]);
    expect(L.leaked()).toBe(0);
  });

  it('traceroute through the NAT: the router beyond answers the translated packet, the LAN host gets the time exceeded about its own', () => {
    const { one } = setup(['-t nat -A POSTROUTING -o p1 -j MASQUERADE']);
    const probe = one(ipFrame({ src: '10.1.0.2', dst: WAN_HOST, ttl: 2, udp: { sport: 33434, dport: 33435, csum: true }, payload: pattern(12) }), 0)!;
    const te = one(ipFrame({ src: '10.2.0.2', dst: '10.2.0.1', proto: 1, payload: icmpMsg(ICMP_TIME_EXCEEDED, 0, 0, probe.raw.slice(0, 28)) }), 1)!;
    expect([te.src, te.dst, te.oif]).toEqual(['10.2.0.2', '10.1.0.2', 0]);
    const inner = dgram(te.raw.slice(28));
    expect([inner.src, inner.dst]).toEqual(['10.1.0.2', WAN_HOST]);
    expect(new DataView(te.raw.buffer, te.raw.byteOffset).getUint16(28 + 20)).toBe(33434);
    // and softnet's own time exceeded (TTL 1 at the router) goes back untranslated to the host
    const own = one(ipFrame({ src: '10.1.0.2', dst: WAN_HOST, ttl: 1, udp: { sport: 33434, dport: 33436, csum: true }, payload: pattern(12) }), 0)!;
    expect([own.src, own.dst, own.proto]).toEqual(['10.1.0.1', '10.1.0.2', 1]);
  });

  it('DNAT a router port to a LAN server; a FORWARD REJECT answers the WAN host as from the router port', () => {
    const { one } = setup([
      '-t nat -A PREROUTING -i p1 -p tcp --dport 8080 -j DNAT --to-destination 10.1.0.5:80',
      '-t nat -A PREROUTING -i p1 -p udp --dport 9999 -j DNAT --to-destination 10.1.0.5:9',
      '-A FORWARD -p udp --dport 9 -j REJECT',
      '-A FORWARD -p tcp --dport 81 -j REJECT --reject-with tcp-reset',
      '-t nat -A PREROUTING -i p1 -p tcp --dport 8081 -j DNAT --to-destination 10.1.0.5:81',
    ]);
    const syn = one(ipFrame({ src: WAN_HOST, dst: '10.2.0.1', tcp: { sport: 50000, dport: 8080, flags: TCP_SYN, seq: 1 } }), 1)!;
    expect([syn.dst, syn.oif]).toEqual(['10.1.0.5', 0]);
    expect(new DataView(syn.raw.buffer, syn.raw.byteOffset).getUint16(22)).toBe(80);
    const sa = one(ipFrame({ src: '10.1.0.5', dst: WAN_HOST, tcp: { sport: 80, dport: 50000, flags: TCP_SYN | TCP_ACK, seq: 7, ack: 2 } }), 0)!;
    expect([sa.src, sa.dst]).toEqual(['10.2.0.1', WAN_HOST]);
    expect(new DataView(sa.raw.buffer, sa.raw.byteOffset).getUint16(20)).toBe(8080);
    // port unreachable built by softnet for the DNATed datagram: from 10.2.0.1, quoting B -> 10.2.0.1:9999
    const pu = one(ipFrame({ src: WAN_HOST, dst: '10.2.0.1', udp: { sport: 4000, dport: 9999, csum: true }, payload: pattern(8) }), 1)!;
    expect([pu.proto, pu.src, pu.dst]).toEqual([1, '10.2.0.1', WAN_HOST]);
    expect([pu.raw[20], pu.raw[21]]).toEqual([ICMP_DEST_UNREACH, ICMP_PORT_UNREACH]);
    const q = dgram(pu.raw.slice(28));
    expect([q.src, q.dst]).toEqual([WAN_HOST, '10.2.0.1']);
    expect(new DataView(pu.raw.buffer, pu.raw.byteOffset).getUint16(28 + 22)).toBe(9999);
    // RST built by REJECT for the DNATed SYN: from 10.2.0.1:8081
    const rst = one(ipFrame({ src: WAN_HOST, dst: '10.2.0.1', tcp: { sport: 50001, dport: 8081, flags: TCP_SYN, seq: 1 } }), 1)!;
    expect([rst.src, rst.dst]).toEqual(['10.2.0.1', WAN_HOST]);
    expect(rst.raw[33] & TCP_RST).toBe(TCP_RST);
    expect(new DataView(rst.raw.buffer, rst.raw.byteOffset).getUint16(20)).toBe(8081);
  });
});
