// Never-completed fragments must not deny reassembly to everyone else. With the
// queues (ipfrag_max_queues 64) or the memory (ipfrag_high_thresh 256 KiB = 128 frames) full of
// junk, a datagram whose fragments arrive together still completes: the oldest queues make way.
import { describe, expect, it } from 'vitest';
import { icmpMsg, ipFrame, lab, parseIp } from '../support/ipv4-graph.ts';
import { pattern } from '../support/rng.ts';

/** The two fragments of an ICMP echo request to 10.1.0.1. */
function echo(id: number, src = '10.1.0.2') {
  const msg = icmpMsg(8, 0, 0x00420001, pattern(1000, id));
  return [0, 1].map((k) => ipFrame({ src, dst: '10.1.0.1', proto: 1, id, fragOff: k * 504, mf: k === 0, payload: msg.subarray(k * 504, k === 0 ? 504 : msg.length) }));
}

/** A first fragment whose datagram never completes, from a spoofed source. */
function junk(n: number, size = 8) {
  return ipFrame({ src: `10.9.${(n >> 8) & 255}.${n & 255}`, dst: '10.1.0.1', proto: 17, id: n & 0xffff, fragOff: 0, mf: true, payload: new Uint8Array(size) });
}

describe('ip-defrag under a flood of never-completed fragments', () => {
  it('every queue taken by junk: a new datagram still reassembles (the oldest queue is evicted)', () => {
    const L = lab();
    for (let n = 0; n < 64; n++) L.rx(junk(n + 1));
    expect(L.ipv4.defrag.queueCount).toBe(64);
    L.rxMany(echo(7));
    const out = L.take();
    expect(out).toHaveLength(1);
    expect(parseIp(out[0].bytes).payload[0]).toBe(0); // echo reply
    expect(L.ipMib('ReasmOKs')).toBe(1);
    expect(L.ipv4.defrag.queueCount).toBe(63);
    L.ipv4.close();
    expect(L.leaked()).toBe(0);
  });

  it('memory taken by junk: a new datagram still reassembles, memory stays bounded', () => {
    const L = lab({ sysctl: { ipfrag_high_thresh: 16 * 2048 } });
    for (let n = 0; n < 16; n++) {
      // Several fragments per junk queue, so memory fills before the queue slots do.
      for (let k = 0; k < 4; k++) L.rx(ipFrame({ src: '10.9.0.9', dst: '10.1.0.1', proto: 17, id: n, fragOff: 8 + k * 16, mf: true, payload: new Uint8Array(8) }));
    }
    expect(L.ipv4.defrag.mem).toBe(16 * 2048);
    L.rxMany(echo(8));
    expect(L.take()).toHaveLength(1);
    expect(L.ipv4.defrag.mem).toBeLessThanOrEqual(16 * 2048);
    L.ipv4.close();
    expect(L.leaked()).toBe(0);
  });

  it('a sustained flood: datagrams interleaved with junk keep completing', () => {
    const L = lab();
    let ok = 0;
    for (let round = 0; round < 200; round++) {
      for (let n = 0; n < 40; n++) L.rx(junk(round * 40 + n + 1));
      L.rxMany(echo(0x8000 + round));
      ok += L.take().length;
    }
    expect(ok).toBe(200);
    expect(L.ipv4.defrag.queueCount).toBeLessThanOrEqual(64);
    L.ipv4.close();
    expect(L.leaked()).toBe(0);
  });
});
