// Hostile ARP against the neighbour table, one arp_process / neigh_update rule per test, over
// crafted bytes. The rig: our address 10.0.0.1/24 on p0 (test/support/l2-graph.ts).
import { describe, expect, it } from 'vitest';
import { PACKET_BROADCAST } from '../../src/core/batch.ts';
import { parseIPv4 } from '../../src/wire/addr.ts';
import { OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, arpFrame, ipFrame, replyFrom, rig, type Rig } from '../support/l2-graph.ts';

const req = (sip: number, sha = PEER_MAC) => arpFrame({ op: 1, sip, sha, tip: OUR_IP });
const macN = (n: number) => `02:00:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
const replies = (r: Rig) => r.xmit.take().filter((s) => s.bytes[12] === 8 && s.bytes[13] === 6 && s.bytes[21] === 2);

function sendIp(r: Rig, dst: number, n = 1): void {
  const frames = [];
  for (let k = 0; k < n; k++) frames.push(ipFrame(dst));
  r.rx(frames, { stage: 'neigh-output' });
}

describe('hostile ARP: which frames may create, which may only update', () => {
  it('a request for us from an on-link sender creates a STALE entry and is answered', () => {
    const r = rig();
    r.rx([req(PEER_IP)]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('STALE');
    expect(replies(r)).toHaveLength(1);
  });

  it('a request for us from a sender off the receiving subnet: no entry, no reply, ArpFilter', () => {
    const r = rig();
    for (const s of ['10.0.1.2', '192.168.0.7', '10.2.0.2', '8.8.8.8']) r.rx([req(parseIPv4(s))]);
    expect(r.neigh.size).toBe(0);
    expect(replies(r)).toHaveLength(0);
    expect(r.arp.mib.get('ArpFilter')).toBe(4);
  });

  it('unsolicited replies and gratuitous ARP for unknown hosts create nothing (arp_accept=0)', () => {
    const r = rig();
    const x = parseIPv4('10.0.0.9');
    r.rx([replyFrom(x, PEER_MAC)]);
    r.rx([arpFrame({ op: 1, sip: x, tip: x })], { pkttype: PACKET_BROADCAST });
    r.rx([arpFrame({ op: 2, sip: x, tip: x, tha: PEER_MAC, ethDst: 'ff:ff:ff:ff:ff:ff' })], { pkttype: PACKET_BROADCAST });
    // A request for someone else is no request for us.
    r.rx([arpFrame({ op: 1, sip: x, tip: parseIPv4('10.0.0.77') })], { pkttype: PACKET_BROADCAST });
    expect(r.neigh.size).toBe(0);
  });

  it('arp_accept=1 lets gratuitous ARP and replies create; arp_accept=2 only for on-link senders', () => {
    const one = rig({ arpAccept: 1 });
    one.rx([arpFrame({ op: 1, sip: parseIPv4('10.0.0.9'), tip: parseIPv4('10.0.0.9') })], { pkttype: PACKET_BROADCAST });
    one.rx([replyFrom(parseIPv4('10.0.0.10'), PEER_MAC)]);
    expect(one.neigh.stateOf(0, parseIPv4('10.0.0.9'))).toBe('STALE');
    expect(one.neigh.stateOf(0, parseIPv4('10.0.0.10'))).toBe('REACHABLE');
    const two = rig({ arpAccept: 2 });
    two.rx([arpFrame({ op: 1, sip: parseIPv4('10.9.0.9'), tip: parseIPv4('10.9.0.9') })], { pkttype: PACKET_BROADCAST });
    two.rx([arpFrame({ op: 1, sip: parseIPv4('10.0.0.9'), tip: parseIPv4('10.0.0.9') })], { pkttype: PACKET_BROADCAST });
    expect(two.neigh.stateOf(0, parseIPv4('10.9.0.9'))).toBe('NONE');
    expect(two.neigh.stateOf(0, parseIPv4('10.0.0.9'))).toBe('STALE');
    expect(() => rig({ arpAccept: 3 })).toThrow(/arpAccept 3/);
  });

  it('no entry for our own address, whatever the ARP (Conflicts)', () => {
    const r = rig({ arpAccept: 1 });
    r.rx([req(OUR_IP, '02:00:00:00:00:66')]);
    r.rx([replyFrom(OUR_IP, '02:00:00:00:00:66')]);
    r.rx([arpFrame({ op: 1, sip: OUR_IP, tip: OUR_IP, sha: '02:00:00:00:00:66' })], { pkttype: PACKET_BROADCAST });
    expect(r.neigh.size).toBe(0);
    expect(replies(r)).toHaveLength(0);
    expect(r.arp.mib.get('Conflicts')).toBe(3);
  });

  it.each([
    ['limited broadcast', '255.255.255.255'],
    ['multicast', '224.0.0.1'],
    ['multicast (top)', '239.255.255.255'],
    ['loopback', '127.0.0.1'],
    ['zero network', '0.1.2.3'],
    ['the subnet broadcast', '10.0.0.255'],
    ['the subnet network address', '10.0.0.0'],
  ])('a sender IP no host can have (%s): dropped as arp.bad_addr, nothing learned or answered', (_, sip) => {
    const r = rig({ arpAccept: 1 });
    r.rx([req(parseIPv4(sip))]);
    r.rx([replyFrom(parseIPv4(sip), PEER_MAC)]);
    expect(r.g.drops.get('arp.bad_addr')).toBe(2);
    expect(r.neigh.size).toBe(0);
    expect(replies(r)).toHaveLength(0);
  });

  it.each([
    ['broadcast', 'ff:ff:ff:ff:ff:ff'],
    ['multicast', '01:00:5e:00:00:01'],
    ['IPv6 multicast', '33:33:00:00:00:01'],
    ['zero', '00:00:00:00:00:00'],
  ])('a %s sender MAC: dropped as arp.bad_sha, nothing learned or answered', (_, sha) => {
    const r = rig();
    r.rx([req(PEER_IP, sha)]);
    expect(r.g.drops.get('arp.bad_sha')).toBe(1);
    expect(r.neigh.size).toBe(0);
    expect(replies(r)).toHaveLength(0);
  });

  it('DAD probes (sender 0.0.0.0) are answered and learn nothing', () => {
    const r = rig();
    r.rx([req(0)]);
    expect(replies(r)).toHaveLength(1);
    expect(r.neigh.size).toBe(0);
  });
});

describe('hostile ARP: updates (neigh_update, locktime)', () => {
  it('a flood of requests with changing MACs flaps the entry at most once per locktime', () => {
    const r = rig({ locktimeMs: 1000 });
    r.rx([req(PEER_IP)]);
    const t0 = r.clock.now;
    // 5 s of a spoofer sending 200 requests a second, each with another MAC.
    let changes = 0;
    let last = r.neigh.dump()[0].lladdr;
    for (let k = 1; k <= 1000; k++) {
      r.clock.now = t0 + k * 5;
      r.rx([req(PEER_IP, macN(0x10000 + k))]);
      const now = r.neigh.dump()[0].lladdr;
      if (now !== last) changes++;
      last = now;
    }
    expect(r.neigh.stats.get('lladdr_changes')).toBe(changes);
    expect(changes).toBeGreaterThanOrEqual(4);
    expect(changes).toBeLessThanOrEqual(5);
    expect(r.neigh.stats.get('locktime_ignored')).toBe(1000 - changes);
  });

  it('a flood of gratuitous ARP also changes the MAC at most once per locktime; a single one overrides at once', () => {
    const r = rig({ locktimeMs: 1000 });
    r.rx([req(PEER_IP)]);
    r.rx([replyFrom(PEER_IP, PEER_MAC)]); // REACHABLE, updated now
    // Failover: one gratuitous ARP right after an update takes effect (no MAC change within locktime).
    r.clock.now += 10;
    r.rx([arpFrame({ op: 1, sip: PEER_IP, tip: PEER_IP, sha: '02:00:00:00:00:77' })], { pkttype: PACKET_BROADCAST });
    expect(r.neigh.dump()[0].lladdr).toBe('02:00:00:00:00:77');
    const t0 = r.clock.now;
    let changes = 0;
    let last = r.neigh.dump()[0].lladdr;
    for (let k = 1; k <= 1000; k++) {
      r.clock.now = t0 + k * 5;
      r.rx([arpFrame({ op: 1, sip: PEER_IP, tip: PEER_IP, sha: macN(0x10000 + k) })], { pkttype: PACKET_BROADCAST });
      const now = r.neigh.dump()[0].lladdr;
      if (now !== last) changes++;
      last = now;
    }
    expect(changes).toBeGreaterThanOrEqual(4);
    expect(changes).toBeLessThanOrEqual(5);
  });

  it('STALE vs REACHABLE: a unicast reply confirms, a broadcast reply or request says STALE, the same MAC never downgrades', () => {
    const r = rig();
    r.rx([req(PEER_IP)]);
    r.xmit.take();
    r.rx([replyFrom(PEER_IP, PEER_MAC)]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('REACHABLE');
    r.rx([replyFrom(PEER_IP, PEER_MAC)], { pkttype: PACKET_BROADCAST });
    r.rx([req(PEER_IP)]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('REACHABLE');
    // A different MAC past locktime: taken, but only as STALE unless it is a unicast reply.
    r.clock.now += 1500;
    r.rx([req(PEER_IP, '02:00:00:00:00:55')]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('STALE');
    expect(r.neigh.dump()[0].lladdr).toBe('02:00:00:00:00:55');
  });
});

describe('hostile ARP and traffic: a bounded table that keeps live entries', () => {
  /** A live neighbour: resolved by a reply, then carrying traffic. */
  function live(r: Rig, ip: number, m: string): void {
    sendIp(r, ip);
    r.rx([replyFrom(ip, m)]);
    r.xmit.take();
    expect(r.neigh.stateOf(0, ip)).toBe('REACHABLE');
  }

  it('a flood of requests from every on-link sender fills the table but never evicts live or queued entries', () => {
    const r = rig({ capacity: 64 }, 1024); // gc_thresh2 32
    const gw = parseIPv4('10.0.0.254');
    live(r, PEER_IP, PEER_MAC);
    live(r, gw, '02:00:00:00:00:fe');
    sendIp(r, parseIPv4('10.0.0.200')); // INCOMPLETE with a queued packet
    // 30 s of flood, 50 requests every 100 ms from 10.0.0.2..253 with fresh MACs; the live
    // next hops keep carrying traffic, and get confirmed as a real host would.
    for (let t = 0; t < 300; t++) {
      r.clock.now += 100;
      const frames = [];
      for (let k = 0; k < 50; k++) frames.push(req(parseIPv4(`10.0.0.${3 + ((t * 50 + k) % 197)}`), macN(t * 50 + k)));
      r.rx(frames);
      sendIp(r, PEER_IP);
      sendIp(r, gw);
      if (t % 50 === 0) {
        r.rx([replyFrom(PEER_IP, PEER_MAC), replyFrom(gw, '02:00:00:00:00:fe')]);
        sendIp(r, parseIPv4('10.0.0.200'));
      }
      r.neigh.tick();
      expect(r.neigh.size).toBeLessThanOrEqual(64);
      for (const ip of [PEER_IP, gw]) expect(['REACHABLE', 'DELAY', 'PROBE', 'STALE']).toContain(r.neigh.stateOf(0, ip));
      const s = r.xmit.take();
      // Every packet to a live neighbour left, to its MAC.
      const toPeer = s.filter((x) => x.bytes[12] === 8 && x.bytes[13] === 0 && x.bytes[33] === 2);
      expect(toPeer.length).toBeGreaterThanOrEqual(1);
      expect([...toPeer[0].bytes.subarray(0, 6)]).toEqual([2, 0, 0, 0, 0, 0x99]);
    }
    expect(r.neigh.stats.get('forced_gc_runs')).toBeGreaterThan(0);
    expect(r.neigh.stats.get('table_fulls')).toBeGreaterThan(0);
    r.neigh.clear();
  });

  it('live entries outlast 5 s of a flood of new next hops (INCOMPLETE) on a full table', () => {
    const r = rig({ capacity: 32 }, 2048);
    live(r, PEER_IP, PEER_MAC);
    for (let t = 0; t < 100; t++) {
      r.clock.now += 100;
      for (let k = 0; k < 20; k++) sendIp(r, parseIPv4(`10.0.0.${10 + ((t * 20 + k) % 240)}`));
      sendIp(r, PEER_IP);
      r.neigh.tick();
      expect(r.neigh.stateOf(0, PEER_IP)).not.toBe('NONE');
      r.xmit.take();
    }
    r.neigh.clear();
  });

  it('pending frames of all unresolved entries together stay under unresQlenTotal', () => {
    const r = rig({ capacity: 1024 }, 4096);
    expect(r.neigh.unresQlenTotal).toBe(4096 / 8);
    for (let k = 0; k < 250; k++) sendIp(r, parseIPv4(`10.0.0.${2 + k}`), 3);
    expect(r.neigh.framesHeld()).toBeLessThanOrEqual(512 + 250); // queues + their ARP requests in flight
    let q = 0;
    for (const row of r.neigh.dump()) q += row.queued;
    expect(q).toBeLessThanOrEqual(512);
    expect(r.g.drops.get('neigh.unres_discards')).toBeGreaterThanOrEqual(750 - 512);
    r.xmit.take();
    r.neigh.clear();
    expect(r.pool.available).toBe(4096);
  });

  it('the periodic GC keeps tables below gc_thresh1 and collects unused STALE above it', () => {
    const r = rig({ gcThresh1: 4 });
    for (let k = 0; k < 3; k++) r.rx([req(parseIPv4(`10.0.0.${10 + k}`))]);
    r.clock.now += 120_000;
    r.neigh.tick();
    expect(r.neigh.size).toBe(3);
    for (let k = 3; k < 6; k++) r.rx([req(parseIPv4(`10.0.0.${10 + k}`))]);
    r.clock.now += 120_000;
    r.neigh.tick();
    expect(r.neigh.size).toBe(0);
    expect(r.neigh.stats.get('periodic_gc_runs')).toBe(1);
  });
});

void OUR_MAC;
