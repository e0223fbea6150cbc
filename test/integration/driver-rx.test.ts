// ≥ 100k UDP frames sent by a namespace's kernel through an ordinary socket, all received by an
// XskPort (xdp-drv, xdp-skb) or a TapPort (the TAP moved into the namespace).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildUdpFrame, native, openPort, type Port } from '../../src/driver/index.ts';
import { udpBlast } from '../support/kernel-peer.ts';
import { Lab, hasXdp, ifStat, ip } from '../support/netns.ts';

const COUNT = 100_000;
const DPORT = 9999;
const lab = new Lab();
let ns = '';
let open: Port | null = null;

/** Frames the kernel counted as lost before the socket saw them (fill ring empty, RX ring full). */
const lostIn = (port: Port): number => {
  const s = port.stats();
  return (s.rx_dropped ?? 0) + (s.rx_ring_full ?? 0);
};

/**
 * Receive on `port` until `count` frames of the flow arrived or were counted lost by the kernel
 * (on a loaded machine the receiver can fall behind: a real loss, counted, not a test failure),
 * or `ms` passed, freeing each frame.
 */
async function receiveFlow(port: Port, send: () => Promise<void>, count: number, lost = () => lostIn(port), ms = 30_000) {
  let flow = 0;
  let other = 0;
  const dv = port.umem.dv;
  const drain = () => {
    let n: number;
    while ((n = port.rx(port.batchSize)) > 0) {
      for (let j = 0; j < n; j++) {
        const a = port.rxAddr[j];
        // IPv4, UDP, our destination port; the peer's own ARP/ND frames are not counted.
        if (port.rxLen[j] >= 42 && dv.getUint16(a + 12) === 0x0800 && port.umem.u8[a + 23] === 17 && dv.getUint16(a + 36) === DPORT) flow++;
        else other++;
        port.pool.free(a);
      }
    }
    port.armIrq(drain);
  };
  port.armIrq(drain);
  await send();
  const t0 = Date.now();
  while (flow + lost() < count && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 20));
  port.disarmIrq();
  return { flow, other };
}

/** `flow` of `sent` arrived, none twice, the rest counted lost by the kernel, most arrived. */
function expectFlow(flow: number, port: Port, sent: number): void {
  const s = JSON.stringify(port.stats());
  expect(flow, s).toBeLessThanOrEqual(sent);
  expect(flow + lostIn(port), s).toBeGreaterThanOrEqual(sent);
  expect(flow, s).toBeGreaterThan(sent / 2);
}

beforeAll(() => {
  ns = lab.netns('rx');
  lab.veth('snrx-a', 'snrx-b', ns, '10.211.0.1', '10.211.0.2');
});

afterEach(() => {
  if (open !== null) {
    const pool = open.pool;
    open.close();
    expect(pool.available).toBe(pool.total);
    open = null;
  }
  expect(hasXdp('snrx-a')).toBe(false);
  expect(native().xdpAttached()).toEqual([]);
});

afterAll(() => expect(lab.cleanup()).toEqual([]));

describe('driver: receive 100k frames from a kernel peer', () => {
  for (const mode of ['xdp-drv', 'xdp-skb'] as const) {
    it(`${mode}`, async () => {
      const { port, report } = openPort({ dev: 'snrx-a', mode });
      open = port;
      expect(report).toEqual([`${mode}: ok (copy)`]);
      expect(hasXdp('snrx-a')).toBe(true);
      // Accounting while open: free + held by the port == total (the app holds none now).
      expect(port.pool.available + port.inFlight()).toBe(port.pool.total);
      const r = await receiveFlow(port, () => udpBlast(ns, '10.211.0.1', DPORT, COUNT), COUNT);
      const s = port.stats();
      // Every frame sent arrived or was counted lost by the kernel; most arrived. The kernel's
      // loss counters also count the peer's own ARP/ND frames, so the sum can pass COUNT.
      expectFlow(r.flow, port, COUNT);
      expect(s.rx_packets).toBe(r.flow + r.other);
      expect(port.pool.available + port.inFlight()).toBe(port.pool.total);
    });
  }

  it('tap (TAP moved into the namespace)', async () => {
    const tns = lab.netns('rx-tap');
    const { port, report } = openPort({ dev: 'snrx-tap', mode: 'tap' });
    open = port;
    lab.track('snrx-tap');
    expect(report).toEqual(['tap: ok']);
    ip('link', 'set', 'snrx-tap', 'netns', tns);
    ip('-n', tns, 'addr', 'add', '10.212.0.2/24', 'dev', 'snrx-tap');
    ip('-n', tns, 'link', 'set', 'snrx-tap', 'up');
    ip('-n', tns, 'neigh', 'replace', '10.212.0.1', 'lladdr', '02:00:00:00:21:01', 'dev', 'snrx-tap', 'nud', 'permanent');
    // A TAP whose reader falls behind drops at its queue, counted as the TAP's tx_dropped.
    const tapDropped = () => ifStat(tns, 'snrx-tap', 'tx_dropped');
    const r = await receiveFlow(port, () => udpBlast(tns, '10.212.0.1', DPORT, COUNT), COUNT, tapDropped);
    expect(r.flow, JSON.stringify(port.stats())).toBeLessThanOrEqual(COUNT);
    expect(r.flow + tapDropped(), JSON.stringify(port.stats())).toBeGreaterThanOrEqual(COUNT);
    expect(r.flow, JSON.stringify(port.stats())).toBeGreaterThan(COUNT / 2);
    expect(port.pool.available + port.inFlight()).toBe(port.pool.total);
    // And the other way: batches written into the TAP reach the namespace's kernel.
    const before = ifStat(tns, 'snrx-tap', 'rx_packets');
    const f = buildUdpFrame({ srcMac: '02:00:00:00:21:01', dstMac: port.mac, srcIp: '10.212.0.1', dstIp: '10.212.0.2', sport: 9, dport: 9, size: 60 });
    for (let i = 0; i < 10; i++) {
      const k = port.pool.allocMany(port.txAddr, 100);
      for (let j = 0; j < k; j++) {
        port.umem.u8.set(f, port.txAddr[j]);
        port.txLen[j] = f.length;
      }
      expect(port.tx(k)).toBe(k);
    }
    expect(port.pool.available + port.inFlight()).toBe(port.pool.total); // written frames are back
    expect(ifStat(tns, 'snrx-tap', 'rx_packets') - before).toBe(1000);
  });

  it('xdp-drv with busy polling', async () => {
    const { port, report } = openPort({ dev: 'snrx-a', mode: 'xdp-drv', busyPoll: true });
    open = port;
    // Busy-poll socket options are set where the kernel has them; what is missing is reported.
    expect(report[0]).toMatch(/^xdp-drv: ok \(copy\)/);
    const r = await receiveFlow(port, () => udpBlast(ns, '10.211.0.1', DPORT, 20_000), 20_000);
    expectFlow(r.flow, port, 20_000);
  });
});
