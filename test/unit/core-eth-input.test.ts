import { describe, expect, it } from 'vitest';
import { PACKET_BROADCAST, PACKET_HOST, PACKET_MULTICAST, PACKET_OTHERHOST, type Batch } from '../../src/core/batch.ts';
import type { Graph, Stage } from '../../src/core/graph.ts';
import { ETH_HLEN, ETH_P_8021Q, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ETH_TYPE, ethType } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { BCAST, MAC_A, MAC_B, MAC_PEER, Sink, drops, stack, udpFrame } from '../support/core-graph.ts';

/** An Ethernet frame from the peer: `type` and `payload` (bytes or a length) as given. */
const eth = (dst: number[], type: number, payload: number[] | number = []) => buildFrame({ dstMac: dst, srcMac: MAC_PEER, type, payload });

/**
 * Sends every packet back out of the device it arrived on (b.oif = b.iif), writing the Ethernet
 * header in front of b.l3 as neigh-output does (the IP header stays where it was received).
 */
class Reflect implements Stage {
  readonly name = 'reflect';
  private g!: Graph;
  private xmit = 0;
  init(g: Graph): void {
    this.g = g;
    this.xmit = g.id('dev-xmit');
  }
  run(b: Batch, v: Uint16Array, n: number): void {
    for (let j = 0; j < n; j++) {
      const i = v[j];
      const a = b.addr[i];
      this.g.pool.umem.u8.copyWithin(a + b.l3[i] - ETH_HLEN, a, a + ETH_TYPE); // both MACs
      b.oif[i] = b.iif[i];
      this.g.enqueue(this.xmit, i);
    }
  }
}

function setup() {
  const s = stack();
  const ipSink = new Sink('ip-rcv');
  const arpSink = new Sink('arp-rcv');
  s.graph.add(ipSink);
  s.graph.add(arpSink);
  s.ptype.add(0x0800, 'ip-rcv');
  s.ptype.add(0x0806, 'arp-rcv');
  s.a.peer = null;
  s.b.peer = null;
  s.napi.start();
  return { ...s, ipSink, arpSink };
}

describe('eth-input and ptype dispatch', () => {
  it('dispatches by EtherType to the registered stages with l3 and pkttype set', () => {
    const s = setup();
    s.a.inject(eth(MAC_A, ETH_P_IP, 46));
    s.a.inject(eth(BCAST, ETH_P_ARP, 28));
    s.a.inject(eth([0x01, 0, 0x5e, 0, 0, 1], ETH_P_IP, 46));
    expect(s.napi.kick()).toBe(3);
    expect(s.ipSink.seen.map((p) => [p.l3, p.pkttype, p.iif, p.type])).toEqual([
      [14, PACKET_HOST, 0, 0x0800],
      [14, PACKET_MULTICAST, 0, 0x0800],
    ]);
    expect(s.arpSink.seen.map((p) => [p.l3, p.pkttype])).toEqual([[14, PACKET_BROADCAST]]);
    expect(s.pool.available).toBe(s.pool.total);
    s.napi.stop();
  });

  it('counts short frames, IPv6, unknown EtherTypes and other hosts, never throws', () => {
    const s = setup();
    s.a.inject(new Uint8Array(13));
    s.a.inject(new Uint8Array(0));
    s.a.inject(eth(MAC_A, ETH_P_IPV6, 40));
    s.a.inject(eth(MAC_A, 0x88cc));
    s.a.inject(eth(MAC_A, 0x0020)); // an 802.3 length field, not an EtherType
    s.a.inject(eth(MAC_B, ETH_P_IP, 46)); // for another host
    s.a.inject(eth(MAC_A, ETH_P_8021Q, [0, 5])); // truncated VLAN tag
    s.napi.kick();
    expect(drops(s.graph)).toEqual({
      'eth.rx_length_errors': 3,
      'eth.ipv6_unsupported': 1,
      'eth.unknown_ethertype': 2,
      'eth.otherhost': 1,
    });
    expect(s.ipSink.count).toBe(0);
    expect(s.pool.available).toBe(s.pool.total);
    // Promiscuous: the other host's frame is delivered as PACKET_OTHERHOST.
    s.ethIn.promisc[0] = 1;
    s.a.inject(eth(MAC_B, ETH_P_IP, 46));
    s.napi.kick();
    expect(s.ipSink.seen[0].pkttype).toBe(PACKET_OTHERHOST);
    s.napi.stop();
  });

  it('add/remove handlers at runtime; a conflicting registration is refused', () => {
    const s = setup();
    expect(() => s.ptype.add(0x0800, 'arp-rcv')).toThrow(/ip-rcv already/);
    expect(() => s.ptype.add(0x8100, 'arp-rcv')).toThrow(/802.1Q/);
    s.ptype.remove(0x0806);
    s.a.inject(eth(BCAST, ETH_P_ARP, 28));
    s.napi.kick();
    expect(s.arpSink.count).toBe(0);
    s.ptype.add(0x0806, 'arp-rcv');
    s.a.inject(eth(BCAST, ETH_P_ARP, 28));
    s.napi.kick();
    expect(s.arpSink.count).toBe(1);
    expect(drops(s.graph)).toEqual({ 'eth.unknown_ethertype': 1 });
    s.napi.stop();
  });

  it('untags 802.1Q to the VLAN sub-interface and re-tags on dev-xmit', () => {
    const s = stack();
    const sub = s.devs.addVlan('mem0', 100);
    s.graph.add(new Reflect());
    const ipSink = new Sink('ip-rcv');
    s.graph.add(ipSink);
    s.ptype.add(0x0800, 'reflect');
    s.a.peer = null;
    s.napi.start();
    const f = udpFrame(53, '10.0.0.2', MAC_A, 100);
    s.a.inject(f);
    s.a.inject(udpFrame(53, '10.0.0.2', MAC_A, 200)); // no sub-interface for VID 200
    s.napi.kick();
    expect(drops(s.graph)).toEqual({ 'eth.vlan_unknown': 1 });
    const out = s.a.takeTx();
    expect(out.length).toBe(1);
    expect(Buffer.from(out[0]).equals(Buffer.from(f))).toBe(true);
    expect(s.xmit.txPackets[sub.index]).toBe(1);
    // Untagged frames stay on the port device and are sent untagged.
    s.a.inject(udpFrame(53));
    s.napi.kick();
    const plain = s.a.takeTx();
    expect(ethType(new DataView(plain[0].buffer), 0)).toBe(ETH_P_IP);
    expect(s.pool.available).toBe(s.pool.total);
    s.napi.stop();
  });

  it('delivers VLAN frames with b.iif = sub-interface and b.vlan = VID', () => {
    const s = setup();
    const sub = s.devs.addVlan('mem0', 7);
    s.a.inject(udpFrame(53, '10.0.0.2', MAC_A, 7));
    s.napi.kick();
    expect(s.ipSink.seen).toMatchObject([{ iif: sub.index, vlan: 7, l3: 18, type: 0x0800 }]);
    s.napi.stop();
  });
});
