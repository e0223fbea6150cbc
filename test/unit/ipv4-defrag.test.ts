import { describe, expect, it } from 'vitest';
import { ETH_P_IP } from '../../src/wire/ethernet.ts';
import { buildFrame } from '../../src/wire/frame.ts';
import { csumOk, icmpMsg, ip, ipFrame, lab, parseIp, type IpSpec } from '../support/ipv4-graph.ts';
import { pattern } from '../support/rng.ts';

/**
 * Fragments of one ICMP echo request to 10.1.0.1: reassembly succeeds iff exactly one echo reply
 * comes out, carrying the original data.
 */
function echoFragments(size: number, cuts: number[], spec: IpSpec = {}) {
  const data = pattern(size, size);
  const msg = icmpMsg(8, 0, 0x00420001, data);
  const frags: Uint8Array[] = [];
  const bounds = [0, ...cuts, msg.length];
  for (let k = 0; k + 1 < bounds.length; k++) {
    frags.push(
      ipFrame({ src: '10.1.0.2', dst: '10.1.0.1', proto: 1, id: 99, ...spec, fragOff: bounds[k], mf: k + 2 < bounds.length, payload: msg.subarray(bounds[k], bounds[k + 1]) }),
    );
  }
  return { data, frags };
}

function replyData(bytes: Uint8Array): number[] {
  const p = parseIp(bytes);
  expect(p.hdrOk).toBe(true);
  expect(p.payload[0]).toBe(0);
  expect(csumOk(p.payload)).toBe(true);
  return Array.from(p.payload.subarray(8));
}

describe('ip-defrag (local delivery)', () => {
  it('in order: three fragments -> one datagram, ReasmReqds/ReasmOKs', () => {
    const L = lab();
    const { data, frags } = echoFragments(1000, [400, 800]);
    L.rxMany(frags);
    const out = L.take();
    expect(out).toHaveLength(1);
    expect(replyData(out[0].bytes)).toEqual(Array.from(data));
    expect(L.ipMib('ReasmReqds')).toBe(3);
    expect(L.ipMib('ReasmOKs')).toBe(1);
    expect(L.ipv4.defrag.queueCount).toBe(0);
    expect(L.leaked()).toBe(0);
    expect(L.ipv4.held()).toBe(0);
  });

  it('out of order, one fragment per dispatch', () => {
    const L = lab();
    const { data, frags } = echoFragments(1200, [8, 400, 808, 1000]);
    for (const k of [3, 0, 4, 2, 1]) {
      L.rx(frags[k]);
      if (k !== 1) expect(L.take()).toHaveLength(0);
    }
    const out = L.take();
    expect(out).toHaveLength(1);
    expect(replyData(out[0].bytes)).toEqual(Array.from(data));
    expect(L.leaked()).toBe(0);
  });

  it('exact duplicates are dropped and the queue kept (Linux: IPFRAG_DUP)', () => {
    const L = lab();
    const { data, frags } = echoFragments(600, [200, 400]);
    L.rxMany([frags[0], frags[0], frags[1], frags[1], frags[2]]);
    const out = L.take();
    expect(out).toHaveLength(1);
    expect(replyData(out[0].bytes)).toEqual(Array.from(data));
    expect(L.drops('ip.frag_dup')).toBe(2);
    expect(L.ipMib('ReasmFails')).toBe(0);
    expect(L.leaked()).toBe(0);
  });

  it('a fragment contained in a run of adjacent fragments is a duplicate too', () => {
    const L = lab();
    const { frags } = echoFragments(600, [200, 400]);
    const { frags: mid } = echoFragments(600, [192, 208]); // [192, 208) lies inside [0, 400)
    L.rxMany([frags[0], frags[1], mid[1], frags[2]]);
    expect(L.take()).toHaveLength(1);
    expect(L.drops('ip.frag_dup')).toBe(1);
  });

  it('a partial overlap kills the whole queue (ReasmOverlaps, ReasmFails)', () => {
    const L = lab();
    const { frags } = echoFragments(600, [200, 400]);
    const { frags: other } = echoFragments(600, [296]); // first fragment [0, 296) overlaps [200, 400)
    L.rxMany([frags[1], other[0]]);
    expect(L.ipMib('ReasmOverlaps')).toBe(1);
    expect(L.ipMib('ReasmFails')).toBe(1);
    expect(L.ipv4.defrag.queueCount).toBe(0);
    // The rest arrives into a fresh queue that never completes.
    L.rxMany([frags[0], frags[2]]);
    expect(L.take()).toHaveLength(0);
    expect(L.leaked()).toBe(0);
  });

  it('inconsistent last fragments and data past the end kill the queue', () => {
    const L = lab();
    const { frags } = echoFragments(600, [200, 400]);
    const { frags: longer } = echoFragments(900, [200, 400, 800]);
    L.rxMany([frags[2], longer[3]]); // a second "last" fragment ending elsewhere
    expect(L.ipMib('ReasmFails')).toBe(1);
    L.rxMany([frags[2], longer[2]]); // MF data past the known end
    expect(L.ipMib('ReasmFails')).toBe(2);
    expect(L.ipv4.defrag.queueCount).toBe(0);
    expect(L.leaked()).toBe(0);
  });

  it('a queue that does not complete within ipfrag_time expires (ReasmTimeout, ReasmFails) and frees its frames', () => {
    const L = lab();
    const { frags } = echoFragments(600, [200, 400]);
    L.rxMany([frags[0], frags[1]]);
    expect(L.ipv4.held()).toBe(2);
    L.clock.t += 29_999;
    L.ipv4.expire();
    expect(L.ipv4.held()).toBe(2);
    L.clock.t += 2;
    L.ipv4.expire();
    expect(L.ipMib('ReasmTimeout')).toBe(1);
    expect(L.ipMib('ReasmFails')).toBe(1);
    expect(L.ipv4.held()).toBe(0);
    // The first fragment had arrived: ICMP time exceeded, fragment reassembly (11/1), quoting it.
    const [err] = L.take();
    const e = parseIp(err.bytes);
    expect(e.src).toBe(ip('10.1.0.1'));
    expect(e.dst).toBe(ip('10.1.0.2'));
    expect([e.payload[0], e.payload[1]]).toEqual([11, 1]);
    expect(csumOk(e.payload)).toBe(true);
    expect(parseIp(e.payload.subarray(8)).id).toBe(99);
    L.rx(frags[2]); // the late last fragment starts a new queue
    expect(L.take()).toHaveLength(0);
    expect(L.ipv4.defrag.queueCount).toBe(1);
    // Expiry is also noticed on the next fragment of any queue.
    L.clock.t += 31_000;
    L.rx(echoFragments(100, [48], { id: 5 }).frags[0]);
    expect(L.ipMib('ReasmTimeout')).toBe(2);
    expect(L.take()).toHaveLength(0); // that queue never had its first fragment: no ICMP
    // Expiry noticed during a dispatch, first fragment held: the error leaves in the same dispatch.
    L.clock.t += 31_000;
    L.rx(echoFragments(100, [48], { id: 6 }).frags[0]);
    const out = L.take();
    expect(out).toHaveLength(1);
    expect(parseIp(out[0].bytes).payload[0]).toBe(11);
    expect(L.leaked()).toBe(0);
  });

  it('memory is bounded: over ipfrag_high_thresh new fragments are refused', () => {
    const L = lab({ sysctl: { ipfrag_high_thresh: 8 * 2048 } });
    for (let id = 0; id < 20; id++) L.rx(echoFragments(600, [200], { id }).frags[0]);
    expect(L.ipv4.held()).toBe(8);
    expect(L.ipv4.defrag.mem).toBe(8 * 2048);
    expect(L.ipMib('ReasmFails')).toBe(12);
    expect(L.leaked()).toBe(0);
  });

  it('the number of queues is bounded (ipfrag_max_queues)', () => {
    const L = lab({ sysctl: { ipfrag_max_queues: 4 } });
    for (let id = 0; id < 10; id++) L.rx(echoFragments(600, [200], { id }).frags[0]);
    expect(L.ipv4.defrag.queueCount).toBe(4);
    expect(L.ipMib('ReasmFails')).toBe(6);
    L.ipv4.close();
    expect(L.ipv4.held()).toBe(0);
    expect(L.leaked()).toBe(0);
  });

  it('a datagram too big for one frame fails (oversize) without holding frames', () => {
    const L = lab();
    const { frags } = echoFragments(3000, [1400, 2800]);
    L.rxMany(frags);
    expect(L.take()).toHaveLength(0);
    expect(L.ipMib('ReasmFails')).toBeGreaterThanOrEqual(1);
    expect(L.ipMib('ReasmOKs')).toBe(0);
    L.ipv4.close();
    expect(L.leaked()).toBe(0);
  });

  it('an empty or zero-length fragment kills the queue', () => {
    const L = lab();
    L.rx(ipFrame({ dst: '10.1.0.1', proto: 1, mf: true, fragOff: 0, payload: new Uint8Array(4) })); // MF, 4 bytes -> trimmed to 0
    expect(L.ipMib('ReasmFails')).toBe(1);
    expect(L.ipv4.defrag.queueCount).toBe(0);
    expect(L.leaked()).toBe(0);
  });

  it('fragments of forwarded packets are forwarded as they are (not reassembled)', () => {
    const L = lab();
    const f = ipFrame({ src: '10.1.0.2', dst: '10.2.0.9', mf: true, payload: pattern(64) });
    L.rx(f);
    const out = L.take();
    expect(out).toHaveLength(1);
    expect(parseIp(out[0].bytes).mf).toBe(true);
    expect(L.ipMib('ReasmReqds')).toBe(0);
  });

  it('our own fragmentation output reassembles (forward through a small MTU, deliver locally)', () => {
    const A = lab({ mtu1: 576 });
    const payload = icmpMsg(8, 0, 1, pattern(1300));
    A.rx(ipFrame({ src: '10.1.0.2', dst: '10.2.0.7', proto: 1, id: 7, payload }));
    const frags = A.take();
    expect(frags.length).toBe(3);
    // Deliver them to a second stack that owns 10.2.0.7's address.
    const B = lab();
    B.ipv4.addAddress(1, ip('10.2.0.7'), 24);
    const eth = (d: Uint8Array) => buildFrame({ type: ETH_P_IP, payload: d });
    B.rxMany(frags.reverse().map((s) => eth(s.bytes)), 1);
    const out = B.take();
    expect(out).toHaveLength(1);
    expect(replyData(out[0].bytes)).toEqual(Array.from(pattern(1300)));
  });

  it('a flood of random fragments (valid headers, garbage offsets/lengths/ids) never throws or leaks', () => {
    const L = lab({ frames: 2048 });
    let x = 99;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
    for (let round = 0; round < 200; round++) {
      const frames: Uint8Array[] = [];
      for (let k = 0; k < 64; k++) {
        frames.push(
          ipFrame({ src: (ip('10.1.0.2') + (rnd() & 3)) >>> 0, dst: '10.1.0.1', proto: [1, 17, 99][rnd() % 3], id: rnd() & 7, mf: (rnd() & 3) !== 0, fragOff: (rnd() % 200) * 8, payload: pattern(rnd() % 300, k) }),
        );
      }
      L.rxMany(frames);
      L.take();
      if (round % 50 === 49) L.clock.t += 31_000;
      expect(L.leaked()).toBe(0);
    }
    expect(L.ipMib('ReasmReqds')).toBeGreaterThan(200 * 60); // a few were not fragments (MF clear, offset 0)
    L.ipv4.close();
    expect(L.leaked()).toBe(0);
  });
});
