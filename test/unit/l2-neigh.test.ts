import { describe, expect, it } from 'vitest';
import { parseIPv4, parseMac } from '../../src/wire/addr.ts';
import { Originate } from '../../src/l2/originate.ts';
import { ARPOP_REQUEST } from '../../src/wire/arp.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, arpFrame, ipFrame, mac, replyFrom, rig, type Rig } from '../support/l2-graph.ts';

const out = { stage: 'neigh-output' };
const BCAST = [255, 255, 255, 255, 255, 255];
/** A unicast ARP request to us (it teaches the sender as STALE). */
const requestFrom = (sip: number, sha: string) => arpFrame({ op: ARPOP_REQUEST, ethDst: OUR_MAC, sha, sip, tha: OUR_MAC, tip: OUR_IP });

function send(r: Rig, dst: number, n = 1, o: { nh?: number; l3?: number; tagFrom?: number } = {}): void {
  const frames = [];
  for (let k = 0; k < n; k++) frames.push(ipFrame(dst, o.l3 ?? 14, 8, (o.tagFrom ?? 0) + k));
  r.rx(frames, { ...out, nh: o.nh ?? 0, l3: o.l3 ?? 14 });
}

/** Frames sent so far split into ARP requests and IPv4 packets. */
function split(r: Rig) {
  const all = r.xmit.take();
  return {
    arp: all.filter((s) => s.bytes[12] === 0x08 && s.bytes[13] === 0x06),
    ip: all.filter((s) => s.bytes[12] === 0x08 && s.bytes[13] === 0x00),
  };
}

describe('neighbour table and neigh-output', () => {
  it('a miss queues the packet and broadcasts one ARP request from our subnet address', () => {
    const r = rig();
    send(r, PEER_IP);
    const s = split(r);
    expect(s.ip).toHaveLength(0);
    expect(s.arp).toHaveLength(1);
    const expected = buildFrame({ dstMac: BCAST, srcMac: OUR_MAC, arp: { op: ARPOP_REQUEST, sha: OUR_MAC, spa: OUR_IP, tpa: PEER_IP } });
    expect([...s.arp[0].bytes]).toEqual([...expected]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('INCOMPLETE');
    expect(r.neigh.queued(0, PEER_IP)).toBe(1);
  });

  it('resolution sends the queued packets, oldest first, with the Ethernet header written', () => {
    const r = rig();
    const before = r.pool.available;
    send(r, PEER_IP, 2, { tagFrom: 1 });
    split(r);
    r.rx([replyFrom(PEER_IP, PEER_MAC)]);
    const s = split(r);
    expect(s.ip.map((p) => p.bytes[14 + 20])).toEqual([1, 2]);
    for (const p of s.ip) {
      expect([...p.bytes.subarray(0, 14)]).toEqual([...mac(PEER_MAC), ...mac(OUR_MAC), 0x08, 0x00]);
      expect(p.l3).toBe(14);
      expect(p.oif).toBe(0);
    }
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('REACHABLE');
    expect(r.neigh.framesHeld()).toBe(0);
    expect(r.pool.available).toBe(before);
  });

  it('a resolved next hop: header written in front of l3, frame start moved, b.nh used over the IP dst', () => {
    const r = rig();
    r.neigh.addPermanent(0, parseIPv4('10.0.0.254'), parseMac(PEER_MAC));
    // IP dst is far away; the next hop is the gateway. IP header at 18 (room left by a VLAN tag).
    send(r, parseIPv4('192.0.2.7'), 1, { nh: parseIPv4('10.0.0.254'), l3: 18 });
    const s = split(r);
    expect(s.arp).toHaveLength(0);
    expect(s.ip).toHaveLength(1);
    const p = s.ip[0];
    expect(p.l3).toBe(14);
    expect(p.bytes.length).toBe(14 + 20 + 8);
    expect([...p.bytes.subarray(0, 14)]).toEqual([...mac(PEER_MAC), ...mac(OUR_MAC), 0x08, 0x00]);
    expect(p.bytes[14]).toBe(0x45);
    expect(r.neigh.format()).toBe(`10.0.0.254 dev p0 lladdr ${PEER_MAC} PERMANENT`);
  });

  it('broadcast and multicast next hops need no ARP', () => {
    const r = rig();
    send(r, 0xffffffff);
    send(r, parseIPv4('10.0.0.255'));
    send(r, parseIPv4('224.1.2.3'));
    const s = split(r);
    expect(s.arp).toHaveLength(0);
    expect(s.ip.map((p) => [...p.bytes.subarray(0, 6)])).toEqual([BCAST, BCAST, [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]]);
  });

  it('the pending queue is bounded: overflow drops the oldest, counted unres_discards', () => {
    const r = rig();
    send(r, PEER_IP, 5, { tagFrom: 1 });
    expect(r.neigh.queued(0, PEER_IP)).toBe(3);
    expect(r.g.drops.get('neigh.unres_discards')).toBe(2);
    split(r);
    r.rx([replyFrom(PEER_IP, PEER_MAC)]);
    expect(split(r).ip.map((p) => p.bytes[34])).toEqual([3, 4, 5]);
  });

  it('requests are rate-limited to one per retrans_time per entry; FAILED after 3, queue dropped and reported', () => {
    const failed: Array<[number, number, number]> = [];
    const r = rig({
      onResolutionFailed: (dev, ip, u8, addr, len) => failed.push([dev, ip, u8[addr + 14] === 0x45 ? len : -1]),
    });
    const before = r.pool.available;
    send(r, PEER_IP);
    expect(split(r).arp).toHaveLength(1);
    for (let k = 0; k < 10; k++) {
      r.clock.now += 50;
      send(r, PEER_IP);
      r.neigh.tick();
    }
    // 500 ms later: still one request.
    expect(split(r).arp).toHaveLength(0);
    r.clock.now += 500;
    r.neigh.tick();
    expect(split(r).arp).toHaveLength(1);
    r.clock.now += 1000;
    r.neigh.tick();
    expect(split(r).arp).toHaveLength(1);
    r.clock.now += 1000;
    r.neigh.tick();
    expect(split(r).arp).toHaveLength(0);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('FAILED');
    expect(r.g.drops.get('neigh.resolution_failed')).toBe(3);
    expect(failed).toEqual([[0, PEER_IP, 42], [0, PEER_IP, 42], [0, PEER_IP, 42]]);
    expect(r.neigh.stats.get('res_failed')).toBe(1);
    // New traffic restarts resolution at once.
    send(r, PEER_IP);
    expect(split(r).arp).toHaveLength(1);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('INCOMPLETE');
    r.neigh.clear();
    expect(r.pool.available).toBe(before);
  });

  it('REACHABLE ages to STALE; use moves STALE to DELAY, then PROBE by unicast, a reply confirms', () => {
    const r = rig(); // random() = 0.5: reachable time = base exactly (30 s)
    send(r, PEER_IP);
    r.rx([replyFrom(PEER_IP, PEER_MAC)]);
    split(r);
    r.clock.now += 29_000;
    r.neigh.tick();
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('REACHABLE');
    r.clock.now += 6_000; // unused for > delay_first_probe_time
    r.neigh.tick();
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('STALE');
    send(r, PEER_IP); // STALE is still usable
    expect(split(r).ip).toHaveLength(1);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('DELAY');
    r.clock.now += 5_000;
    r.neigh.tick();
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('PROBE');
    const probe = split(r).arp;
    expect(probe).toHaveLength(1);
    expect([...probe[0].bytes.subarray(0, 6)]).toEqual(mac(PEER_MAC)); // unicast probe
    send(r, PEER_IP); // PROBE still sends with the cached MAC
    expect(split(r).ip).toHaveLength(1);
    r.rx([replyFrom(PEER_IP, PEER_MAC)]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('REACHABLE');
  });

  it('PROBE without answers fails after ucast_solicit probes; unused STALE is collected', () => {
    // gc_thresh1 0: the periodic GC runs however small the table is.
    const r = rig({ gcThresh1: 0 });
    send(r, PEER_IP);
    r.rx([replyFrom(PEER_IP, PEER_MAC)]);
    r.clock.now += 28_000;
    send(r, PEER_IP);
    r.clock.now += 3_000;
    r.neigh.tick(); // used within delay_first_probe_time: DELAY
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('DELAY');
    r.clock.now += 5_000;
    r.neigh.tick();
    for (let k = 0; k < 3; k++) {
      r.clock.now += 1_000;
      r.neigh.tick();
    }
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('FAILED');
    expect(split(r).arp).toHaveLength(3 + 1); // the first broadcast + 3 unicast probes
    r.clock.now += 60_000;
    r.neigh.tick();
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('NONE');
    // STALE learned from a request, never used: removed after gc_stale_time.
    r.rx([requestFrom(PEER_IP, PEER_MAC)]);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('STALE');
    r.clock.now += 59_000;
    r.neigh.tick();
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('STALE');
    r.clock.now += 2_000;
    r.neigh.tick();
    expect(r.neigh.size).toBe(0);
  });

  it('a full table collects old STALE/FAILED entries down to gc_thresh2, and otherwise refuses (table_fulls), never growing', () => {
    const r = rig({ capacity: 8 }); // gc_thresh2 = 4
    const before = r.pool.available;
    // 8 STALE entries learned from requests.
    for (let k = 0; k < 8; k++) r.rx([requestFrom(parseIPv4(`10.0.0.${10 + k}`), PEER_MAC)]);
    split(r);
    expect(r.neigh.size).toBe(8);
    // Updated less than 5 s ago: not collectable (the kernel's rule), the new entry is refused.
    send(r, PEER_IP);
    expect(r.neigh.stats.get('forced_gc_runs')).toBe(1);
    expect(r.g.drops.get('neigh.table_fulls')).toBe(1);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('NONE');
    // 5 s later (and past the 100 ms back-off): forced GC frees down to gc_thresh2.
    r.clock.now += 5001;
    send(r, PEER_IP);
    expect(r.neigh.stateOf(0, PEER_IP)).toBe('INCOMPLETE');
    expect(r.neigh.size).toBe(5);
    // Fill it up with INCOMPLETE entries; then the remaining old STALE ones go, never INCOMPLETE.
    for (let k = 0; k < 7; k++) send(r, parseIPv4(`10.0.0.${100 + k}`));
    expect(r.neigh.size).toBe(8);
    expect(r.neigh.dump().filter((x) => x.state === 'INCOMPLETE')).toHaveLength(8);
    r.clock.now += 200;
    send(r, parseIPv4('10.0.0.200'), 3);
    expect(r.g.drops.get('neigh.table_fulls')).toBe(1 + 3);
    expect(r.neigh.size).toBe(8);
    // After they fail, the space is reused.
    for (let k = 0; k < 3; k++) {
      r.clock.now += 1000;
      r.neigh.tick();
    }
    send(r, parseIPv4('10.0.0.200'));
    expect(r.neigh.stateOf(0, parseIPv4('10.0.0.200'))).toBe('INCOMPLETE');
    split(r);
    r.neigh.clear();
    expect(r.pool.available).toBe(before);
  });

  it('hash index agrees with a Map under random inserts and deletes', () => {
    const r = rig({ capacity: 64 });
    const ref = new Map<string, number>();
    let seed = 7;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    for (let k = 0; k < 5000; k++) {
      const ip = (0x0a000000 + rnd(200)) >>> 0;
      const dev = 0;
      const key = `${dev}/${ip}`;
      if (rnd(3) === 0) {
        expect(r.neigh.delete(dev, ip)).toBe(ref.has(key));
        ref.delete(key);
      } else if (ref.size < 64 || ref.has(key)) {
        r.neigh.addPermanent(dev, ip, parseMac(PEER_MAC));
        ref.set(key, ip);
      }
      if (k % 97 === 0) {
        for (let q = 0; q < 200; q++) {
          const ip2 = (0x0a000000 + q) >>> 0;
          expect(r.neigh.lookup(0, ip2) >= 0).toBe(ref.has(`0/${ip2}`));
        }
      }
    }
    expect(r.neigh.size).toBe(ref.size);
  });

  it('bad offsets and unknown devices are dropped, not thrown', () => {
    const r = rig();
    r.rx([ipFrame(PEER_IP).subarray(0, 30)], out);
    r.rx([ipFrame(PEER_IP)], { ...out, oif: 9 });
    r.rx([ipFrame(PEER_IP)], { ...out, l3: 4 });
    expect(r.g.drops.get('neigh.bad_offset')).toBe(2);
    expect(r.g.drops.get('neigh.no_device')).toBe(1);
  });

  it('a throwing hook is counted and does not break the timer; delete/flush free queued frames', () => {
    const r = rig({
      onResolutionFailed: () => {
        throw new Error('boom');
      },
    });
    const before = r.pool.available;
    send(r, PEER_IP, 2);
    for (let k = 0; k < 3; k++) {
      r.clock.now += 1000;
      expect(() => r.neigh.tick()).not.toThrow();
    }
    expect(r.neigh.stats.get('hook_errors')).toBe(2);
    expect(r.g.drops.get('neigh.resolution_failed')).toBe(2);
    send(r, parseIPv4('10.0.0.3'), 2);
    send(r, parseIPv4('10.0.0.4'), 1);
    expect(r.neigh.delete(0, parseIPv4('10.0.0.3'))).toBe(true);
    expect(r.neigh.flush(0)).toBe(2); // 10.0.0.4 and the FAILED 10.0.0.2
    expect(r.g.drops.get('neigh.unres_discards')).toBe(3);
    r.xmit.take();
    expect(r.neigh.framesHeld()).toBe(0);
    expect(r.pool.available).toBe(before);
  });

  it('random traffic, replies, time and flushes: frames always accounted for, table bounded', () => {
    const r = rig({ capacity: 16, queueLen: 2 }, 1024);
    const before = r.pool.available;
    let seed = 99;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const ipOf = (k: number) => (0x0a000002 + k) >>> 0;
    for (let step = 0; step < 20_000; step++) {
      const op = rnd(10);
      if (op < 5) send(r, ipOf(rnd(40)), 1 + rnd(3));
      else if (op < 7) r.rx([replyFrom(ipOf(rnd(40)), `02:00:00:00:01:${(10 + rnd(80)).toString(16)}`)], { pkttype: rnd(2) });
      else if (op < 8) r.rx([requestFrom(ipOf(rnd(40)), PEER_MAC)]);
      else if (op < 9) {
        r.clock.now += rnd(3000);
        r.neigh.tick();
      } else if (rnd(20) === 0) r.neigh.flush();
      r.xmit.take();
      expect(r.neigh.size).toBeLessThanOrEqual(16);
      expect(r.pool.available + r.neigh.framesHeld()).toBe(before);
    }
    r.neigh.clear();
    expect(r.pool.available).toBe(before);
  });

  it('the originate ring is bounded (overflow freed and counted) and drains in graph-sized batches', () => {
    const r = rig();
    const before = r.pool.available;
    const o = new Originate(r.g, 'dev-xmit', 100);
    for (let k = 0; k < 101; k++) {
      const a = r.pool.alloc();
      r.pool.umem.u8.set(ipFrame(PEER_IP), a);
      o.push(a, 42, 0);
    }
    expect(o.pending).toBe(100);
    expect(r.g.drops.get('softnet.originate_full')).toBe(1);
    o.drain(); // 100 frames through a graph of capacity 64: two dispatches
    expect(r.xmit.take()).toHaveLength(100);
    expect(r.g.calls[r.g.id('dev-xmit')]).toBe(2);
    expect(r.pool.available).toBe(before);
  });
});
