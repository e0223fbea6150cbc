// Shared UMEM: two ports on two devices, one UMEM and one pool. Frames received on port A are
// transmitted on port B by descriptor (no copy) and counted by the kernel behind B.
import { afterAll, expect, it } from 'vitest';
import { FramePool, native, nativeUmem, openPort } from '../../src/driver/index.ts';
import type { XskPort } from '../../src/driver/xsk.ts';
import { udpBlast } from '../support/kernel-peer.ts';
import { Lab, hasXdp, ifStat } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const lab = new Lab();
afterAll(() => expect(lab.cleanup()).toEqual([]));

it('forwards frames received on one device out of another by descriptor', async () => {
  const nsA = lab.netns('shared-a');
  const nsB = lab.netns('shared-b');
  lab.veth('snshared-a', 'snshared-ap', nsA, '10.213.0.1', '10.213.0.2');
  lab.veth('snshared-b', 'snshared-bp', nsB, '10.214.0.1', '10.214.0.2');
  const umem = nativeUmem();
  const pool = new FramePool(umem);
  const a = openPort({ dev: 'snshared-a', mode: 'xdp-drv', umem, pool }).port as XskPort;
  const b = openPort({ dev: 'snshared-b', mode: 'xdp-drv', umem, pool }).port as XskPort;
  try {
    expect(a.shared).toBe(false);
    expect(b.shared).toBe(true);
    const COUNT = 20_000;
    const before = ifStat(nsB, 'snshared-bp', 'rx_packets');
    let fwd = 0;
    let first = -1;
    const poll = () => {
      let n: number;
      while ((n = a.rx(a.batchSize)) > 0) {
        // Move descriptors: A's RX array -> B's TX array. The bytes stay where they were.
        for (let j = 0; j < n; j++) {
          b.txAddr[j] = a.rxAddr[j];
          b.txLen[j] = a.rxLen[j];
        }
        if (first < 0) first = a.rxAddr[0];
        const k = b.tx(n);
        for (let j = k; j < n; j++) pool.free(a.rxAddr[j]);
        fwd += k;
      }
      b.reap();
      a.armIrq(poll);
    };
    a.armIrq(poll);
    await udpBlast(nsA, '10.213.0.1', 7777, COUNT);
    // Frames the kernel dropped before A's socket saw them (a loaded machine: counted loss).
    const lostA = () => {
      const s = a.stats();
      return (s.rx_dropped ?? 0) + (s.rx_ring_full ?? 0);
    };
    await waitFor(`B's peer to receive ${COUNT} frames`, () => ifStat(nsB, 'snshared-bp', 'rx_packets') - before + lostA() >= COUNT, { everyMs: 50 }).catch(() => undefined);
    a.disarmIrq();
    const got = ifStat(nsB, 'snshared-bp', 'rx_packets') - before;
    const detail = JSON.stringify({ got, fwd, a: a.stats(), b: b.stats() });
    expect(fwd + lostA(), detail).toBeGreaterThanOrEqual(COUNT);
    expect(got + lostA(), detail).toBeGreaterThanOrEqual(COUNT);
    expect(got, detail).toBeGreaterThan(COUNT / 2);
    expect(first).toBeGreaterThanOrEqual(0);
    b.reap();
    expect(pool.available + a.inFlight() + b.inFlight()).toBe(pool.total);
  } finally {
    b.close();
    a.close();
  }
  expect(pool.available).toBe(pool.total);
  expect(hasXdp('snshared-a') || hasXdp('snshared-b')).toBe(false);
  expect(native().xdpAttached()).toEqual([]);
});
