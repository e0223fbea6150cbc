import { describe, expect, it } from 'vitest';
import { PACKET_BROADCAST, PACKET_OTHERHOST } from '../../src/core/batch.ts';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { ARPOP_REPLY } from '../../src/wire/arp.ts';
import { ETH_HLEN } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, arpFrame, replyFrom, rig } from '../support/l2-graph.ts';

describe('arp-rcv', () => {
  it('answers a request for our address with the exact reply bytes', () => {
    const r = rig();
    const before = r.pool.available;
    r.rx([arpFrame({ op: 1, pad: 18 })], { pkttype: PACKET_BROADCAST });
    const out = r.xmit.take();
    expect(out).toHaveLength(1);
    expect(out[0].oif).toBe(0);
    expect(out[0].l3).toBe(14);
    // Ethernet: dst = requester, src = us, type ARP; ARP reply: sha/spa = us, tha/tpa = requester.
    const expected = buildFrame({ dstMac: PEER_MAC, srcMac: OUR_MAC, arp: { op: ARPOP_REPLY, sha: OUR_MAC, spa: OUR_IP, tha: PEER_MAC, tpa: PEER_IP } });
    expect([...out[0].bytes]).toEqual([...expected]);
    expect(r.arp.mib.get('InRequests')).toBe(1);
    expect(r.arp.mib.get('OutReplies')).toBe(1);
    // The request taught us the requester (STALE, as neigh_event_ns does).
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('STALE');
    expect(r.pool.available).toBe(before);
  });

  it('answers from behind a VLAN header: Ethernet header right before the ARP header', () => {
    const r = rig();
    const sub = r.devs.addVlan('p0', 5);
    sub.addrs.push({ addr: parseIPv4('10.5.0.1'), prefixLen: 24 });
    r.neigh.refreshDevs();
    // Behind an 802.1Q tag: the ARP header is at 18.
    const tagged = arpFrame({ op: 1, tip: parseIPv4('10.5.0.1'), sip: parseIPv4('10.5.0.2'), vlan: 5 });
    r.rx([tagged], { iif: sub.index, l3: 18 });
    const out = r.xmit.take();
    expect(out).toHaveLength(1);
    expect(out[0].oif).toBe(sub.index);
    expect(out[0].bytes.length).toBe(42);
    expect([...out[0].bytes.subarray(12, 14)]).toEqual([0x08, 0x06]);
    expect([...out[0].bytes.subarray(28, 32)]).toEqual([10, 5, 0, 1]);
    // Learned on the sub-interface, not on the port.
    expect(r.neigh.stateOf(sub.index, parseIPv4('10.5.0.2'))).toBe('STALE');
    expect(r.neigh.stateOf(0, parseIPv4('10.5.0.2'))).toBe('NONE');
  });

  it('a request for another address: no reply, no entry, frame consumed', () => {
    const r = rig();
    const before = r.pool.available;
    r.rx([arpFrame({ op: 1, tip: parseIPv4('10.0.0.77') })]);
    expect(r.xmit.take()).toHaveLength(0);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('NONE');
    expect(r.arp.mib.get('Ignored')).toBe(1);
    expect(r.pool.available).toBe(before);
  });

  it('learns: unicast reply confirms an existing entry (REACHABLE), unsolicited replies create nothing', () => {
    const r = rig();
    r.rx([replyFrom(PEER_IP, PEER_MAC)]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('NONE');
    r.rx([arpFrame({ op: 1 })]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('STALE');
    r.xmit.take();
    r.rx([replyFrom(PEER_IP, PEER_MAC)]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('REACHABLE');
    // The same MAC in a later request does not downgrade REACHABLE.
    r.clock.now += 2000;
    r.rx([arpFrame({ op: 1 })]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('REACHABLE');
    const row = r.neigh.dump().find((x) => x.ip === '10.0.0.2');
    expect(row).toMatchObject({ dev: 'p0', lladdr: PEER_MAC, state: 'REACHABLE' });
  });

  it('a broadcast reply only says STALE; gratuitous ARP updates the MAC of an existing entry', () => {
    const r = rig();
    r.rx([arpFrame({ op: 1 })]);
    r.xmit.take();
    r.rx([replyFrom(PEER_IP, PEER_MAC)], { pkttype: PACKET_BROADCAST });
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('STALE');
    // Within locktime a different MAC loses...
    r.rx([replyFrom(PEER_IP, '02:00:00:00:00:55')]);
    expect(r.neigh.dump()[0].lladdr).toBe(PEER_MAC);
    // ...unless gratuitous (sender = target).
    r.rx([arpFrame({ op: 1, sha: '02:00:00:00:00:66', sip: PEER_IP, tip: PEER_IP })], { pkttype: PACKET_BROADCAST });
    expect(r.neigh.dump()[0].lladdr).toBe('02:00:00:00:00:66');
    // A gratuitous ARP for an unknown host creates nothing (arp_accept=0).
    r.rx([arpFrame({ op: 1, sip: parseIPv4('10.0.0.9'), tip: parseIPv4('10.0.0.9') })]);
    expect(r.neigh.stateOf(0, parseIPv4('10.0.0.9'))).toBe('NONE');
  });

  it('answers duplicate address probes (sender 0.0.0.0) without learning', () => {
    const r = rig();
    r.rx([arpFrame({ op: 1, sip: 0 })]);
    const out = r.xmit.take();
    expect(out).toHaveLength(1);
    expect([...out[0].bytes.subarray(38, 42)]).toEqual([0, 0, 0, 0]);
    expect(r.neigh.size).toBe(0);
  });

  it('never learns our own address from someone else', () => {
    const r = rig();
    r.rx([arpFrame({ op: 2, sip: OUR_IP, tip: OUR_IP })]);
    expect(r.neigh.size).toBe(0);
    expect(r.arp.mib.get('Conflicts')).toBe(1);
  });

  const bad: Array<[string, Uint8Array, string, number?]> = [
    ['truncated', arpFrame({}).subarray(0, 40), 'arp.truncated'],
    ['hlen 8', arpFrame({ hln: 8 }), 'arp.bad_hln'],
    ['plen 16', arpFrame({ pln: 16 }), 'arp.bad_pln'],
    ['op 9', arpFrame({ op: 9 }), 'arp.bad_op'],
    ['ptype 0x86dd', arpFrame({ pro: 0x86dd }), 'arp.bad_pro'],
    ['htype 0x0300', arpFrame({ hrd: 0x300 }), 'arp.bad_hrd'],
    ['multicast sender', arpFrame({ sha: '01:00:5e:00:00:01' }), 'arp.bad_sha'],
    ['broadcast sender', arpFrame({ sha: 'ff:ff:ff:ff:ff:ff' }), 'arp.bad_sha'],
    ['zero sender', arpFrame({ sha: '00:00:00:00:00:00' }), 'arp.bad_sha'],
    ['multicast target ip', arpFrame({ tip: parseIPv4('224.0.0.1') }), 'arp.bad_addr'],
    ['loopback sender ip', arpFrame({ sip: parseIPv4('127.0.0.1') }), 'arp.bad_addr'],
    ['other host', arpFrame({ ethDst: '02:00:00:00:00:42' }), 'arp.otherhost', PACKET_OTHERHOST],
  ];
  for (const [what, frame, reason, pkttype] of bad) {
    it(`drops malformed ARP (${what}) under ${reason}`, () => {
      const r = rig();
      const before = r.pool.available;
      expect(() => r.rx([frame], { pkttype: pkttype ?? 0 })).not.toThrow();
      expect(r.g.drops.get(reason)).toBe(1);
      expect(r.xmit.take()).toHaveLength(0);
      expect(r.neigh.size).toBe(0);
      expect(r.pool.available).toBe(before);
    });
  }

  it('random bytes never throw and every frame is accounted for', () => {
    const r = rig();
    const before = r.pool.available;
    let seed = 12345;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    for (let k = 0; k < 500; k++) {
      const f = arpFrame({ op: 1 + (k % 3), pad: k % 7 });
      const len = ETH_HLEN + (rnd() % 40);
      const g = f.slice(0, Math.min(len, f.length));
      for (let m = 0; m < 3; m++) g[ETH_HLEN + (rnd() % Math.max(1, g.length - ETH_HLEN))] = rnd();
      r.rx([g]);
    }
    r.xmit.take();
    r.neigh.clear();
    expect(r.pool.available).toBe(before);
  });
});
